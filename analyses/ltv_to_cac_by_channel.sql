-- LTV/CAC by acquisition channel at 3, 6, 12 and 24 months: the spend-weighted ratio over the channel's cohorts
-- that are old enough and have a CAC (margin those cohorts earned in their customers' first h months / their
-- spend), with the channel's CAC (spend / new customers of the months with spend recorded: null, as in the mart,
-- for a channel without spend such as organic) and the median payback month. LTV/CAC is the definition of the
-- MetricFlow metrics ltv_to_cac_{h}m (`clv mf -- query --metrics ltv_to_cac_12m --group-by
-- channel_cohort__channel`); tests/python/test_analyses.py checks it against the dashboard's reader.
-- ISSUE-12: read CAC and LTV/CAC from the segment-grain LTV mart (segment_type = 'channel') once it lands.
with

channel_economics as (

    select * from {{ ref('fct_channel_economics') }}

),

horizons as (

    select
        economics.channel,
        economics.new_customers,
        economics.marketing_spend,
        economics.has_spend_recorded,
        economics.cac,
        economics.payback_months,
        horizon.horizon_months,
        horizon.is_mature,
        horizon.margin_per_customer
    from channel_economics as economics
    cross join lateral (
        values
        (3, economics.is_mature_3m, economics.margin_per_customer_3m),
        (6, economics.is_mature_6m, economics.margin_per_customer_6m),
        (12, economics.is_mature_12m, economics.margin_per_customer_12m),
        (24, economics.is_mature_24m, economics.margin_per_customer_24m)
    ) as horizon (horizon_months, is_mature, margin_per_customer)

),

by_channel as (

    select
        channel,
        horizon_months,
        sum(marketing_spend) filter (where has_spend_recorded) as marketing_spend,
        sum(new_customers) filter (where has_spend_recorded) as new_customers,
        sum(margin_per_customer * new_customers) filter (where is_mature and cac > 0) as mature_margin,
        sum(marketing_spend) filter (where is_mature and cac > 0) as mature_spend,
        count(*) filter (where is_mature and cac > 0) as mature_paid_cohorts,
        {{ median_of('payback_months') }} as median_payback_months
    from horizons
    group by channel, horizon_months

),

final as (

    select
        channel,
        {{ safe_divide('max(marketing_spend)', 'max(new_customers)') }} as cac,
        {{ safe_divide('max(mature_margin) filter (where horizon_months = 3)',
            'max(mature_spend) filter (where horizon_months = 3)') }} as ltv_to_cac_3m,
        {{ safe_divide('max(mature_margin) filter (where horizon_months = 6)',
            'max(mature_spend) filter (where horizon_months = 6)') }} as ltv_to_cac_6m,
        {{ safe_divide('max(mature_margin) filter (where horizon_months = 12)',
            'max(mature_spend) filter (where horizon_months = 12)') }} as ltv_to_cac_12m,
        {{ safe_divide('max(mature_margin) filter (where horizon_months = 24)',
            'max(mature_spend) filter (where horizon_months = 24)') }} as ltv_to_cac_24m,
        max(mature_paid_cohorts) filter (where horizon_months = 12) as mature_paid_cohorts_12m,
        max(median_payback_months) as median_payback_months
    from by_channel
    group by channel

)

select * from final
order by ltv_to_cac_12m desc nulls last, channel asc
