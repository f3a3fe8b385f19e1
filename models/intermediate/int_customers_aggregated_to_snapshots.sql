-- One row per as-of snapshot (int_as_of_snapshots) x customer with any clean order: the customer's order facts up to
-- the snapshot's date (counts, sums, first and last completed order, active months, margin source; orders_placed
-- 0 and null facts when every order of the customer is later). The additive state int_customers_enriched derives
-- the as-of dependent columns from, in one pass per customer.
--
-- Incremental (docs/operations.md "Incremental runs", DECISIONLOG "Customers as additive state"): a run recomputes
-- every snapshot of each customer whose orders int_orders_enriched rewrote in this run (new, changed, refunded,
-- cancelled, moved orders), and of each customer with an order between a snapshot's previous and new date (the as-of
-- date moves with the data: only the orders crossing the moving boundary change a row); a snapshot new since the
-- last run recomputes every customer. The post-hooks stamp every row with its snapshot's new date, remove the
-- customers left without orders and the snapshots that no longer exist. A full build computes every customer.
{{ config(
    materialized=('incremental' if target.type == 'duckdb' else 'table'),
    incremental_strategy='delete+insert',
    unique_key='customer_id',
    on_schema_change='fail',
    post_hook=[
        "{{ restamp_snapshot_dates(ref('int_as_of_snapshots')) }}",
        "{{ delete_rows_gone_from(['customer_id'], ref('int_orders_enriched')) }}",
        "{{ delete_rows_gone_from(['as_of_snapshot'], ref('int_as_of_snapshots')) }}"
    ]
) }}
with

-- A full build reads every order: the orders and the CTEs over them are inlined where read (a projection of the
-- columns each reader needs), not materialized whole (docs/benchmarks.md, "The customer x snapshot state at 100M").
-- An incremental run keeps its few changed customers' orders materialized once.
orders as {{ not_materialized() }} (

    select * from {{ ref('int_orders_enriched') }}

),

snapshots as (

    select * from {{ ref('int_as_of_snapshots') }}

),
{% if is_incremental() %}

    previous_snapshots as (

        select
            as_of_snapshot,
            max(as_of_date) as previous_as_of_date
        from {{ this }}
        group by as_of_snapshot

    ),

    moved_snapshots as (

        -- a snapshot whose date moved since the last run (or that is new: every customer is recomputed)
        select
            snapshots.as_of_date,
            previous_snapshots.previous_as_of_date
        from snapshots
        left join previous_snapshots on snapshots.as_of_snapshot = previous_snapshots.as_of_snapshot
        where previous_snapshots.previous_as_of_date is distinct from snapshots.as_of_date

    ),

    changed_customers as (

        select customer_id
        from orders
        where {{ rewritten_in_this_run('customer_id', 'orders') }}
        union
        -- an order between a snapshot's previous and new date enters or leaves that snapshot
        select orders.customer_id
        from orders
        inner join moved_snapshots
            on
                moved_snapshots.previous_as_of_date is null
                or (
                    orders.ordered_on > least(moved_snapshots.previous_as_of_date, moved_snapshots.as_of_date)
                    and orders.ordered_on <= greatest(moved_snapshots.previous_as_of_date, moved_snapshots.as_of_date)
                )

    ),
{% endif %}

scoped_orders as {{ not_materialized() if not is_incremental() }} (

    {{ rows_of_changed_customers('orders') }}

),

customer_ids as (

    select distinct customer_id from scoped_orders

),

-- Without joining every order to every snapshot (that doubled the orders): each order day falls into one bucket,
-- the earliest snapshot on or after it (later days into none); orders are aggregated once per customer and bucket,
-- and a snapshot sums the buckets up to its date. Every fact adds up across buckets (counts and sums; min and max
-- combine), except active months, which count each customer's month once, in the bucket of its first completed
-- order.
order_day_buckets as (

    {{ snapshot_buckets('scoped_orders', 'snapshots') }}

),

bucketed_orders as {{ not_materialized() if not is_incremental() }} (

    select
        order_day_buckets.bucket_date,
        scoped_orders.customer_id,
        scoped_orders.ordered_at,
        scoped_orders.order_month,
        scoped_orders.is_completed,
        scoped_orders.is_cancelled,
        scoped_orders.is_fully_refunded,
        scoped_orders.gross_revenue,
        scoped_orders.refunded_amount,
        scoped_orders.net_revenue,
        scoped_orders.gross_margin,
        scoped_orders.item_units,
        scoped_orders.has_items,
        scoped_orders.margin_source
    from scoped_orders
    inner join order_day_buckets on scoped_orders.ordered_on = order_day_buckets.ordered_on

),

bucket_facts as (

    -- the completed-order facts as aggregate filters: one pass over the orders, no join that doubles them
    select
        bucket_date,
        customer_id,
        count(*) as orders_placed,
        count(*) filter (where is_completed) as completed_orders,
        count(*) filter (where is_cancelled) as cancelled_orders,
        count(*) filter (where is_fully_refunded) as fully_refunded_orders,
        min(ordered_at) filter (where is_completed) as first_order_at,
        max(ordered_at) filter (where is_completed) as last_order_at,
        sum(gross_revenue) as gross_revenue,
        sum(refunded_amount) as refunded_amount,
        sum(net_revenue) as net_revenue,
        sum(gross_margin) as gross_margin,
        sum(item_units) filter (where is_completed) as completed_item_units,
        count(*) filter (where is_completed and has_items) as completed_orders_with_items,
        min(margin_source) as min_margin_source,
        max(margin_source) as max_margin_source
    from bucketed_orders
    group by bucket_date, customer_id

),

active_month_buckets as (

    -- each customer's active month, in the bucket of its first completed order
    select
        customer_id,
        min(bucket_date) as bucket_date
    from bucketed_orders
    where is_completed
    group by customer_id, order_month

),

active_month_counts as (

    select
        bucket_date,
        customer_id,
        count(*) as active_months
    from active_month_buckets
    group by bucket_date, customer_id

),

bucket_totals as (

    -- a customer's bucket facts and the active months first seen in that bucket
    select
        bucket_facts.*,
        active_month_counts.active_months
    from bucket_facts
    left join active_month_counts
        on
            bucket_facts.customer_id = active_month_counts.customer_id
            and bucket_facts.bucket_date = active_month_counts.bucket_date

),

running_facts as (

    -- the facts up to each of the customer's buckets: running totals over its buckets in date order (a bucket is a
    -- snapshot date), instead of joining every bucket to every later snapshot and aggregating again
    select
        customer_id,
        bucket_date,
        lead(bucket_date) over (partition by customer_id order by bucket_date) as next_bucket_date,
        cast(sum(orders_placed) over customer_buckets as bigint) as orders_placed,
        sum(completed_orders) over customer_buckets as completed_orders,
        sum(cancelled_orders) over customer_buckets as cancelled_orders,
        sum(fully_refunded_orders) over customer_buckets as fully_refunded_orders,
        min(first_order_at) over customer_buckets as first_order_at,
        max(last_order_at) over customer_buckets as last_order_at,
        sum(gross_revenue) over customer_buckets as gross_revenue,
        sum(refunded_amount) over customer_buckets as refunded_amount,
        sum(net_revenue) over customer_buckets as net_revenue,
        sum(gross_margin) over customer_buckets as gross_margin,
        sum(completed_item_units) over customer_buckets as completed_item_units,
        cast(sum(completed_orders_with_items) over customer_buckets as bigint) as completed_orders_with_items,
        cast(coalesce(sum(active_months) over customer_buckets, 0) as bigint) as active_months,
        case
            when min(min_margin_source) over customer_buckets = max(max_margin_source) over customer_buckets
                then min(min_margin_source) over customer_buckets
            else 'mixed'
        end as margin_source
    from bucket_totals
    window customer_buckets as (
        partition by customer_id order by bucket_date rows between unbounded preceding and current row
    )

),

order_facts as (

    -- each snapshot takes the running facts of the customer's latest bucket on or before its date
    select
        snapshots.as_of_snapshot,
        running_facts.customer_id,
        running_facts.orders_placed,
        running_facts.completed_orders,
        running_facts.cancelled_orders,
        running_facts.fully_refunded_orders,
        running_facts.first_order_at,
        running_facts.last_order_at,
        running_facts.gross_revenue,
        running_facts.refunded_amount,
        running_facts.net_revenue,
        running_facts.gross_margin,
        running_facts.completed_item_units,
        running_facts.completed_orders_with_items,
        running_facts.active_months,
        running_facts.margin_source
    from running_facts
    inner join snapshots
        on
            running_facts.bucket_date <= snapshots.as_of_date
            and (running_facts.next_bucket_date is null or running_facts.next_bucket_date > snapshots.as_of_date)

),

final as (

    -- every snapshot of every customer in scope: a customer whose orders all come later has orders_placed 0 and
    -- no facts (null; its row is replaced when an order enters the snapshot)
    select
        snapshots.as_of_snapshot,
        snapshots.as_of_date,
        customer_ids.customer_id,
        coalesce(order_facts.orders_placed, 0) as orders_placed,
        order_facts.completed_orders,
        order_facts.cancelled_orders,
        order_facts.fully_refunded_orders,
        order_facts.first_order_at,
        order_facts.last_order_at,
        order_facts.gross_revenue,
        order_facts.refunded_amount,
        order_facts.net_revenue,
        order_facts.gross_margin,
        order_facts.completed_item_units,
        order_facts.completed_orders_with_items,
        order_facts.active_months,
        order_facts.margin_source,
        {{ this_run_loaded_at() }} as batch_loaded_at
    from customer_ids
    cross join snapshots
    left join order_facts
        on
            customer_ids.customer_id = order_facts.customer_id
            and snapshots.as_of_snapshot = order_facts.as_of_snapshot

)

select * from final
