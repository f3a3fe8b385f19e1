-- One row per clean order: gross, refunded and net revenue, completion, basket and margin, and the order's place in
-- its customer's history. Computed in int_orders_enriched (which intermediate models read); this is its published
-- face. Definitions: the docs blocks of the columns (docs/metrics.md, "Orders") and the decision log.
-- A view: int_orders_enriched is the table; a copy of its rows would cost a full write and be read by no model.
{{ config(materialized='view') }}
with

orders as (

    select * from {{ ref('int_orders_enriched') }}

),

final as (

    -- every column but the incremental bookkeeping (input_fingerprint, batch_loaded_at)
    select
        order_id,
        customer_id,
        ordered_at,
        ordered_on,
        order_month,
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
        is_first_order,
        is_repeat_order,
        customer_order_number,
        previous_completed_ordered_at,
        days_since_previous_order,
        {{ if_input('order_items', 'item_lines') }} as item_lines,
        {{ if_input('order_items', 'item_units') }} as item_units,
        {{ if_input('order_items', 'has_items') }} as has_items,
        items_net_amount,
        items_cost,
        {{ if_input(['order_items', 'products'], 'distinct_categories') }} as distinct_categories,
        main_category,
        {{ if_input(['order_items', 'products'], 'has_addon_category') }} as has_addon_category,
        margin_rate,
        margin_source,
        gross_margin,
        updated_at
    from orders

)

select * from final
