-- Every raw order-line row, typed, with the reason it is quarantined (null = clean). 1:1 with the raw input, with
-- the CSV lines the reader could not parse added by the post-hook.
--
-- Incremental (macros/staging/load_state.sql, staged_source): a run stages the new batch files' rows, or the rows of
-- a changed snapshot file that differ from the stored ones, together with the stored rows of every order line
-- (order id, product id) they touch and of the lines whose order or product verdict changed (rejudged: the lines of
-- the orders base_shop__orders rewrote in this run or no longer has, of every order when it rewrote them all, and of
-- the products that came or went); a changed or vanished batch file rebuilds the table in full (the ledger says why).
{%- set key_columns = state_tables()['order_items'].key_columns %}
{%- set plan = staging_load_plan('order_items') %}
{{ config(**staged_model_config('order_items')) }}

with

product_ids as (

    select distinct product_id from {{ ref('base_shop__products') }}
    where product_id is not null

),

products_present as (

    select count(*) > 0 as has_products from product_ids

),

{%- if plan.incremental %}

    order_ids as (

        -- every order's verdict: stored lines are rejudged by it (the staged lines read line_orders)
        {{ order_verdicts() }}

    ),
    {#- the orders base_shop__orders rewrote in this run; when it rewrote every row (a rebuild), every order: an order
        id may have vanished, its lines' verdict changed with it -#}
    {%- set orders_rewritten_in_part = run_query("select count(*) > 0 from " ~ ref('base_shop__orders')
        ~ " where batch_loaded_at <> " ~ this_run_loaded_at()).columns[0].values()[0] %}

    {%- if orders_rewritten_in_part %}

        rewritten_order_ids as (

            select order_ids.*
            from order_ids
            where order_ids.order_id in (
                select rewritten.order_id from {{ ref('base_shop__orders') }} as rewritten
                where rewritten.batch_loaded_at = {{ this_run_loaded_at() }}
            )

        ),
    {%- endif %}

    stored_products as (

        select distinct
            stored.product_id,
            stored.is_known_product
        from {{ this }} as stored
        where stored.state_key is not null

    ),

    rejudged_products as (

        -- products that came or went, whose lines' verdict changed with them
        select stored_products.product_id
        from stored_products
        left join product_ids on stored_products.product_id = product_ids.product_id
        where stored_products.is_known_product <> (product_ids.product_id is not null)

    ),

    rejudged as (

        select stored.state_key
        from {{ this }} as stored
        {{- ' inner' if orders_rewritten_in_part else ' left' }} join
            {{ 'rewritten_order_ids' if orders_rewritten_in_part else 'order_ids' }} as order_ids
            on stored.order_id = order_ids.order_id
        where
            stored.state_key is not null
            and (
                stored.is_known_order <> (order_ids.order_id is not null)
                or stored.is_clean_order <> coalesce(order_ids.is_clean_order, false)
            )
        {%- if orders_rewritten_in_part %}
            union
            -- the lines of orders gone from base_shop__orders (an orders snapshot read by difference deletes the ids
            -- its file no longer has)
            select stored.state_key
            from {{ this }} as stored
            where
                stored.state_key is not null
                and stored.is_known_order
                and stored.order_id not in (select order_ids.order_id from order_ids)
        {%- endif %}
        union
        select stored.state_key
        from {{ this }} as stored
        cross join products_present
        where
            stored.state_key is not null
            and (
                stored.product_id in (select rejudged_products.product_id from rejudged_products)
                or stored.has_products <> products_present.has_products
            )

    ),
{%- endif %}

source as (

    {{ staged_source('order_items', plan, key_columns, 'select state_key from rejudged' if plan.incremental) }}

),

duplicate_keys as (

    -- the order lines (order id, product id) more than one staged row carries, by state key: only their rows are
    -- typed a second time, for the duplicate classification (docs/benchmarks.md, "Order chain at 10M")
    select state_key
    from source
    group by state_key
    having count(*) > 1

),

marked as (

    select
        source.*,
        duplicate_keys.state_key is not null as has_duplicate_key
    from source
    left join duplicate_keys on source.state_key = duplicate_keys.state_key

),

cleaned as (

    {{ cleaned_rows('order_items', 'marked', carry=['batch_file', 'batch_row_id', 'batch_read_at', 'state_key',
        'has_duplicate_key']) }}

),

typed as (

    select
        *,
        {{ normalized_id('order_id') }} as order_key,
        {{ normalized_id('product_id') }} as product_key,
        {{ parse_integer('quantity') }} as quantity_number,
        {{ parse_number('unit_price') }} as unit_price_number,
        {{ amount_value('unit_price', parse_number('unit_price')) }} as unit_price_value,
        {{ parse_number('discount_amount') }} as discount_number,
        coalesce({{ amount_value('discount_amount', parse_number('discount_amount')) }}, 0) as discount_value
    from cleaned

),

fingerprinted as (

    select
        *,
        batch_row_id as row_id,
        {{ row_fingerprint(['order_key', 'product_key', ['quantity_number', 'quantity'],
            ['unit_price_value', 'unit_price'], ['discount_value', 'discount_amount']]) }} as row_fingerprint
    from typed

),

line_orders as (

    -- the verdicts of the orders the staged lines name, only those read
    {{ order_verdicts('select fingerprinted.order_key from fingerprinted') }}

),

classified as (

    select
        deduplicated.*,
        line_orders.order_id is not null as is_known_order,
        coalesce(line_orders.is_clean_order, false) as is_clean_order,
        product_ids.product_id is not null as is_known_product,
        products_present.has_products
    from {{ classify_duplicates('fingerprinted', ['order_key', 'product_key'], candidates='has_duplicate_key') }}
        as deduplicated
    cross join products_present
    left join line_orders on deduplicated.order_key = line_orders.order_id
    left join product_ids on deduplicated.product_key = product_ids.product_id

),

reasoned as (

    select
        *,
        {{ first_quarantine_reason(
            [['order_key is null', 'missing_order_id'],
             ['product_key is null', 'missing_product_id'],
             ['is_exact_copy', 'exact_duplicate'],
             ['is_conflicting_duplicate', 'conflicting_duplicate_order_line'],
             ['quantity is null', 'missing_quantity'],
             ['quantity_number is null', 'unparseable_quantity'],
             ['quantity_number <= 0', 'non_positive_quantity'],
             ['quantity_number > ' ~ var('max_quantity'), 'quantity_out_of_range']]
            + amount_checks('unit_price', 'unit_price', 'unit_price_number')
            + amount_checks('discount_amount', 'discount_amount', 'discount_number', required=false)
            + [['discount_value > quantity_number * unit_price_value', 'discount_exceeds_line_amount'],
               ['not is_known_order', 'unknown_order'],
               ['not is_clean_order', 'order_quarantined'],
               ['has_products and not is_known_product', 'unknown_product']]
        ) }} as quarantine_reason
    from classified

),

final as (

    select
        order_key as order_id,
        product_key as product_id,
        quantity_number as quantity,
        unit_price_value as unit_price,
        discount_value as discount_amount,
        {{ raw_columns('order_items') }},
        quarantine_reason,
        case when quarantine_reason is not null then {{ raw_row_json('order_items') }} end as raw_row,
        cast(null as bigint) as source_line,
        {{ staged_state_columns() }},
        is_known_order,
        is_clean_order,
        is_known_product,
        has_products
    from reasoned

)

select * from final
