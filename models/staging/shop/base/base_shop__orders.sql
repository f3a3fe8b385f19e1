-- Every raw order row, typed, with the reason it is quarantined (null = clean). 1:1 with the raw input: the
-- post-hook adds the CSV lines the reader could not parse, quarantined with their raw text.
--
-- Incremental (docs/operations.md "Incremental runs"): the decisions are kept as state. A run reads only the batch
-- files the load ledger has not loaded (macros/staging/load_state.sql, staging_load_plan), types them under the
-- stored day/month order of each date column, and re-classifies duplicates and versions only for the order ids
-- the new rows touch, reading those ids' stored rows back (plus the rows whose customer became known or unknown, and
-- those quarantined as in the future, whose verdict moves with the reference date). A changed snapshot file is read
-- by difference (snapshot_diff): only the file's rows of the ids whose raw rows changed, came or went are staged,
-- replacing those ids' stored rows; the pre-hook deletes the ids the file no longer has. A changed or vanished
-- loaded batch file, or new rows that change a date column's day/month order, rebuild the table in full (the
-- ledger says why).
-- Rows (re)written by a run carry its time in batch_loaded_at (macros/incremental.sql, this_run_loaded_at).
{%- set date_columns = state_tables()['orders'].date_columns %}
{%- set plan = staging_load_plan('orders') %}
{%- set date_order_columns = [] %}
{%- for column in date_columns %}
    {%- do date_order_columns.append(column ~ '__date_order') %}
{%- endfor %}
{{ config(
    materialized=('incremental' if target.type == 'duckdb' else 'table'),
    incremental_strategy='delete+insert',
    unique_key='order_id',
    pre_hook="{{ staging_rebuild_delete('orders') }}",
    post_hook=["{{ insert_rejected_lines('orders', with_batch=true, extra={'batch_read_at': this_run_loaded_at(),
        'batch_loaded_at': this_run_loaded_at()}) }}", "{{ drop_snapshot_diff() }}"]
) }}

with

{#- `source` is read three times (duplicate keys, date readings, every column): a Parquet file or a table is scanned
    again at each reference, only the columns it needs, instead of materializing every raw row (at 100M orders that
    copy spilled ~18 GB: docs/benchmarks.md, "100M orders, run once more"); CSV text is parsed once and kept. #}
source as {{ not_materialized() if not raw_input_is_csv('orders') }} (

    {%- if plan.incremental and plan.diff %}
        select diff_rows.* exclude (state_key, is_vanished)
        from {{ plan.diff_relation }} as diff_rows
        where not diff_rows.is_vanished
    {%- else %}
        select * from {{ raw_relation('orders', batches=plan.read, with_batch=true) }}
    {%- endif %}

),

duplicate_keys as (

    -- the order ids more than one raw row carries (as hashes: a collision only adds rows), found on the raw rows:
    -- only their rows are typed a second time, for the duplicate and version classification, so the typed rows are
    -- never materialized (docs/benchmarks.md, "Order chain at 10M")
    select {{ raw_state_key(['order_id']) }} as key_hash
    from source
    group by {{ raw_state_key(['order_id']) }}
    having count(*) > 1

),

customer_ids as (

    select distinct customer_id from {{ ref('base_shop__customers') }}
    where customer_id is not null

),

customers_present as (

    select count(*) > 0 as has_customers from customer_ids

),

dated as (

    -- the readings of the date columns, which decide each column's day/month order
    select
        {{ timestamp_candidates('ordered_at', 'orders') }},
        {{ timestamp_candidates('updated_at', 'orders') }}
    from ({{ cleaned_rows('orders', 'source') }}) as cleaned

),

date_orders as (

    {{ staged_date_orders(plan, date_columns, 'dated') }}

),

marked as (

    select
        source.*,
        {%- for column in date_columns %}
            date_orders.{{ column }}__date_order,
        {%- endfor %}
        duplicate_keys.key_hash is not null as has_duplicate_key
    from source
    cross join date_orders
    left join duplicate_keys on {{ raw_state_key(['source.order_id']) }} = duplicate_keys.key_hash

),

cleaned as (

    {{ cleaned_rows('orders', 'marked', carry=['batch_file', 'batch_row_id', 'has_duplicate_key']
        + date_order_columns) }}

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

typed as (

    select
        parsed.order_key,
        parsed.customer_key,
        parsed.amount_number,
        parsed.original_currency,
        parsed.normalized_status,
        parsed.discount_code,
        {{ timestamp_value('ordered_at') }} as ordered_at_utc,
        {{ timestamp_is_ambiguous('ordered_at') }} as ordered_at__ambiguous,
        {{ timestamp_value('updated_at') }} as updated_at_utc,
        {{ timestamp_is_ambiguous('updated_at') }} as updated_at__ambiguous,
        {{ amount_value('amount', 'amount_number') }} as original_amount,
        {{ raw_columns('orders') }},
        parsed.batch_file,
        parsed.batch_row_id as row_id,
        {{ this_run_loaded_at() }} as batch_read_at,
        {%- for column in date_columns %}
            parsed.{{ column }}__date_order,
            {{ timestamp_reads(column, 'dmy') }} as {{ column }}__reads_dmy,
            {{ timestamp_reads(column, 'mdy') }} as {{ column }}__reads_mdy,
        {%- endfor %}
        parsed.amount as amount_text,
        parsed.ordered_at as ordered_at_text,
        parsed.updated_at as updated_at_text,
        parsed.has_duplicate_key
    from parsed

),

read_rows as (

    select
        *,
        {{ row_fingerprint(['order_key', 'customer_key', ['ordered_at_utc', 'ordered_at_text'],
            ['original_amount', 'amount_text'], 'normalized_status', 'original_currency',
            ['updated_at_utc', 'updated_at_text'], 'discount_code']) }} as row_fingerprint
    from typed

),
{%- if plan.incremental %}

    touched_keys as (

        select order_key from read_rows
        where order_key is not null
        union
        select stored.order_id
        from {{ this }} as stored
        cross join customers_present
        left join customer_ids on stored.customer_id = customer_ids.customer_id
        where
            stored.order_id is not null
            and (
                stored.has_customers <> customers_present.has_customers
                or stored.is_known_customer <> (customer_ids.customer_id is not null)
                or stored.quarantine_reason in ('ordered_at_in_future', 'updated_at_in_future')
            )

    ),

    stored_rows as (

        {#- the stored rows of the touched ids, with the columns the classification reads: the clean text is cleaned
            again from the raw value (the same rule), the rest was stored -#}
        select
            stored.order_id as order_key,
            stored.customer_id as customer_key,
            stored.ordered_at as ordered_at_utc,
            stored.ordered_at__ambiguous,
            stored.updated_at as updated_at_utc,
            stored.updated_at__ambiguous,
            stored.status as normalized_status,
            stored.discount_code,
            stored.original_currency,
            stored.original_amount,
            {{ parse_number(clean_text('stored.raw_amount')) }} as amount_number,
            {{ raw_columns('orders') }},
            stored.batch_file,
            stored.row_id,
            stored.batch_read_at,
            {%- for column in date_columns %}
                stored.{{ column }}__date_order,
                stored.{{ column }}__reads_dmy,
                stored.{{ column }}__reads_mdy,
            {%- endfor %}
            {{ clean_text('stored.raw_amount') }} as amount_text,
            {{ clean_text('stored.raw_ordered_at') }} as ordered_at_text,
            {{ clean_text('stored.raw_updated_at') }} as updated_at_text,
            stored.row_fingerprint
        from {{ this }} as stored
        inner join touched_keys on stored.order_id = touched_keys.order_key
        {%- if plan.diff %}
            -- a snapshot read by difference: the file's rows replace every stored row of the ids it changed
            where {{ stored_state_key('orders') }} not in (
                select diff_keys.state_key from {{ plan.diff_relation }} as diff_keys
            )
        {%- endif %}

    ),

    fingerprinted as (

        select * from read_rows
        union all by name
        select * from stored_rows

    ),
{%- else %}

    fingerprinted as (

        select * from read_rows

    ),
{%- endif %}

classified as (

    select
        deduplicated.*,
        {{ rate_to_reporting('deduplicated.original_currency') }} as rate_to_reporting,
        customer_ids.customer_id is not null as is_known_customer,
        customers_present.has_customers
    from {{ classify_duplicates('fingerprinted', ['order_key'], 'updated_at_utc',
        candidates=none if plan.incremental else 'has_duplicate_key') }} as deduplicated
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
            + timestamp_checks('ordered_at', 'ordered_at_text', 'ordered_at_utc', required=true)
            + amount_checks('amount', 'amount_text', 'amount_number')
            + [['normalized_status is null', 'unknown_status'],
               ['rate_to_reporting is null', 'unknown_currency']]
            + timestamp_checks('updated_at', 'updated_at_text', 'updated_at_utc')
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
        discount_code,
        {{ raw_columns('orders') }},
        quarantine_reason,
        case when quarantine_reason is not null then {{ raw_row_json('orders') }} end as raw_row,
        cast(null as bigint) as source_line,
        batch_file,
        batch_read_at,
        {{ this_run_loaded_at() }} as batch_loaded_at,
        row_id,
        row_fingerprint,
        {%- for column in date_columns %}
            {{ column }}__date_order,
            {{ column }}__reads_dmy,
            {{ column }}__reads_mdy,
            {{ column }}__ambiguous,
        {%- endfor %}
        is_known_customer,
        has_customers
    from reasoned

)

select * from final
