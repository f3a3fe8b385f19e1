-- One row per as-of snapshot x buyer (a completed order up to the snapshot's date): net revenue and gross margin
-- earned in the customer's first h months of life (from the day of the first completed order up to, not including,
-- the same day h months later), for each h in macros ltv_cac_horizons_months and ltv_realised_horizons_months;
-- whether the customer had reached that age by the date, and whether their acquisition cohort is mature at h
-- (macro is_cohort_mature). The numerators of LTV/CAC at h months (fct_channel_economics) and of realised LTV at h
-- months (fct_ltv_by_segment). Definitions: docs/metrics.md.
{%- set horizons = (ltv_cac_horizons_months() + ltv_realised_horizons_months()) | unique | sort %}
with

customers as (

    select * from {{ ref('int_customers_enriched') }}

),

orders as (

    select * from {{ ref('int_orders_enriched') }}

),

buyers as (

    select
        as_of_date,
        customer_id,
        acquisition_channel,
        cohort_month,
        first_order_on
    from customers
    where has_completed_order

),

final as (

    select
        buyers.as_of_date,
        buyers.customer_id,
        buyers.acquisition_channel,
        buyers.cohort_month,
        buyers.first_order_on,
        {%- for h in horizons %}
            {%- set window_end = 'cast(' ~ dbt.dateadd('month', h, 'buyers.first_order_on') ~ ' as date)' %}
            sum(case when orders.ordered_on < {{ window_end }} then orders.net_revenue else 0 end)
                as revenue_first_{{ h }}m,
            sum(case when orders.ordered_on < {{ window_end }} then orders.gross_margin else 0 end)
                as margin_first_{{ h }}m,
            {{ window_end }} <= cast({{ dbt.dateadd('day', 1, 'buyers.as_of_date') }} as date) as has_reached_{{ h }}m,
            {{ is_cohort_mature('buyers.cohort_month', h, 'buyers.as_of_date') }} as is_cohort_mature_{{ h }}m,
        {%- endfor %}
        sum(orders.net_revenue) as revenue_to_date,
        sum(orders.gross_margin) as margin_to_date
    from buyers
    inner join orders on buyers.customer_id = orders.customer_id
    where {{ is_completed_by_as_of('orders', 'buyers') }}
    group by
        buyers.as_of_date,
        buyers.customer_id,
        buyers.acquisition_channel,
        buyers.cohort_month,
        buyers.first_order_on

)

select * from final
