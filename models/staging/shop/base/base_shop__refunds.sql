-- Every raw refund row, typed, with the reason it is quarantined (null = clean). 1:1 with the raw input, with
-- the CSV lines the reader could not parse added by the post-hook.
--
-- Incremental (macros/staging/load_state.sql, staged_source): a run stages the new rows (new batch files, or the rows
-- of a changed snapshot file that differ from the stored ones) with the stored rows of the refund ids they touch,
-- and the stored refunds whose order's verdict or date changed or whose reason moves with the reference date
-- (rejudged); refunded_at keeps its day/month order as state (new rows that change it rebuild the table in full).
{%- set key_columns = state_tables()['refunds'].key_columns %}
{%- set date_columns = state_tables()['refunds'].date_columns %}
{%- set plan = staging_load_plan('refunds') %}
{{ config(**staged_model_config('refunds')) }}

with

{%- if plan.incremental %}

    stored_orders as (

        {{ order_verdicts('select stored_refunds.order_id from ' ~ this ~ ' as stored_refunds') }}

    ),

    rejudged as (

        select stored.state_key
        from {{ this }} as stored
        left join stored_orders as orders on stored.order_id = orders.order_id
        where
            stored.state_key is not null
            and (
                stored.is_known_order <> (orders.order_id is not null)
                or stored.is_clean_order <> coalesce(orders.is_clean_order, false)
                or stored.order_ordered_at is distinct from orders.ordered_at
                or stored.quarantine_reason in {{ reference_date_reasons() }}
            )

    ),
{%- endif %}

source as (

    {{ staged_source('refunds', plan, key_columns, 'select state_key from rejudged' if plan.incremental) }}

),

cleaned as (

    {{ cleaned_rows('refunds', 'source', carry=['batch_file', 'batch_row_id', 'batch_read_at', 'state_key']) }}

),

parsed as (

    select
        *,
        {{ normalized_id('refund_id') }} as refund_key,
        {{ normalized_id('order_id') }} as order_key,
        {{ parse_number('amount') }} as amount_number,
        {{ timestamp_candidates('refunded_at', 'refunds') }}
    from cleaned

),

date_orders as (

    {{ staged_date_orders(plan, date_columns, 'parsed') }}

),

typed as (

    select
        parsed.refund_key,
        parsed.order_key,
        parsed.refunded_at,
        parsed.amount,
        parsed.amount_number,
        {{ timestamp_value('refunded_at') }} as refunded_at_utc,
        {{ timestamp_is_ambiguous('refunded_at') }} as refunded_at__ambiguous,
        {{ amount_value('amount', 'amount_number') }} as refund_amount,
        {{ raw_columns('refunds') }},
        {{ staged_date_columns(date_columns) }},
        parsed.batch_file,
        parsed.batch_row_id,
        parsed.batch_read_at,
        parsed.state_key
    from parsed
    cross join date_orders

),

fingerprinted as (

    select
        *,
        batch_row_id as row_id,
        {{ row_fingerprint(['refund_key', 'order_key', ['refunded_at_utc', 'refunded_at'],
            ['refund_amount', 'amount']]) }} as row_fingerprint
    from typed

),

orders as (

    {{ order_verdicts('select fingerprinted.order_key from fingerprinted') }}

),

classified as (

    select
        deduplicated.*,
        orders.order_id is not null as is_known_order,
        coalesce(orders.is_clean_order, false) as is_clean_order,
        orders.ordered_at
    from {{ classify_duplicates('fingerprinted', ['refund_key']) }} as deduplicated
    left join orders on deduplicated.order_key = orders.order_id

),

reasoned as (

    select
        *,
        {{ first_quarantine_reason(
            [['refund_key is null', 'missing_refund_id'],
             ['is_exact_copy', 'exact_duplicate'],
             ['is_conflicting_duplicate', 'conflicting_duplicate_refund_id'],
             ['order_key is null', 'missing_order_id'],
             ['not is_known_order', 'unknown_order'],
             ['not is_clean_order', 'order_quarantined']]
            + timestamp_checks('refunded_at', 'refunded_at', 'refunded_at_utc', required=true)
            + [['refunded_at_utc < ordered_at', 'refunded_before_ordered']]
            + amount_checks('amount', 'amount', 'amount_number', allow_negative=true)
            + [['amount_number <= 0', 'non_positive_amount']]
        ) }} as quarantine_reason
    from classified

),

final as (

    select
        refund_key as refund_id,
        order_key as order_id,
        refunded_at_utc as refunded_at,
        refund_amount,
        {{ raw_columns('refunds') }},
        quarantine_reason,
        case when quarantine_reason is not null then {{ raw_row_json('refunds') }} end as raw_row,
        cast(null as bigint) as source_line,
        {{ staged_state_columns() }},
        {{ staged_date_columns(date_columns, stored=true) }},
        is_known_order,
        is_clean_order,
        ordered_at as order_ordered_at
    from reasoned

)

select * from final
