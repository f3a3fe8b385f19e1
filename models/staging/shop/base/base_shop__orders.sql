-- Every raw order row, typed, with the reason it is quarantined (null = clean). 1:1 with the raw input.
with

source as (

    select * from {{ raw_relation('orders') }}

),

customer_ids as (

    select distinct customer_id from {{ ref('base_shop__customers') }}
    where customer_id is not null

),

customers_present as (

    select count(*) > 0 as has_customers from customer_ids

),

typed as (

    select
        {{ clean_key('order_id') }} as order_id,
        {{ clean_key('customer_id') }} as customer_id,
        {{ try_cast_timestamp('ordered_at') }} as ordered_at,
        {{ try_cast_decimal('amount') }} as original_amount,
        coalesce(upper({{ clean_key('currency') }}), '{{ var("reporting_currency") | upper }}') as original_currency,
        {{ normalize_order_status('status') }} as status,
        {{ try_cast_timestamp('updated_at') }} as updated_at,
        cast(ordered_at as {{ dbt.type_string() }}) as raw_ordered_at,
        cast(amount as {{ dbt.type_string() }}) as raw_amount,
        cast(status as {{ dbt.type_string() }}) as raw_status,
        cast(updated_at as {{ dbt.type_string() }}) as raw_updated_at,
        {{ row_fingerprint(['order_id', 'customer_id', 'ordered_at', 'amount', 'status', 'currency', 'updated_at']) }}
            as row_fingerprint
    from source

),

classified as (

    select
        deduplicated.*,
        {{ rate_to_reporting('deduplicated.original_currency') }} as rate_to_reporting,
        customer_ids.customer_id is not null as is_known_customer,
        customers_present.has_customers
    from {{ classify_duplicates('typed', ['order_id'], 'updated_at') }} as deduplicated
    cross join customers_present
    left join customer_ids on deduplicated.customer_id = customer_ids.customer_id

),

final as (

    select
        order_id,
        customer_id,
        ordered_at,
        status,
        original_currency,
        original_amount,
        cast(round(original_amount * rate_to_reporting, 2) as decimal(18, 2)) as order_amount,
        updated_at,
        raw_ordered_at,
        raw_amount,
        raw_status,
        raw_updated_at,
        {{ first_quarantine_reason([
            ['order_id is null', 'missing_order_id'],
            ['is_exact_copy', 'exact_duplicate'],
            ['is_superseded', 'superseded_by_newer_version'],
            ['is_conflicting_duplicate', 'conflicting_duplicate_order_id'],
            ['customer_id is null', 'missing_customer_id'],
            ['raw_ordered_at is null', 'missing_ordered_at'],
            ['ordered_at is null', 'unparseable_ordered_at'],
            ['ordered_at > ' ~ dbt.dateadd('day', var('future_tolerance_days'), reference_timestamp()),
                'ordered_at_in_future'],
            ['raw_amount is null', 'missing_amount'],
            ['original_amount is null', 'unparseable_amount'],
            ['original_amount < 0', 'negative_amount'],
            ['status is null', 'unknown_status'],
            ['rate_to_reporting is null', 'unknown_currency'],
            ['raw_updated_at is not null and updated_at is null', 'unparseable_updated_at'],
            ['has_customers and not is_known_customer', 'unknown_customer'],
        ]) }} as quarantine_reason
    from classified

)

select * from final
