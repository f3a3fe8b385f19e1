-- One row per clean order: gross, refunded and net revenue, completion, basket and margin, and the order's place in
-- its customer's history (published as fct_orders). Definitions: docs/metrics.md ("Orders") and the decision log.
--
-- Incremental (`clv build --incremental`, docs/operations.md "Incremental runs"): a run recomputes every order of
-- each customer whose inputs changed since the last build - an order new, changed, moved to another customer or gone
-- (status, amount, updated_at, refunds, items: the input fingerprint differs) - and replaces that customer's rows; the
-- post-hook removes the rows of orders that left the clean orders altogether. Change is found by comparing content,
-- not by a time window, so a late refund or a change without a new updated_at is never missed. A full build (a new
-- warehouse, or changed code or settings) computes every order. Incremental on DuckDB only (on Spark it needs Delta
-- tables for the delete; it is rebuilt there).
{{ config(
    materialized=('incremental' if target.type == 'duckdb' else 'table'),
    incremental_strategy='delete+insert',
    unique_key='customer_id',
    on_schema_change='fail',
    post_hook="{{ delete_rows_gone_from(['order_id', 'customer_id'], ref('stg_shop__orders')) }}"
) }}
--
-- Scale (docs/benchmarks.md, "Orders at 100M: no wide CTE materialized"): no CTE holding every column is
-- materialized or sorted. The order numbers' window runs on a narrow projection (keys of the completed orders, from
-- the clean orders and their refund totals only) joined back by order id; the wide CTEs are inlined where read.
with

orders as {{ not_materialized() }} (

    select * from {{ ref('stg_shop__orders') }}

),

refunds as {{ not_materialized() }} (

    select * from {{ ref('int_refunds_aggregated_to_orders') }}

),

items as {{ not_materialized() }} (

    select * from {{ ref('int_order_items_aggregated_to_orders') }}

),

joined as {{ not_materialized() }} (

    select
        orders.order_id,
        orders.customer_id,
        orders.ordered_at,
        orders.ordered_on,
        orders.status,
        orders.original_currency,
        orders.order_amount,
        orders.updated_at,
        coalesce(refunds.refund_count, 0) as refund_count,
        coalesce(refunds.refund_amount_recorded, 0) as refund_amount_recorded,
        refunds.last_refunded_at,
        coalesce(items.item_lines, 0) as item_lines,
        coalesce(items.item_units, 0) as item_units,
        items.items_net_amount,
        items.items_cost,
        coalesce(items.distinct_categories, 0) as distinct_categories,
        items.main_category,
        coalesce(items.has_addon_category, false) as has_addon_category,
        {{ row_fingerprint([
            'orders.customer_id', 'orders.ordered_at', 'orders.status', 'orders.original_currency',
            'orders.order_amount', 'orders.updated_at', 'refunds.refund_count', 'refunds.refund_amount_recorded',
            'refunds.last_refunded_at', 'items.item_lines', 'items.item_units', 'items.items_net_amount',
            'items.items_cost', 'items.distinct_categories', 'items.main_category', 'items.has_addon_category']) }}
            as input_fingerprint
    from orders
    left join refunds on orders.order_id = refunds.order_id
    left join items on orders.order_id = items.order_id

),
{% if is_incremental() %}

    previous as (

        select
            order_id,
            customer_id,
            input_fingerprint
        from {{ this }}

    ),

    changed_customers as (

        -- an order row on one side only: new, changed or moved (this build's inputs), or gone or moved away (the
        -- previous build's row); one pass over both sides
        select distinct coalesce(joined.customer_id, previous.customer_id) as customer_id
        from joined
        full outer join previous
            on
                joined.order_id = previous.order_id
                and joined.customer_id = previous.customer_id
                and joined.input_fingerprint = previous.input_fingerprint
        where joined.order_id is null or previous.order_id is null

    ),
{% endif %}

scoped as {{ not_materialized() }} (

    -- every order of a changed customer: its order numbers and previous-order gaps are recomputed together
    {{ rows_of_changed_customers('joined') }}

),

revenue as {{ not_materialized() }} (

    select
        *,
        -- a cancelled order earns nothing; a refunded one is refunded in full; refund rows are capped at the order
        -- amount (the excess is kept visible below): macros/order_completion.sql
        {{ order_gross_revenue() }} as gross_revenue,
        {{ order_refunded_amount() }} as refunded_amount,
        case
            when status = 'cancelled' then 0
            else greatest(refund_amount_recorded - order_amount, 0)
        end as excess_refund_amount,
        status = 'partially_refunded' and refund_amount_recorded = 0 as is_refund_amount_unknown
    from scoped

),

completion as {{ not_materialized() }} (

    select
        *,
        gross_revenue - refunded_amount as net_revenue,
        status = 'cancelled' as is_cancelled,
        status <> 'cancelled' and gross_revenue > 0 and refunded_amount >= gross_revenue as is_fully_refunded,
        -- a completed order is a real purchase that the customer kept (at least in part)
        {{ order_is_completed() }} as is_completed,
        -- order-level margin rate: from item costs when every line has a cost, else the documented default
        case
            when items_cost is not null and items_net_amount > 0
                then cast(1 - items_cost / items_net_amount as double)
            else cast({{ var('gross_margin_rate') }} as double)
        end as margin_rate,
        case
            when items_cost is not null and items_net_amount > 0 then 'item_costs'
            else 'default_rate'
        end as margin_source
    from revenue

),

completed_keys as (

    -- the completed orders' keys, from the clean orders and their refund totals only (not from `completion`: read
    -- twice, the wide rows would be materialized); the same completion formulas (macros/order_completion.sql)
    select
        orders.order_id,
        orders.customer_id,
        orders.ordered_at
    from orders
    left join refunds on orders.order_id = refunds.order_id
    {%- if is_incremental() %}
        inner join changed_customers on orders.customer_id = changed_customers.customer_id
    {%- endif %}
    where {{ order_is_completed(
        'orders.status',
        order_gross_revenue('orders.status', 'orders.order_amount'),
        order_refunded_amount('orders.status', 'orders.order_amount', 'coalesce(refunds.refund_amount_recorded, 0)')
    ) }}

),

sequences as (

    -- each completed order's place in its customer's history, on the narrow keys (sorting the wide rows for the
    -- windows cost more than every other step of this model); joined back by order id
    select
        order_id,
        row_number() over (partition by customer_id order by ordered_at, order_id) as customer_order_number,
        lag(ordered_at) over (partition by customer_id order by ordered_at, order_id)
            as previous_completed_ordered_at
    from completed_keys

),

sequenced as (

    select
        completion.*,
        cast(completion.net_revenue * completion.margin_rate as double) as gross_margin,
        sequences.customer_order_number,
        sequences.previous_completed_ordered_at
    from completion
    left join sequences on completion.order_id = sequences.order_id

),

final as (

    select
        order_id,
        customer_id,
        ordered_at,
        ordered_on,
        cast({{ dbt.date_trunc('month', 'ordered_on') }} as date) as order_month,
        status,
        original_currency,
        order_amount,
        gross_revenue,
        refund_count,
        refund_amount_recorded,
        refunded_amount,
        excess_refund_amount,
        net_revenue,
        last_refunded_at,
        is_cancelled,
        is_fully_refunded,
        is_refund_amount_unknown,
        is_completed,
        coalesce(customer_order_number = 1, false) as is_first_order,
        coalesce(customer_order_number > 1, false) as is_repeat_order,
        customer_order_number,
        previous_completed_ordered_at,
        {{ elapsed_days('previous_completed_ordered_at', 'ordered_at') }} as days_since_previous_order,
        item_lines,
        item_units,
        item_lines > 0 as has_items,
        items_net_amount,
        items_cost,
        distinct_categories,
        main_category,
        has_addon_category,
        margin_rate,
        margin_source,
        gross_margin,
        updated_at,
        input_fingerprint,
        -- when the row was (re)computed: the incremental run that wrote it, or the full build
        {{ this_run_loaded_at() }} as batch_loaded_at
    from sequenced

)

select * from final
