-- LTV/CAC by acquisition channel at 3, 6, 12 and 24 months, as of the as-of date: the channel rows of
-- fct_ltv_by_segment as they are (CAC with its status: null for a channel without spend, such as organic;
-- LTV/CAC at each age over the channel's mature paid cohorts; LTV formula B / CAC; discounted CLV / CAC), with the
-- number of the channel's paid cohorts and how many have paid their CAC back (fct_channel_economics). The same
-- numbers are the MetricFlow metrics cac and ltv_to_cac_{h}m grouped by channel (`clv mf -- query --metrics
-- ltv_to_cac_12m --group-by channel_cohort__channel`); tests/python/test_analyses.py checks them against the
-- dashboard's reader. Payback by cohort: fct_channel_economics.payback_months.
with

ltv_by_segment as (

    select * from {{ ref('fct_ltv_by_segment') }}

),

channel_economics as (

    select * from {{ ref('fct_channel_economics') }}

),

channels as (

    select
        segment_value as channel,
        marketing_spend,
        cac_new_customers,
        cac,
        cac_status,
        ltv_to_cac_3m,
        ltv_to_cac_6m,
        ltv_to_cac_12m,
        ltv_to_cac_24m,
        ltv_to_cac,
        discounted_ltv_to_cac
    from ltv_by_segment
    where as_of_snapshot = 'current' and segment_type = 'acquisition_channel'

),

paybacks as (

    select
        channel,
        count(*) filter (where cac_status = 'ok') as paid_cohorts,
        count(*) filter (where payback_status = 'paid_back') as paid_back_cohorts
    from channel_economics
    group by channel

),

final as (

    select
        channels.*,
        paybacks.paid_cohorts,
        paybacks.paid_back_cohorts
    from channels
    left join paybacks
        on channels.channel = paybacks.channel

)

select * from final
order by ltv_to_cac_12m desc nulls last, channel asc
