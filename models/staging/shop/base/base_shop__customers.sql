-- Every raw customer row, typed, with the reason it is quarantined (null = clean). 1:1 with the raw input, with
-- the CSV lines the reader could not parse added by the post-hook.
{{ config(post_hook="{{ insert_rejected_lines('customers') }}") }}

with

source as (

    select * from {{ raw_relation('customers') }}

),

cleaned as (

    {{ cleaned_rows('customers', 'source') }}

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

    select {{ timestamp_date_orders(['created_at', 'loyalty_joined_at']) }}
    from parsed

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
        {{ raw_columns('customers') }}
    from parsed
    cross join date_orders

),

fingerprinted as (

    select
        *,
        {{ scan_row_id() }} as row_id,
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
        raw_customer_id,
        raw_created_at,
        raw_acquisition_channel,
        raw_region,
        raw_birth_year,
        raw_is_loyalty_member,
        raw_loyalty_joined_at,
        quarantine_reason,
        case when quarantine_reason is not null then {{ raw_row_json('customers') }} end as raw_row,
        cast(null as bigint) as source_line
    from reasoned

)

select * from final
