-- Every raw order-line row, typed, with the reason it is quarantined (null = clean). 1:1 with the raw input.
with

source as (

    select * from {{ raw_relation('order_items') }}

),

order_ids as (

    select
        order_id,
        {{ dbt.bool_or('quarantine_reason is null') }} as is_clean_order
    from {{ ref('base_shop__orders') }}
    where order_id is not null
    group by order_id

),

product_ids as (

    select distinct product_id from {{ ref('base_shop__products') }}
    where product_id is not null

),

products_present as (

    select count(*) > 0 as has_products from product_ids

),

typed as (

    select
        {{ clean_key('order_id') }} as order_id,
        {{ clean_key('product_id') }} as product_id,
        {{ try_cast_integer('quantity') }} as quantity,
        {{ try_cast_decimal('unit_price') }} as unit_price,
        coalesce({{ try_cast_decimal('discount_amount') }}, 0) as discount_amount,
        cast(quantity as {{ dbt.type_string() }}) as raw_quantity,
        cast(unit_price as {{ dbt.type_string() }}) as raw_unit_price,
        cast(discount_amount as {{ dbt.type_string() }}) as raw_discount_amount,
        {{ row_fingerprint(['order_id', 'product_id', 'quantity', 'unit_price', 'discount_amount']) }}
            as row_fingerprint
    from source

),

classified as (

    select
        deduplicated.*,
        order_ids.order_id is not null as is_known_order,
        coalesce(order_ids.is_clean_order, false) as is_clean_order,
        product_ids.product_id is not null as is_known_product,
        products_present.has_products
    from {{ classify_duplicates('typed', ['order_id', 'product_id']) }} as deduplicated
    cross join products_present
    left join order_ids on deduplicated.order_id = order_ids.order_id
    left join product_ids on deduplicated.product_id = product_ids.product_id

),

final as (

    select
        order_id,
        product_id,
        quantity,
        unit_price,
        discount_amount,
        raw_quantity,
        raw_unit_price,
        raw_discount_amount,
        {{ first_quarantine_reason([
            ['order_id is null', 'missing_order_id'],
            ['product_id is null', 'missing_product_id'],
            ['is_exact_copy', 'exact_duplicate'],
            ['is_conflicting_duplicate', 'conflicting_duplicate_order_line'],
            ['quantity is null', 'unparseable_quantity'],
            ['quantity <= 0', 'non_positive_quantity'],
            ['unit_price is null', 'unparseable_unit_price'],
            ['unit_price < 0', 'negative_unit_price'],
            ['raw_discount_amount is not null and trim(raw_discount_amount) <> \'\' and '
                ~ try_cast_decimal('raw_discount_amount') ~ ' is null', 'unparseable_discount_amount'],
            ['discount_amount < 0', 'negative_discount_amount'],
            ['discount_amount > quantity * unit_price', 'discount_exceeds_line_amount'],
            ['not is_known_order', 'unknown_order'],
            ['not is_clean_order', 'order_quarantined'],
            ['has_products and not is_known_product', 'unknown_product'],
        ]) }} as quarantine_reason
    from classified

)

select * from final
