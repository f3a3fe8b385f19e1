-- One row per order that has at least one clean refund: recorded refund totals and timing.
with

refunds as (

    select * from {{ ref('stg_shop__refunds') }}

),

final as (

    select
        order_id,
        count(*) as refund_count,
        sum(refund_amount) as refund_amount_recorded,
        min(refunded_at) as first_refunded_at,
        max(refunded_at) as last_refunded_at
    from refunds
    group by order_id

)

select * from final
