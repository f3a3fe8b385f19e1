-- One row per acquisition channel x cohort month (calendar month of the first completed order; for spend, the
-- month it was spent): new customers, marketing spend, CAC, blended CAC of the month, margin per cohort customer
-- in their first h months and LTV/CAC at the horizons of macro ltv_cac_horizons_months, discounted CLV and its ratio
-- to CAC, and the CAC payback month. Predicted LTV/CAC lives with the predictive marts
-- (fct_channel_predicted_ltv_to_cac), so a failed fit never holds this mart back. Definitions: docs/metrics.md
-- ("Acquisition economics").
{%- set horizons = ltv_cac_horizons_months() %}
with

as_of as (

    select * from {{ ref('int_as_of_dates') }}

),

channel_months_all as (

    select * from {{ ref('int_channel_months_acquired') }}

),

channel_cohorts as (

    select * from {{ ref('int_channel_cohorts_accumulated') }}

),

customers_aged as (

    select * from {{ ref('int_customers_value_aged') }}

),

customers_valued as (

    select * from {{ ref('int_customers_valued') }}

),

channel_months as (

    -- the current as-of date (the acquisitions model also holds the previous periods' snapshots)
    select channel_months_all.*
    from channel_months_all
    inner join as_of on channel_months_all.as_of_date = as_of.as_of_date

),

aged_margins as (

    -- margin in each customer's first h months
    select
        {%- for h in horizons %}
            sum(customers_aged.margin_first_{{ h }}m) as margin_first_{{ h }}m,
        {%- endfor %}
        customers_aged.acquisition_channel as channel,
        customers_aged.cohort_month
    from customers_aged
    inner join as_of on customers_aged.as_of_date = as_of.as_of_date
    group by customers_aged.acquisition_channel, customers_aged.cohort_month

),

cohort_exposures as (

    -- the channel-cohort's sums under the names of the segment ratios (macro segment_ratio)
    select
        customers_valued.acquisition_channel as channel,
        customers_valued.cohort_month,
        sum(customers_valued.realised_margin_ltv) as realised_margin_ltv_total,
        sum(customers_valued.observed_alive_months) as lifetime_exposure_months,
        avg(customers_valued.own_discounted_lifetime_months) as average_discounted_lifetime_months
    from customers_valued
    where customers_valued.is_current_as_of and customers_valued.has_completed_order
    group by customers_valued.acquisition_channel, customers_valued.cohort_month

),

discounted_values as (

    -- discounted CLV of the channel-cohort: its margin per month lived so far x its mean discounted lifetime
    select
        channel,
        cohort_month,
        {{ discounted_clv(segment_ratio('monthly_margin_per_customer'), 'average_discounted_lifetime_months') }}
            as discounted_clv
    from cohort_exposures

),

months_observed as (

    select
        acquisition_channel as channel,
        cohort_month,
        max(months_since_first_order) as months_observed
    from channel_cohorts
    group by acquisition_channel, cohort_month

),

with_cac as (

    select
        channel_months.*,
        case
            when channel_months.new_customers = 0 then 'no_new_customers'
            when not channel_months.has_spend_recorded then {{ no_spend_status() }}
            when channel_months.marketing_spend = 0 then 'zero_spend'
            else 'ok'
        end as cac_status,
        case
            when channel_months.new_customers > 0 and channel_months.has_spend_recorded
                then {{ safe_divide('channel_months.marketing_spend', 'channel_months.new_customers') }}
        end as cac,
        {{ safe_divide(
            'sum(channel_months.marketing_spend) over (partition by channel_months.cohort_month)',
            'sum(channel_months.new_customers) over (partition by channel_months.cohort_month)') }} as blended_cac
    from channel_months

),

payback as (

    -- first month since acquisition at which the cohort's cumulative margin per customer reaches its CAC
    select
        channel_cohorts.acquisition_channel as channel,
        channel_cohorts.cohort_month,
        min(channel_cohorts.months_since_first_order) as payback_months
    from channel_cohorts
    inner join with_cac
        on
            channel_cohorts.acquisition_channel = with_cac.channel
            and channel_cohorts.cohort_month = with_cac.cohort_month
    where
        with_cac.cac > 0
        and channel_cohorts.cumulative_gross_margin >= with_cac.cac * channel_cohorts.cohort_size
    group by channel_cohorts.acquisition_channel, channel_cohorts.cohort_month

),

per_customer as (

    select
        with_cac.*,
        months_observed.months_observed,
        {%- for h in horizons %}
            {{ is_cohort_mature('with_cac.cohort_month', h, 'with_cac.as_of_date') }} and with_cac.new_customers > 0
                as is_mature_{{ h }}m,
            case
                when {{ is_cohort_mature('with_cac.cohort_month', h, 'with_cac.as_of_date') }}
                    then {{ safe_divide('aged_margins.margin_first_' ~ h ~ 'm', 'with_cac.new_customers') }}
            end as margin_per_customer_{{ h }}m,
            -- the cohort's terms of macro ltv_to_cac: its margin gain to h and its spend, when it is paid and mature
            case
                when {{ is_cohort_mature('with_cac.cohort_month', h, 'with_cac.as_of_date') }} and with_cac.cac > 0
                    then {{ ltv_to_cac_margin_gain(h, 'aged_margins.margin_first_') }}
            end as paid_margin_gain_{{ h }}m,
            case
                when {{ is_cohort_mature('with_cac.cohort_month', h, 'with_cac.as_of_date') }} and with_cac.cac > 0
                    then with_cac.marketing_spend
            end as paid_spend_{{ h }}m,
        {%- endfor %}
        discounted_values.discounted_clv,
        payback.payback_months
    from with_cac
    left join months_observed
        on with_cac.channel = months_observed.channel and with_cac.cohort_month = months_observed.cohort_month
    left join aged_margins
        on with_cac.channel = aged_margins.channel and with_cac.cohort_month = aged_margins.cohort_month
    left join discounted_values
        on with_cac.channel = discounted_values.channel and with_cac.cohort_month = discounted_values.cohort_month
    left join payback on with_cac.channel = payback.channel and with_cac.cohort_month = payback.cohort_month

),

final as (

    -- ratios to CAC are null when CAC is null or 0 (safe_divide)
    select
        {{ dbt.concat(["channel", "'+'", "cast(cohort_month as " ~ dbt.type_string() ~ ")"]) }}
            as channel_cohort_key,
        channel,
        cohort_month,
        as_of_date,
        new_customers,
        marketing_spend,
        has_spend_recorded,
        cac,
        cac_status,
        blended_cac,
        months_observed,
        {%- for h in horizons %}
            is_mature_{{ h }}m,
            margin_per_customer_{{ h }}m,
            {{ ltv_to_cac(h, 'paid_margin_gain_{h}m', 'paid_spend_{h}m') }} as ltv_to_cac_{{ h }}m,
        {%- endfor %}
        discounted_clv,
        {{ safe_divide('discounted_clv', 'cac') }} as discounted_ltv_to_cac,
        payback_months,
        case
            when not coalesce(cac > 0, false) then 'no_cac'
            when payback_months is not null then 'paid_back'
            else 'not_yet_paid_back'
        end as payback_status
    from per_customer

)

select * from final
