-- Every raw product row, typed, with the reason it is quarantined (null = clean). 1:1 with the raw input.
with

source as (

    select * from {{ raw_relation('products') }}

),

typed as (

    select
        {{ clean_key('product_id') }} as product_id,
        coalesce({{ clean_label('category') }}, 'uncategorised') as category,
        {{ try_cast_decimal('unit_cost', 18, 4) }} as unit_cost,
        cast({{ try_cast_timestamp('launched_at') }} as date) as launched_on,
        cast(unit_cost as {{ dbt.type_string() }}) as raw_unit_cost,
        cast(launched_at as {{ dbt.type_string() }}) as raw_launched_at,
        {{ row_fingerprint(['product_id', 'category', 'unit_cost', 'launched_at']) }} as row_fingerprint
    from source

),

classified as (

    select * from {{ classify_duplicates('typed', ['product_id']) }} as deduplicated

),

final as (

    select
        product_id,
        category,
        unit_cost,
        launched_on,
        raw_unit_cost,
        raw_launched_at,
        {{ first_quarantine_reason([
            ['product_id is null', 'missing_product_id'],
            ['is_exact_copy', 'exact_duplicate'],
            ['is_conflicting_duplicate', 'conflicting_duplicate_product_id'],
            ['raw_unit_cost is not null and unit_cost is null', 'unparseable_unit_cost'],
            ['unit_cost < 0', 'negative_unit_cost'],
            ['raw_launched_at is not null and launched_on is null', 'unparseable_launched_at'],
        ]) }} as quarantine_reason
    from classified

)

select * from final
