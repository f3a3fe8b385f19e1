-- Every raw product row, typed, with the reason it is quarantined (null = clean). 1:1 with the raw input, with
-- the CSV lines the reader could not parse added by the post-hook.
{{ config(post_hook="{{ insert_rejected_lines('products') }}") }}

with

source as (

    select * from {{ raw_relation('products') }}

),

cleaned as (

    {{ cleaned_rows('products', 'source') }}

),

parsed as (

    select
        *,
        {{ normalized_id('product_id') }} as product_key,
        coalesce({{ label('category') }}, 'uncategorised') as category_label,
        {{ parse_number('unit_cost') }} as unit_cost_number,
        {{ timestamp_candidates('launched_at', 'products') }}
    from cleaned

),

date_orders as (

    select {{ timestamp_date_orders(['launched_at']) }}
    from parsed

),

typed as (

    select
        parsed.product_key,
        parsed.unit_cost,
        parsed.launched_at,
        parsed.category_label,
        parsed.unit_cost_number,
        {{ timestamp_value('launched_at') }} as launched_at_utc,
        {{ timestamp_is_ambiguous('launched_at') }} as launched_at__ambiguous,
        {{ amount_value('unit_cost', 'unit_cost_number', 4) }} as unit_cost_value,
        {{ raw_columns('products') }}
    from parsed
    cross join date_orders

),

fingerprinted as (

    select
        *,
        {{ scan_row_id() }} as row_id,
        {{ row_fingerprint(['product_key', 'category_label', ['unit_cost_value', 'unit_cost'],
            ['launched_at_utc', 'launched_at']]) }} as row_fingerprint
    from typed

),

classified as (

    select * from {{ classify_duplicates('fingerprinted', ['product_key']) }} as deduplicated

),

reasoned as (

    select
        *,
        {{ first_quarantine_reason(
            [['product_key is null', 'missing_product_id'],
             ['is_exact_copy', 'exact_duplicate'],
             ['is_conflicting_duplicate', 'conflicting_duplicate_product_id']]
            + amount_checks('unit_cost', 'unit_cost', 'unit_cost_number', required=false)
            + timestamp_checks('launched_at', 'launched_at', 'launched_at_utc')
        ) }} as quarantine_reason
    from classified

),

final as (

    select
        product_key as product_id,
        category_label as category,
        unit_cost_value as unit_cost,
        cast(launched_at_utc as date) as launched_on,
        raw_product_id,
        raw_category,
        raw_unit_cost,
        raw_launched_at,
        quarantine_reason,
        case when quarantine_reason is not null then {{ raw_row_json('products') }} end as raw_row,
        cast(null as bigint) as source_line
    from reasoned

)

select * from final
