-- Every raw customer row, typed, with the reason it is quarantined (null = clean). 1:1 with the raw input, with
-- the CSV lines the reader could not parse added by the post-hook.
--
-- Incremental (macros/staging/load_state.sql, staged_source): a run stages the new rows (new batch files, or the rows
-- of a changed snapshot file that differ from the stored ones) with the stored rows of the customer ids they touch,
-- and the stored rows whose reason moves with the reference date (rejudged); the date columns keep their day/month
-- order as state (new rows that change it rebuild the table in full).
{%- set key_columns = state_tables()['customers'].key_columns %}
{%- set date_columns = state_tables()['customers'].date_columns %}
{%- set plan = staging_load_plan('customers') %}
{{ config(**staged_model_config('customers')) }}

with
{%- if plan.incremental %}

    rejudged as (

        select stored.state_key
        from {{ this }} as stored
        where stored.state_key is not null and stored.quarantine_reason in {{ reference_date_reasons() }}

    ),
{%- endif %}

source as (

    {{ staged_source('customers', plan, key_columns, 'select state_key from rejudged' if plan.incremental) }}

),

cleaned as (

    {{ cleaned_rows('customers', 'source', carry=['batch_file', 'batch_row_id', 'batch_read_at', 'state_key']) }}

),

parsed as (

    select
        *,
        {{ normalized_id('customer_id') }} as customer_key,
        {{ label('acquisition_channel') }} as channel_label,
        {{ label('region') }} as region_label,
        {{ parse_integer('birth_year') }} as birth_year_number,
        {{ parse_flag('is_loyalty_member') }} as is_loyalty_member_flag,
        {{ timestamp_candidates('created_at', 'customers') }},
        {{ timestamp_candidates('loyalty_joined_at', 'customers') }}
    from cleaned

),

date_orders as (

    {{ staged_date_orders(plan, date_columns, 'parsed') }}

),

typed as (

    select
        parsed.customer_key,
        parsed.created_at,
        parsed.birth_year,
        parsed.is_loyalty_member,
        parsed.loyalty_joined_at,
        parsed.channel_label,
        parsed.region_label,
        parsed.birth_year_number,
        parsed.is_loyalty_member_flag,
        {{ timestamp_value('created_at') }} as created_at_utc,
        {{ timestamp_is_ambiguous('created_at') }} as created_at__ambiguous,
        {{ timestamp_value('loyalty_joined_at') }} as loyalty_joined_at_utc,
        {{ timestamp_is_ambiguous('loyalty_joined_at') }} as loyalty_joined_at__ambiguous,
        {{ raw_columns('customers') }},
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
        {{ row_fingerprint(['customer_key', ['created_at_utc', 'created_at'], 'channel_label', 'region_label',
            ['birth_year_number', 'birth_year'], ['is_loyalty_member_flag', 'is_loyalty_member'],
            ['loyalty_joined_at_utc', 'loyalty_joined_at']]) }} as row_fingerprint
    from typed

),

classified as (

    select * from {{ classify_duplicates('fingerprinted', ['customer_key']) }} as deduplicated

),

reasoned as (

    select
        *,
        {{ first_quarantine_reason(
            [['customer_key is null', 'missing_customer_id'],
             ['is_exact_copy', 'exact_duplicate'],
             ['is_conflicting_duplicate', 'conflicting_duplicate_customer_id']]
            + timestamp_checks('created_at', 'created_at', 'created_at_utc')
            + [['birth_year is not null and birth_year_number is null', 'unparseable_birth_year'],
               ['birth_year_number < 1900 or birth_year_number > year(' ~ reference_timestamp() ~ ')',
                'birth_year_out_of_range'],
               ['is_loyalty_member is not null and is_loyalty_member_flag is null', 'unparseable_is_loyalty_member']]
            + timestamp_checks('loyalty_joined_at', 'loyalty_joined_at', 'loyalty_joined_at_utc')
        ) }} as quarantine_reason
    from classified

),

final as (

    select
        customer_key as customer_id,
        created_at_utc as created_at,
        channel_label as acquisition_channel,
        region_label as region,
        birth_year_number as birth_year,
        is_loyalty_member_flag as is_loyalty_member,
        loyalty_joined_at_utc as loyalty_joined_at,
        {{ raw_columns('customers') }},
        quarantine_reason,
        case when quarantine_reason is not null then {{ raw_row_json('customers') }} end as raw_row,
        cast(null as bigint) as source_line,
        {{ staged_state_columns() }},
        {{ staged_date_columns(date_columns, stored=true) }}
    from reasoned

)

select * from final
