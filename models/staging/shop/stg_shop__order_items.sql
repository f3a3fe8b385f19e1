with

base as (

    select * from {{ ref('base_shop__order_items') }}

),

final as (

    select
        {{ dbt.concat(['order_id', "'|'", 'product_id']) }} as order_item_id,
        order_id,
        product_id,
        quantity,
        unit_price,
        discount_amount,
        cast(quantity * unit_price - discount_amount as decimal(18, 2)) as line_amount
    from base
    where quarantine_reason is null

)

select * from final
