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

snapshot_dates as (

    select distinct as_of_date from buyers

),

completed_orders as (

    select
        customer_id,
        ordered_on,
        net_revenue,
        gross_margin
    from orders
    where is_completed

),

order_day_buckets as (

    -- each order day's bucket: the earliest snapshot date on or after it (later days fall into none)
    {{ snapshot_buckets('completed_orders', 'snapshot_dates') }}

),

first_order_days as (

    select distinct
        customer_id,
        first_order_on
    from buyers

),

first_orders as (

    -- each horizon's window end once per customer, not once per order
    select
        customer_id,
        {%- for h in horizons %}
            cast({{ dbt.dateadd('month', h, 'first_order_on') }} as date) as window_end_{{ h }}m,
        {%- endfor %}
        first_order_on
    from first_order_days

),

bucket_values as (

    -- the completed orders summed once per customer and bucket, each horizon's window from the first order on,
    -- instead of every order joined to every snapshot of its customer
    select
        first_orders.customer_id,
        first_orders.first_order_on,
        order_day_buckets.bucket_date,
        {%- for h in horizons %}
            {%- set in_window = 'completed_orders.ordered_on < first_orders.window_end_' ~ h ~ 'm' %}
            sum(case when {{ in_window }} then completed_orders.net_revenue else 0 end) as revenue_first_{{ h }}m,
            sum(case when {{ in_window }} then completed_orders.gross_margin else 0 end) as margin_first_{{ h }}m,
        {%- endfor %}
        sum(completed_orders.net_revenue) as revenue_to_date,
        sum(completed_orders.gross_margin) as margin_to_date
    from first_orders
    inner join completed_orders on first_orders.customer_id = completed_orders.customer_id
    inner join order_day_buckets on completed_orders.ordered_on = order_day_buckets.ordered_on
    group by first_orders.customer_id, first_orders.first_order_on, order_day_buckets.bucket_date

),

final as (

    -- a snapshot sums its customer's buckets up to its date: the completed orders on or before it
    select
        buyers.as_of_date,
        buyers.customer_id,
        buyers.acquisition_channel,
        buyers.cohort_month,
        buyers.first_order_on,
        {%- for h in horizons %}
            {%- set window_end = 'cast(' ~ dbt.dateadd('month', h, 'buyers.first_order_on') ~ ' as date)' %}
            sum(bucket_values.revenue_first_{{ h }}m) as revenue_first_{{ h }}m,
            sum(bucket_values.margin_first_{{ h }}m) as margin_first_{{ h }}m,
            {{ window_end }} <= cast({{ dbt.dateadd('day', 1, 'buyers.as_of_date') }} as date) as has_reached_{{ h }}m,
            {{ is_cohort_mature('buyers.cohort_month', h, 'buyers.as_of_date') }} as is_cohort_mature_{{ h }}m,
        {%- endfor %}
        sum(bucket_values.revenue_to_date) as revenue_to_date,
        sum(bucket_values.margin_to_date) as margin_to_date
    from buyers
    inner join bucket_values
        on
            buyers.customer_id = bucket_values.customer_id
            and buyers.first_order_on = bucket_values.first_order_on
            and buyers.as_of_date >= bucket_values.bucket_date
    group by
        buyers.as_of_date,
        buyers.customer_id,
        buyers.acquisition_channel,
        buyers.cohort_month,
        buyers.first_order_on

)

select * from final
