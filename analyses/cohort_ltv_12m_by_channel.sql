-- Cohort LTV at 12 months by acquisition channel: gross margin a cohort's customers earned in their first 12
-- months of life, per customer (fct_channel_economics.margin_per_customer_12m), for every cohort whose customers
-- are all 12 months old, next to the channel's average over those cohorts weighted by their new customers.
-- The mart has margin, not revenue, at this horizon; cumulative revenue per customer by cohort month (all channels
-- pooled) is in fct_cohort_retention.
-- ISSUE-12: the channel average becomes a column of the segment-grain LTV mart (realised LTV at 12 months on
-- mature cohorts, segment_type = 'channel'); read it from there once it lands.
with

channel_economics as (

    select * from {{ ref('fct_channel_economics') }}

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

final as (

    select
        channel,
        cohort_month,
        new_customers,
        margin_per_customer_12m,
        sum(margin_per_customer_12m * new_customers) over (partition by channel)
        / sum(new_customers) over (partition by channel) as channel_margin_per_customer_12m,
        count(*) over (partition by channel) as channel_mature_cohorts
    from mature_cohorts

)

select * from final
order by channel, cohort_month
