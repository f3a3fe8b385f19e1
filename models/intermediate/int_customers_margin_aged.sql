-- One row per customer with a completed order up to the as-of date: the gross margin earned in the first h months
-- of the customer's life (from the day of the first completed order up to, not including, the same day h months
-- later), for each h in var ltv_cac_horizons_months, and whether the customer had reached that age by the as-of
-- date. The numerator of LTV/CAC at h months (fct_channel_economics). Definitions: docs/metrics.md.
{%- set horizons = var('ltv_cac_horizons_months') %}
with

customers as (

    select * from {{ ref('dim_customers') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

as_of as (

    select * from {{ ref('int_as_of_dates') }}

),

buyers as (

    select
        customer_id,
        acquisition_channel,
        cohort_month,
        first_order_on
    from customers
    where has_completed_order

),

final as (

    select
        buyers.customer_id,
        buyers.acquisition_channel,
        buyers.cohort_month,
        buyers.first_order_on,
        {%- for h in horizons %}
            sum(
                case
                    when orders.ordered_on < cast({{ dbt.dateadd('month', h, 'buyers.first_order_on') }} as date)
                        then orders.gross_margin
                    else 0
                end
            ) as margin_first_{{ h }}m,
            cast({{ dbt.dateadd('month', h, 'buyers.first_order_on') }} as date)
            <= cast({{ dbt.dateadd('day', 1, 'as_of.as_of_date') }} as date) as has_reached_{{ h }}m,
        {%- endfor %}
        sum(orders.gross_margin) as margin_to_date
    from buyers
    cross join as_of
    inner join orders on buyers.customer_id = orders.customer_id
    where {{ is_completed_by_as_of() }}
    group by
        buyers.customer_id,
        buyers.acquisition_channel,
        buyers.cohort_month,
        buyers.first_order_on,
        as_of.as_of_date

)

select * from final
