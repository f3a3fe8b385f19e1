-- Every raw refund row, typed, with the reason it is quarantined (null = clean). 1:1 with the raw input.
with

source as (

    select * from {{ raw_relation('refunds') }}

),

orders as (

    select
        order_id,
        min(ordered_at) as ordered_at,
        {{ dbt.bool_or('quarantine_reason is null') }} as is_clean_order
    from {{ ref('base_shop__orders') }}
    where order_id is not null
    group by order_id

),

typed as (

    select
        {{ clean_key('refund_id') }} as refund_id,
        {{ clean_key('order_id') }} as order_id,
        {{ try_cast_timestamp('refunded_at') }} as refunded_at,
        {{ try_cast_decimal('amount') }} as refund_amount,
        cast(refunded_at as {{ dbt.type_string() }}) as raw_refunded_at,
        cast(amount as {{ dbt.type_string() }}) as raw_amount,
        {{ row_fingerprint(['refund_id', 'order_id', 'refunded_at', 'amount']) }} as row_fingerprint
    from source

),

classified as (

    select
        deduplicated.*,
        orders.order_id is not null as is_known_order,
        coalesce(orders.is_clean_order, false) as is_clean_order,
        orders.ordered_at
    from {{ classify_duplicates('typed', ['refund_id']) }} as deduplicated
    left join orders on deduplicated.order_id = orders.order_id

),

final as (

    select
        refund_id,
        order_id,
        refunded_at,
        refund_amount,
        raw_refunded_at,
        raw_amount,
        {{ first_quarantine_reason([
            ['refund_id is null', 'missing_refund_id'],
            ['is_exact_copy', 'exact_duplicate'],
            ['is_conflicting_duplicate', 'conflicting_duplicate_refund_id'],
            ['order_id is null', 'missing_order_id'],
            ['not is_known_order', 'unknown_order'],
            ['not is_clean_order', 'order_quarantined'],
            ['refunded_at is null', 'unparseable_refunded_at'],
            ['refunded_at > ' ~ dbt.dateadd('day', var('future_tolerance_days'), reference_timestamp()),
                'refunded_at_in_future'],
            ['refunded_at < ordered_at', 'refunded_before_ordered'],
            ['refund_amount is null', 'unparseable_amount'],
            ['refund_amount <= 0', 'non_positive_amount'],
        ]) }} as quarantine_reason
    from classified

)

select * from final
