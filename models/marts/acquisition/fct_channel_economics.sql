-- One row per acquisition channel x cohort month (calendar month of the first completed order; for spend, the
-- month it was spent): new customers, marketing spend, CAC, blended CAC of the month, margin per cohort customer
-- in their first h months and LTV/CAC at the horizons of var ltv_cac_horizons_months, the same ratio on
-- discounted and predicted LTV, and the CAC payback month. Definitions: docs/metrics.md ("Acquisition economics").
{%- set horizons = var('ltv_cac_horizons_months') %}
with

channel_cohorts as (

    select * from {{ ref('int_channel_cohorts_accumulated') }}

),

customers_aged as (

    select * from {{ ref('int_customers_margin_aged') }}

),

spend as (

    select * from {{ ref('int_marketing_spend_aggregated_to_channel_months') }}

),

customer_ltv as (

    select * from {{ ref('fct_customer_ltv') }}

),

predictions as (

    select * from {{ ref('fct_customer_clv_predictions') }}

),

acquisitions as (

    select
        acquisition_channel as channel,
        cohort_month,
        max(cohort_size) as new_customers,
        max(months_since_first_order) as months_observed
    from channel_cohorts
    group by acquisition_channel, cohort_month

),

aged_margins as (

    -- margin in each customer's first h months; a cohort is mature at h when all its customers are that old
    select
        {%- for h in horizons %}
            sum(margin_first_{{ h }}m) as margin_first_{{ h }}m,
            min(case when has_reached_{{ h }}m then 1 else 0 end) = 1 as is_mature_{{ h }}m,
        {%- endfor %}
        acquisition_channel as channel,
        cohort_month
    from customers_aged
    group by acquisition_channel, cohort_month

),

customer_values as (

    select
        customer_ltv.acquisition_channel as channel,
        customer_ltv.cohort_month,
        sum(customer_ltv.discounted_clv) as discounted_clv_total,
        -- margin to the predictive as-of date + predicted margin after it (one as-of date, never counted twice)
        sum(predictions.realised_margin + predictions.predicted_clv) as predicted_ltv_total,
        count(predictions.predicted_clv) as predicted_customers
    from customer_ltv
    left join predictions on customer_ltv.customer_id = predictions.customer_id
    where customer_ltv.has_completed_order
    group by customer_ltv.acquisition_channel, customer_ltv.cohort_month

),

channel_months as (

    select
        coalesce(acquisitions.channel, spend.channel) as channel,
        coalesce(acquisitions.cohort_month, spend.spend_month) as cohort_month,
        coalesce(acquisitions.new_customers, 0) as new_customers,
        coalesce(spend.spend_amount, 0) as marketing_spend,
        spend.channel is not null as has_spend_recorded,
        {%- for h in horizons %}
            aged_margins.margin_first_{{ h }}m,
            coalesce(aged_margins.is_mature_{{ h }}m, false) as is_mature_{{ h }}m,
        {%- endfor %}
        acquisitions.months_observed
    from acquisitions
    left join aged_margins
        on acquisitions.channel = aged_margins.channel and acquisitions.cohort_month = aged_margins.cohort_month
    full outer join spend
        on acquisitions.channel = spend.channel and acquisitions.cohort_month = spend.spend_month

),

with_cac as (

    select
        channel_months.*,
        case
            when channel_months.new_customers = 0 then 'no_new_customers'
            when not channel_months.has_spend_recorded then 'no_spend_recorded'
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
        {%- for h in horizons %}
            case
                when with_cac.is_mature_{{ h }}m
                    then {{ safe_divide('with_cac.margin_first_' ~ h ~ 'm', 'with_cac.new_customers') }}
            end as margin_per_customer_{{ h }}m,
        {%- endfor %}
        {{ safe_divide('customer_values.discounted_clv_total', 'with_cac.new_customers') }}
            as discounted_clv_per_customer,
        case
            when customer_values.predicted_customers = with_cac.new_customers
                then {{ safe_divide('customer_values.predicted_ltv_total', 'with_cac.new_customers') }}
        end as predicted_ltv_per_customer,
        payback.payback_months
    from with_cac
    left join customer_values
        on with_cac.channel = customer_values.channel and with_cac.cohort_month = customer_values.cohort_month
    left join payback on with_cac.channel = payback.channel and with_cac.cohort_month = payback.cohort_month

),

final as (

    -- ratios to CAC are null when CAC is null or 0 (safe_divide)
    select
        {{ dbt.concat(["channel", "'+'", "cast(cohort_month as " ~ dbt.type_string() ~ ")"]) }}
            as channel_cohort_key,
        channel,
        cohort_month,
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
            {{ safe_divide('margin_per_customer_' ~ h ~ 'm', 'cac') }} as ltv_to_cac_{{ h }}m,
        {%- endfor %}
        discounted_clv_per_customer,
        {{ safe_divide('discounted_clv_per_customer', 'cac') }} as discounted_ltv_to_cac,
        predicted_ltv_per_customer,
        {{ safe_divide('predicted_ltv_per_customer', 'cac') }} as predicted_ltv_to_cac,
        payback_months,
        case
            when not coalesce(cac > 0, false) then 'no_cac'
            when payback_months is not null then 'paid_back'
            else 'not_yet_paid_back'
        end as payback_status
    from per_customer

)

select * from final
