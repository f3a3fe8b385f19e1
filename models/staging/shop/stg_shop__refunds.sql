with

base as (

    select * from {{ ref('base_shop__refunds') }}

),

final as (

    select
        refund_id,
        order_id,
        refunded_at,
        refund_amount
    from base
    where quarantine_reason is null

)

select * from final
