-- One row per as-of snapshot x order bucket x recency bucket: the probability that a buyer silent for `recency_from`
-- days after their n-th completed order (n capped at var('lifetime_return_max_order_bucket')) orders again - what
-- the time since the last order says about whether a customer is still alive. Read from the resolved orders: those
-- placed more than var('cvm_lapsed_days') before the as-of date, whose outcome (another order, or lapsed) is known.
--   silent    resolved orders with no next completed order within recency_from days (by the as-of date)
--   returned  of those, the ones followed by another completed order (by the as-of date)
--   return_probability = returned / silent
-- A cell with fewer than var('lifetime_min_at_risk') silent orders pools the order buckets; below that too it is 1
-- (status not_estimable: the customer is projected as alive). Used by int_customers_lifetimes_projected.
-- Definitions: docs block "expected_lifetime" (docs/metrics.md).
{%- set bucket_days = var('lifetime_return_recency_bucket_days') | int %}
{%- set recency_buckets = (var('cvm_lapsed_days') | int // bucket_days) + 1 %}
{%- set max_order_bucket = var('lifetime_return_max_order_bucket') | int %}
with

orders as (

    select * from {{ ref('int_orders_enriched') }}

),

as_of as (

    select * from {{ ref('int_as_of_snapshots') }}

),

completed as (

    select
        customer_id,
        ordered_on,
        row_number() over (partition by customer_id order by ordered_at, order_id) as completed_order_number,
        lead(ordered_on) over (partition by customer_id order by ordered_at, order_id) as next_order_on
    from orders
    where is_completed

),

resolved as (

    -- per snapshot: the orders whose outcome is known, with the gap to the next order placed by the as-of date
    select
        as_of.as_of_date,
        least(completed.completed_order_number, {{ max_order_bucket }}) as order_bucket,
        case
            when completed.next_order_on <= as_of.as_of_date
                then {{ days_between('completed.ordered_on', 'completed.next_order_on') }}
        end as gap_days
    from completed
    inner join as_of
        on {{ days_between('completed.ordered_on', 'as_of.as_of_date') }} > {{ var('cvm_lapsed_days') }}

),

recency_grid as (

    select n * {{ bucket_days }} as recency_from
    from {{ integer_series(recency_buckets) }} as buckets

),

cells as (

    select
        resolved.as_of_date,
        resolved.order_bucket,
        recency_grid.recency_from,
        count(*) as silent_orders,
        count(resolved.gap_days) as returned_orders
    from resolved
    inner join recency_grid
        on resolved.gap_days is null or resolved.gap_days > recency_grid.recency_from
    group by resolved.as_of_date, resolved.order_bucket, recency_grid.recency_from

),

pooled as (

    select
        as_of_date,
        recency_from,
        sum(silent_orders) as pooled_silent_orders,
        sum(returned_orders) as pooled_returned_orders
    from cells
    group by as_of_date, recency_from

),

grid as (

    select
        as_of.as_of_date,
        order_buckets.n + 1 as order_bucket,
        recency_grid.recency_from
    from as_of
    cross join {{ integer_series(max_order_bucket) }} as order_buckets
    cross join recency_grid

),

final as (

    select
        grid.as_of_date,
        grid.order_bucket,
        grid.recency_from,
        coalesce(cells.silent_orders, 0) as silent_orders,
        coalesce(cells.returned_orders, 0) as returned_orders,
        case
            when cells.silent_orders >= {{ var('lifetime_min_at_risk') }} then 'estimated'
            when pooled.pooled_silent_orders >= {{ var('lifetime_min_at_risk') }} then 'pooled_order_buckets'
            else 'not_estimable'
        end as return_probability_status,
        case
            when cells.silent_orders >= {{ var('lifetime_min_at_risk') }}
                then {{ safe_divide('cells.returned_orders', 'cells.silent_orders') }}
            when pooled.pooled_silent_orders >= {{ var('lifetime_min_at_risk') }}
                then {{ safe_divide('pooled.pooled_returned_orders', 'pooled.pooled_silent_orders') }}
            else 1.0
        end as return_probability
    from grid
    left join cells
        on
            grid.as_of_date = cells.as_of_date
            and grid.order_bucket = cells.order_bucket
            and grid.recency_from = cells.recency_from
    left join pooled
        on grid.as_of_date = pooled.as_of_date and grid.recency_from = pooled.recency_from

)

select * from final
