-- One row per customer: the LTV family as of int_as_of_dates.as_of_date. Each column's definition, units and
-- choices are in docs/metrics.md ("LTV"); the formulas themselves are the macros in macros/metrics.sql, which the
-- semantic layer's segment-level metrics mirror.
with

customers as (

    select * from {{ ref('dim_customers') }}

),

buyer_averages as (

    -- population averages over buyers (customers with a completed order as of the as-of date)
    select
        avg(lifetime_months) as average_lifetime_months,
        count(*) as buyers
    from customers
    where has_completed_order

),

per_customer as (

    select
        customers.customer_id,
        customers.cohort_month,
        customers.first_order_on,
        customers.acquisition_channel,
        customers.region,
        customers.is_loyalty_member,
        {{ age_band('customers.birth_year', 'customers.as_of_date') }} as age_band,
        customers.as_of_date,
        customers.has_completed_order,
        customers.completed_orders,
        customers.lifetime_months,
        customers.average_check,
        customers.net_revenue as realised_ltv,
        customers.gross_margin as realised_margin_ltv,
        coalesce(customers.margin_rate, cast({{ var('gross_margin_rate') }} as double)) as margin_rate,
        case when customers.has_completed_order then customers.margin_source end as margin_source,
        buyer_averages.average_lifetime_months,
        {{ monthly_retention_from_lifetime('buyer_averages.average_lifetime_months') }} as monthly_retention,
        case when customers.has_completed_order then
                {{ safe_divide('customers.net_revenue', 'customers.lifetime_months') }}
        end as monthly_revenue,
        case when customers.has_completed_order then
                {{ safe_divide('customers.gross_margin', 'customers.lifetime_months') }}
        end as monthly_margin,
        case when customers.has_completed_order then
                {{ safe_divide('customers.completed_orders', 'customers.lifetime_months') }}
        end as orders_per_month
    from customers
    cross join buyer_averages

),

final as (

    select
        customer_id,
        cohort_month,
        first_order_on,
        acquisition_channel,
        region,
        is_loyalty_member,
        age_band,
        as_of_date,
        has_completed_order,
        completed_orders,
        lifetime_months,
        average_check,
        orders_per_month,
        monthly_revenue,
        monthly_margin,
        margin_rate,
        margin_source,
        average_lifetime_months,
        monthly_retention,
        realised_ltv,
        realised_margin_ltv,
        {{ ltv_formula_a('monthly_revenue', 'average_lifetime_months') }} as ltv_formula_a,
        {{ ltv_formula_b('average_check', 'orders_per_month', 'average_lifetime_months', 'margin_rate') }}
            as ltv_formula_b,
        {{ discounted_clv('monthly_margin', 'monthly_retention', var('clv_monthly_discount_rate'),
            var('clv_horizon_months')) }} as discounted_clv
    from per_customer

)

select * from final
