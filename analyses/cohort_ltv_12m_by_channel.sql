-- Cohort LTV at 12 months by acquisition channel: for every cohort whose customers are all 12 months old, the gross
-- margin its customers earned in their first 12 months, per customer (fct_channel_economics.margin_per_customer_12m),
-- next to the channel's realised LTV at 12 months over all its mature cohorts (fct_ltv_by_segment,
-- realised_ltv_12m for net revenue and realised_margin_ltv_12m for margin, with mature_buyers_12m: the finished
-- channel values, nothing re-averaged here). Cumulative revenue per customer by cohort month and age is in
-- fct_cohort_retention_by_channel; the pooled channel curves in fct_cohort_curves.
with

channel_economics as (

    select * from {{ ref('fct_channel_economics') }}

),

ltv_by_segment as (

    select * from {{ ref('fct_ltv_by_segment') }}

),

mature_cohorts as (

    select
        channel,
        cohort_month,
        new_customers,
        margin_per_customer_12m
    from channel_economics
    where is_mature_12m and new_customers > 0

),

channels as (

    select
        segment_value as channel,
        mature_buyers_12m,
        realised_ltv_12m,
        realised_margin_ltv_12m
    from ltv_by_segment
    where as_of_snapshot = 'current' and segment_type = 'acquisition_channel'

),

final as (

    select
        mature_cohorts.channel,
        mature_cohorts.cohort_month,
        mature_cohorts.new_customers,
        mature_cohorts.margin_per_customer_12m,
        channels.mature_buyers_12m as channel_mature_buyers_12m,
        channels.realised_ltv_12m as channel_realised_ltv_12m,
        channels.realised_margin_ltv_12m as channel_realised_margin_ltv_12m
    from mature_cohorts
    inner join channels
        on mature_cohorts.channel = channels.channel

)

select * from final
order by channel, cohort_month
