-- One row per as-of snapshot x segment type x segment value, overall included: the LTV of the segment and every
-- input beside it, so a BI tool reads finished numbers and never re-aggregates ratios. Components are sums over the
-- segment's customers (int_customers_valued); every ratio is a ratio of those sums (macro segment_ratio), which is
-- also how the MetricFlow metrics of the same names compute, at any grouping.
--   LTV formula A  = monthly revenue per customer x expected lifetime
--   LTV formula B  = average check x orders per month x expected lifetime x margin rate
--   discounted CLV = monthly margin per customer x discounted expected lifetime
-- with monthly rates per month of lifetime lived so far (observed_alive_months: first month + lifespan + the return
-- probability x the silence since the last order, the same model as the expected lifetime they multiply), realised
-- LTV in the first 6/12/24 months on mature cohorts and, for channel segments, CAC and LTV/CAC. Descriptive only: it
-- reads no model fit, so a fit that fails never holds it back; the predicted CLV of the same segments is the
-- predictive mart fct_predicted_clv_by_segment. Definitions: docs/metrics.md ("LTV by segment").
{%- set horizons = ltv_realised_horizons_months() %}
{%- set cac_horizons = ltv_cac_horizons_months() | sort %}
{%- set segment_types = ltv_segment_types() %}
with

snapshots as (

    -- the published snapshots (the backtest's own as-of dates are fct_ltv_backtest's)
    select * from {{ ref('int_as_of_snapshots') }}
    where is_published

),

customers as (

    select * from {{ ref('int_customers_valued') }}
    where as_of_date in (select snapshots.as_of_date from snapshots)

),

channel_months as (

    select * from {{ ref('int_channel_months_acquired') }}

),

customers_aged as (

    select * from {{ ref('int_customers_value_aged') }}

),

segment_labels as (

    select
        {{ segment_label_columns() }}
        customers.*
    from customers

),

customer_values as (

    -- per customer: the additive pieces (null when the customer does not count in a sum)
    select
        {%- for h in horizons %}
            case when customers.is_cohort_mature_{{ h }}m then customers.revenue_first_{{ h }}m end
                as mature_revenue_first_{{ h }}m,
            case when customers.is_cohort_mature_{{ h }}m then customers.margin_first_{{ h }}m end
                as mature_margin_first_{{ h }}m,
        {%- endfor %}
        customers.as_of_date,
        customers.customer_id,
        {%- for segment_type in segment_types %}
            customers.segment_{{ segment_type }},
        {%- endfor %}
        case when customers.has_completed_order then 1 else 0 end as is_buyer,
        case when customers.is_repeat_customer then 1 else 0 end as is_repeat_buyer,
        case when customers.has_completed_order then customers.realised_ltv end as realised_ltv,
        case when customers.has_completed_order then customers.realised_margin_ltv end as realised_margin_ltv,
        case when customers.has_completed_order then customers.completed_orders end as orders_to_date,
        customers.observed_lifespan_months,
        customers.observed_alive_months,
        case when customers.has_completed_order then customers.tenure_years end as tenure_years,
        -- a buyer younger than var ltv_young_tenure_months (tenure years x 12 = months of days_per_month)
        case
            when customers.has_completed_order and customers.tenure_years * 12 < {{ var('ltv_young_tenure_months') }}
                then 1
            else 0
        end as is_young_buyer,
        case when customers.is_frequency_eligible then customers.completed_orders end as frequency_eligible_orders,
        case when customers.is_frequency_eligible then customers.tenure_years end as frequency_eligible_tenure_years,
        customers.own_expected_lifetime_months,
        customers.own_discounted_lifetime_months,
        case when customers.has_completed_order then customers.recency_days end as recency_days
    from segment_labels as customers

),

customer_segments as (

    {{ segment_rows('customer_values') }}

),

segment_sums as (

    select
        {%- for h in horizons %}
            count(mature_revenue_first_{{ h }}m) as mature_buyers_{{ h }}m,
            {{ mean_of('mature_revenue_first_' ~ h ~ 'm') }} as realised_ltv_{{ h }}m,
            {{ mean_of('mature_margin_first_' ~ h ~ 'm') }} as realised_margin_ltv_{{ h }}m,
        {%- endfor %}
        as_of_date,
        segment_type,
        segment_value,
        count(*) as customers,
        sum(is_buyer) as buyers,
        sum(is_repeat_buyer) as repeat_buyers,
        sum(realised_ltv) as realised_ltv_total,
        sum(realised_margin_ltv) as realised_margin_ltv_total,
        sum(orders_to_date) as orders_to_date,
        sum(observed_lifespan_months) as observed_lifespan_months_total,
        sum(observed_alive_months) as lifetime_exposure_months,
        sum(tenure_years) as tenure_years,
        sum(is_young_buyer) as young_buyers,
        count(frequency_eligible_orders) as frequency_eligible_buyers,
        sum(frequency_eligible_orders) as frequency_eligible_orders,
        sum(frequency_eligible_tenure_years) as frequency_eligible_tenure_years,
        count(own_expected_lifetime_months) as buyers_with_expected_lifetime,
        sum(own_expected_lifetime_months) as expected_lifetime_months_total,
        sum(own_discounted_lifetime_months) as discounted_lifetime_months_total,
        avg(recency_days) as average_recency_days
    from customer_segments
    group by as_of_date, segment_type, segment_value

),

channel_costs as (

    -- CAC of a channel: spend / new customers, over the channel-months with spend recorded
    select
        as_of_date,
        channel,
        sum(case when has_spend_recorded then marketing_spend else 0 end) as marketing_spend,
        sum(case when has_spend_recorded then new_customers else 0 end) as cac_new_customers,
        max(case when has_spend_recorded then 1 else 0 end) as has_spend_recorded
    from channel_months
    group by as_of_date, channel

),

cost_rows as (

    -- the rows that carry CAC: each channel, and the overall row pooling every channel the same way (what the
    -- unsegmented metric cac returns)
    select
        as_of_date,
        'acquisition_channel' as segment_type,
        channel as segment_value,
        marketing_spend,
        cac_new_customers,
        has_spend_recorded = 1 as has_spend_recorded
    from channel_costs
    union all
    select
        as_of_date,
        'overall' as segment_type,
        'all' as segment_value,
        sum(marketing_spend) as marketing_spend,
        sum(cac_new_customers) as cac_new_customers,
        max(has_spend_recorded) = 1 as has_spend_recorded
    from channel_costs
    group by as_of_date

),

cohort_margins as (

    select
        {%- for h in cac_horizons %}
            sum(margin_first_{{ h }}m) as margin_first_{{ h }}m,
        {%- endfor %}
        as_of_date,
        acquisition_channel as channel,
        cohort_month
    from customers_aged
    group by as_of_date, acquisition_channel, cohort_month

),

paid_cohorts as (

    -- channel-months with a positive CAC (spend recorded, spend > 0, customers acquired)
    select
        {%- for h in cac_horizons %}
            {{ is_cohort_mature('channel_months.cohort_month', h, 'channel_months.as_of_date') }}
                as is_mature_{{ h }}m,
            cohort_margins.margin_first_{{ h }}m,
        {%- endfor %}
        channel_months.as_of_date,
        channel_months.channel,
        channel_months.marketing_spend
    from channel_months
    inner join cohort_margins
        on
            channel_months.as_of_date = cohort_margins.as_of_date
            and channel_months.channel = cohort_margins.channel
            and channel_months.cohort_month = cohort_margins.cohort_month
    where channel_months.has_spend_recorded and channel_months.marketing_spend > 0

),

paid_cohort_sums as (

    -- per channel and horizon h: the margin gained from the previous horizon to h, and the spend, over the cohorts
    -- mature at h
    select
        {%- for h in cac_horizons %}
            sum(case when is_mature_{{ h }}m then {{ ltv_to_cac_margin_gain(h) }} end) as margin_gain_{{ h }}m,
            sum(case when is_mature_{{ h }}m then marketing_spend end) as mature_spend_{{ h }}m,
        {%- endfor %}
        as_of_date,
        channel
    from paid_cohorts
    group by as_of_date, channel

),

ltv_to_cac_rows as (

    -- LTV/CAC at h months (macro ltv_to_cac, the formula fct_channel_economics uses per cohort) over the sums of
    -- the paid cohorts: per channel, and pooled over every paid channel for the overall row (what the unsegmented
    -- metrics ltv_to_cac_<h>m return)
    select
        {%- for h in cac_horizons %}
            {{ ltv_to_cac(h, 'margin_gain_{h}m', 'mature_spend_{h}m') }} as ltv_to_cac_{{ h }}m,
        {%- endfor %}
        as_of_date,
        'acquisition_channel' as segment_type,
        channel as segment_value
    from paid_cohort_sums
    union all
    select
        {%- for h in cac_horizons %}
            {{ ltv_to_cac(h, 'sum(margin_gain_{h}m)', 'sum(mature_spend_{h}m)') }} as ltv_to_cac_{{ h }}m,
        {%- endfor %}
        as_of_date,
        'overall' as segment_type,
        'all' as segment_value
    from paid_cohort_sums
    group by as_of_date

),

ratios as (

    select
        segment_sums.*,
        {%- for ratio in ['average_realised_ltv', 'average_check', 'ltv_margin_rate', 'orders_per_month',
            'monthly_revenue_per_customer', 'monthly_margin_per_customer', 'orders_per_year',
            'expected_lifetime_months', 'discounted_lifetime_months'] %}
            {{ segment_ratio(ratio) }} as {{ ratio }},
        {%- endfor %}
        {{ safe_divide('repeat_buyers', 'buyers') }} as repeat_customer_rate,
        {{ safe_divide('observed_lifespan_months_total', 'buyers') }} as average_observed_lifespan_months
    from segment_sums

),

results as (

    select
        ratios.*,
        {{ ltv_formula_a('monthly_revenue_per_customer', 'expected_lifetime_months') }} as ltv_formula_a,
        {{ ltv_formula_b('average_check', 'orders_per_month', 'expected_lifetime_months', 'ltv_margin_rate') }}
            as ltv_formula_b,
        {{ discounted_clv('monthly_margin_per_customer', 'discounted_lifetime_months') }} as discounted_clv
    from ratios

),

with_costs as (

    select
        results.*,
        snapshots.as_of_snapshot,
        snapshots.months_before_current,
        {{ if_input('marketing_spend', 'cost_rows.marketing_spend') }} as marketing_spend,
        {{ if_input('marketing_spend', 'cost_rows.cac_new_customers') }} as cac_new_customers,
        {%- for h in cac_horizons %}
            ltv_to_cac_rows.ltv_to_cac_{{ h }}m,
        {%- endfor %}
        case
            when results.segment_type not in ('acquisition_channel', 'overall') then 'not_a_channel_segment'
            when not coalesce(cost_rows.has_spend_recorded, false) then {{ no_spend_status() }}
            when cost_rows.cac_new_customers = 0 then 'no_new_customers'
            when cost_rows.marketing_spend = 0 then 'zero_spend'
            else 'ok'
        end as cac_status,
        case
            when cost_rows.segment_type is not null
                then {{ safe_divide('cost_rows.marketing_spend', 'cost_rows.cac_new_customers') }}
        end as cac
    from results
    inner join snapshots on results.as_of_date = snapshots.as_of_date
    left join cost_rows
        on
            results.as_of_date = cost_rows.as_of_date
            and results.segment_type = cost_rows.segment_type
            and results.segment_value = cost_rows.segment_value
    left join ltv_to_cac_rows
        on
            results.as_of_date = ltv_to_cac_rows.as_of_date
            and results.segment_type = ltv_to_cac_rows.segment_type
            and results.segment_value = ltv_to_cac_rows.segment_value

),

final as (

    select
        {{ dbt.concat(["as_of_snapshot", "'|'", "segment_type", "':'", "segment_value"]) }} as segment_key,
        as_of_snapshot,
        months_before_current,
        as_of_date,
        segment_type,
        segment_value,
        customers,
        buyers,
        repeat_buyers,
        repeat_customer_rate,
        realised_ltv_total,
        realised_margin_ltv_total,
        orders_to_date,
        lifetime_exposure_months,
        average_realised_ltv,
        average_check,
        orders_per_month,
        ltv_margin_rate,
        monthly_revenue_per_customer,
        monthly_margin_per_customer,
        average_observed_lifespan_months,
        buyers_with_expected_lifetime,
        expected_lifetime_months_total,
        discounted_lifetime_months_total,
        case
            when buyers = 0 then 'no_buyers'
            when buyers_with_expected_lifetime = buyers then 'estimated'
            when buyers_with_expected_lifetime = 0 then 'not_estimable'
            else 'partly_estimated'
        end as expected_lifetime_status,
        expected_lifetime_months,
        discounted_lifetime_months,
        young_buyers,
        -- formulas A/B and discounted CLV of a segment most of whose buyers are young: monthly rates of a short
        -- observed span and projected lifetimes, not comparable with mature segments (issue 23)
        case
            when buyers = 0 then 'no_buyers'
            when young_buyers * 2 > buyers then 'too_young_to_compare'
            else 'comparable'
        end as maturity_status,
        ltv_formula_a,
        ltv_formula_b,
        discounted_clv,
        tenure_years,
        frequency_eligible_buyers,
        frequency_eligible_orders,
        frequency_eligible_tenure_years,
        orders_per_year,
        average_recency_days,
        {%- for h in horizons %}
            mature_buyers_{{ h }}m,
            realised_ltv_{{ h }}m,
            realised_margin_ltv_{{ h }}m,
        {%- endfor %}
        marketing_spend,
        cac_new_customers,
        cac,
        cac_status,
        -- expected-lifetime LTV over CAC per channel only: the overall row's LTV includes organic customers, whom
        -- its (paid) cac does not count
        case when segment_type = 'acquisition_channel' then {{ safe_divide('ltv_formula_b', 'cac') }} end
            as ltv_to_cac,
        {%- for h in cac_horizons %}
            ltv_to_cac_{{ h }}m,
        {%- endfor %}
        case when segment_type = 'acquisition_channel' then {{ safe_divide('discounted_clv', 'cac') }} end
            as discounted_ltv_to_cac
    from with_costs

)

select * from final
