-- Customers due for a reorder reminder today in one segment, most overdue first, with what to offer them.
-- The segment is a column of fct_customer_segments and a value, e.g.
-- `clv dbt -- compile --select customers_due_for_reorder_in_segment
--  --vars '{reorder_segment_column: rfm_segment, reorder_segment_value: champions}'` (default: cvm_stage = active).
{{- check_settings(['reorder_segment_column']) }}
{%- set segment_column = var('reorder_segment_column') %}
with

next_purchase as (

    select * from {{ ref('fct_customer_next_purchase') }}

),

segments as (

    select * from {{ ref('fct_customer_segments') }}

),

final as (

    select
        next_purchase.customer_id,
        segments.{{ segment_column }} as segment_value,
        next_purchase.expected_next_purchase_on,
        next_purchase.days_overdue,
        next_purchase.typical_interval_days,
        next_purchase.interval_source,
        next_purchase.last_order_on,
        segments.cvm_stage,
        segments.recommended_action,
        segments.preferred_category,
        segments.realised_ltv
    from next_purchase
    inner join segments
        on next_purchase.customer_id = segments.customer_id
    where
        next_purchase.due_for_reorder
        and segments.{{ segment_column }} = '{{ var("reorder_segment_value") | replace("'", "''") }}'

)

select * from final
order by days_overdue desc, customer_id asc
