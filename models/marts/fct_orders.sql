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

    select * from orders

)

select * from final
