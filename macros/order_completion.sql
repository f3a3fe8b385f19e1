{#- An order's revenue and completion from its clean row (status, order_amount) and its recorded refund total
    (refund_amount_recorded, 0 without refund rows). int_orders_enriched computes them for every order; it also
    needs the completed-order condition on a narrow projection (the order numbers' window), so the formulas live
    here once. Definitions: docs/metrics.md ("Orders"). -#}

{#- a cancelled order earns nothing, whatever was charged or refunded -#}
{% macro order_gross_revenue(status='status', order_amount='order_amount') -%}
    case when {{ status }} = 'cancelled' then 0 else {{ order_amount }} end
{%- endmacro %}

{#- status 'refunded' is a full refund even when refund rows are missing or short; otherwise refund rows count,
    capped at the order amount (int_orders_enriched keeps the excess visible) -#}
{% macro order_refunded_amount(status='status', order_amount='order_amount',
    refund_amount_recorded='refund_amount_recorded') -%}
    case
        when {{ status }} = 'cancelled' then 0
        when {{ status }} = 'refunded' then {{ order_amount }}
        else least({{ refund_amount_recorded }}, {{ order_amount }})
    end
{%- endmacro %}

{#- a completed order is a real purchase that the customer kept (at least in part): not cancelled, not fully
    refunded. `gross_revenue` and `refunded_amount`: the two expressions above (or columns holding them) -#}
{% macro order_is_completed(status='status', gross_revenue='gross_revenue', refunded_amount='refunded_amount') -%}
    ({{ status }} <> 'cancelled' and not ({{ gross_revenue }} > 0 and {{ refunded_amount }} >= {{ gross_revenue }}))
{%- endmacro %}
