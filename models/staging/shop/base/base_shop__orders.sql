-- Every raw order row, typed, with the reason it is quarantined (null = clean). 1:1 with the raw input: the
-- post-hook adds the CSV lines the reader could not parse, quarantined with their raw text.
{{ config(post_hook="{{ insert_rejected_lines('orders') }}") }}

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

cleaned as (

    {{ cleaned_rows('orders', 'source') }}

),

parsed as (

    select
        *,
        {{ normalized_id('order_id') }} as order_key,
        {{ normalized_id('customer_id') }} as customer_key,
        {{ parse_number('amount') }} as amount_number,
        upper(coalesce(currency, '{{ var("reporting_currency") }}')) as original_currency,
        {{ normalize_order_status('status') }} as normalized_status,
        {{ timestamp_candidates('ordered_at', 'orders') }},
        {{ timestamp_candidates('updated_at', 'orders') }}
    from cleaned

),

date_orders as (

    select {{ timestamp_date_orders(['ordered_at', 'updated_at']) }}
    from parsed

),

typed as (

    select
        parsed.order_key,
        parsed.customer_key,
        parsed.ordered_at,
        parsed.amount,
        parsed.updated_at,
        parsed.amount_number,
        parsed.original_currency,
        parsed.normalized_status,
        {{ timestamp_value('ordered_at') }} as ordered_at_utc,
        {{ timestamp_is_ambiguous('ordered_at') }} as ordered_at__ambiguous,
        {{ timestamp_value('updated_at') }} as updated_at_utc,
        {{ timestamp_is_ambiguous('updated_at') }} as updated_at__ambiguous,
        {{ amount_value('amount', 'amount_number') }} as original_amount,
        {{ raw_columns('orders') }}
    from parsed
    cross join date_orders

),

fingerprinted as (

    select
        *,
        {{ scan_row_id() }} as row_id,
        {{ row_fingerprint(['order_key', 'customer_key', ['ordered_at_utc', 'ordered_at'],
            ['original_amount', 'amount'], 'normalized_status', 'original_currency',
            ['updated_at_utc', 'updated_at']]) }} as row_fingerprint
    from typed

),

classified as (

    select
        deduplicated.*,
        {{ rate_to_reporting('deduplicated.original_currency') }} as rate_to_reporting,
        customer_ids.customer_id is not null as is_known_customer,
        customers_present.has_customers
    from {{ classify_duplicates('fingerprinted', ['order_key'], 'updated_at_utc') }} as deduplicated
    cross join customers_present
    left join customer_ids on deduplicated.customer_key = customer_ids.customer_id

),

reasoned as (

    select
        *,
        {{ first_quarantine_reason(
            [['order_key is null', 'missing_order_id'],
             ['is_exact_copy', 'exact_duplicate'],
             ['is_superseded', 'superseded_by_newer_version'],
             ['is_conflicting_duplicate', 'conflicting_duplicate_order_id'],
             ['customer_key is null', 'missing_customer_id']]
            + timestamp_checks('ordered_at', 'ordered_at', 'ordered_at_utc', required=true)
            + amount_checks('amount', 'amount', 'amount_number')
            + [['normalized_status is null', 'unknown_status'],
               ['rate_to_reporting is null', 'unknown_currency']]
            + timestamp_checks('updated_at', 'updated_at', 'updated_at_utc')
            + [['has_customers and not is_known_customer', 'unknown_customer']]
        ) }} as quarantine_reason
    from classified

),

final as (

    select
        order_key as order_id,
        customer_key as customer_id,
        ordered_at_utc as ordered_at,
        normalized_status as status,
        original_currency,
        original_amount,
        cast(round(original_amount * rate_to_reporting, 2) as decimal(18, 2)) as order_amount,
        updated_at_utc as updated_at,
        raw_order_id,
        raw_customer_id,
        raw_ordered_at,
        raw_amount,
        raw_status,
        raw_currency,
        raw_updated_at,
        quarantine_reason,
        case when quarantine_reason is not null then {{ raw_row_json('orders') }} end as raw_row,
        cast(null as bigint) as source_line
    from reasoned

)

select * from final
