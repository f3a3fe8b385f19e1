with

base as (

    select * from {{ ref('base_shop__orders') }}

),

final as (

    select
        order_id,
        customer_id,
        ordered_at,
        cast(ordered_at as date) as ordered_on,
        status,
        order_amount,
        original_currency,
        original_amount,
        coalesce(updated_at, ordered_at) as updated_at,
        discount_code
    from base
    where quarantine_reason is null

)

select * from final
