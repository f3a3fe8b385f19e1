-- One row per as-of snapshot x customer: every per-customer input of the LTV formulas, with the customer's segments,
-- in one place - revenue and margin to date, orders, the observed lifespan and the projected (expected, discounted)
-- lifetime, tenure for frequency, value in the first h months with cohort maturity, and the customer-level
-- "own lifetime" LTV columns. fct_customer_ltv is its current snapshot; fct_ltv_by_segment sums it per segment.
-- Definitions: docs/metrics.md ("LTV").
{%- set horizons = ltv_realised_horizons_months() %}
with

customers as (

    select * from {{ ref('int_customers_enriched') }}

),

segments as (

    select * from {{ ref('int_customers_segmented') }}

),

lifetimes as (

    select * from {{ ref('int_customers_lifetimes_projected') }}

),

aged as (

    select * from {{ ref('int_customers_value_aged') }}

),

first_purchases as (

    select * from {{ ref('int_customers_first_purchases') }}

),

joined as (

    select
        customers.as_of_date,
        customers.is_current_as_of,
        customers.customer_id,
        customers.acquisition_channel,
        customers.cohort_month,
        customers.first_order_on,
        customers.region,
        customers.age_band,
        customers.is_loyalty_member,
        segments.rfm_segment,
        segments.cvm_stage,
        segments.value_tier,
        -- the segment of a customer without one: its source (no_purchases, no_item_data); unknown without items
        coalesce(
            segments.preferred_category,
            case
                when segments.preferred_category_source = 'no_order_items_table' then 'unknown'
                else segments.preferred_category_source
            end
        ) as preferred_category,
        -- what the first completed order was (a customer without one as of the snapshot: no_purchases)
        {%- for column in ['first_category', 'first_product', 'first_order_discount', 'first_order_value_band'] %}
            case
                when customers.has_completed_order then coalesce(first_purchases.{{ column }}, 'unknown')
                else 'no_purchases'
            end as {{ column }},
        {%- endfor %}
        customers.has_completed_order,
        customers.is_repeat_customer,
        customers.is_lapsed,
        customers.recency_days,
        customers.completed_orders,
        customers.net_revenue as realised_ltv,
        customers.gross_margin as realised_margin_ltv,
        customers.own_margin_rate,
        customers.margin_source,
        customers.own_average_check,
        customers.tenure_years,
        customers.is_frequency_eligible,
        customers.observed_lifespan_months,
        lifetimes.observed_alive_months,
        lifetimes.lifetime_curve,
        coalesce(lifetimes.lifetime_status, 'no_purchases') as lifetime_status,
        lifetimes.expected_lifetime_months as own_expected_lifetime_months,
        lifetimes.expected_remaining_lifetime_months,
        lifetimes.discounted_lifetime_months as own_discounted_lifetime_months,
        {%- for h in horizons %}
            aged.revenue_first_{{ h }}m,
            aged.margin_first_{{ h }}m,
            coalesce(aged.is_cohort_mature_{{ h }}m, false) as is_cohort_mature_{{ h }}m,
        {%- endfor %}
        customers.own_orders_per_year
    from customers
    inner join segments
        on customers.as_of_date = segments.as_of_date and customers.customer_id = segments.customer_id
    left join lifetimes
        on customers.as_of_date = lifetimes.as_of_date and customers.customer_id = lifetimes.customer_id
    left join aged
        on customers.as_of_date = aged.as_of_date and customers.customer_id = aged.customer_id
    left join first_purchases on customers.customer_id = first_purchases.customer_id

),

per_month as (

    -- the customer's own rates per month of lifetime lived so far (observed_alive_months), the exposure of the
    -- segment rates (lifetime_exposure_months = its sum): per month of the same lifetime the expected one measures
    select
        *,
        case when has_completed_order then {{ safe_divide('realised_ltv', 'observed_alive_months') }} end
            as own_monthly_revenue,
        case when has_completed_order then {{ safe_divide('realised_margin_ltv', 'observed_alive_months') }} end
            as own_monthly_margin,
        case when has_completed_order then {{ safe_divide('completed_orders', 'observed_alive_months') }} end
            as own_orders_per_month
    from joined

),

final as (

    select
        *,
        -- formulas A and B and discounted CLV on the customer's own expected lifetime: formula A = realised LTV x
        -- expected / lived months, so a customer whose lifetime is over (expected = lived so far, e.g. churned) has
        -- formula A = their realised LTV (500 a month for 12 months = 6000)
        {{ ltv_formula_a('own_monthly_revenue', 'own_expected_lifetime_months') }} as ltv_formula_a_own_lifetime,
        {{ ltv_formula_b('own_average_check', 'own_orders_per_month', 'own_expected_lifetime_months',
            'own_margin_rate') }} as ltv_formula_b_own_lifetime,
        {{ discounted_clv('own_monthly_margin', 'own_discounted_lifetime_months') }} as discounted_clv_own_lifetime
    from per_month

)

select * from final
