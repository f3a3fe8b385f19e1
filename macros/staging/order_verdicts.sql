{#- One row per staged order id: its earliest order time and whether any of its rows is clean, the verdict the
    order lines and refunds are judged by (unknown_order, order_quarantined, refunded_before_ordered).
    `order_ids`: a query of the ids wanted; only those orders are read and aggregated (a semi join), so a shop
    without refunds or order lines does not aggregate every order (docs/benchmarks.md, "100M orders, run once
    more": base_shop__refunds cost a minute at 100M orders with no refunds file). None: every order. -#}
{% macro order_verdicts(order_ids=none) -%}
    select
        orders.order_id,
        min(orders.ordered_at) as ordered_at,
        {{ dbt.bool_or('orders.quarantine_reason is null') }} as is_clean_order
    from {{ ref('base_shop__orders') }} as orders
    where
        orders.order_id is not null
        {%- if order_ids %}
            and orders.order_id in ({{ order_ids }})
        {%- endif %}
    group by orders.order_id
{%- endmacro %}
