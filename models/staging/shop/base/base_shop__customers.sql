-- Every raw customer row, typed, with the reason it is quarantined (null = clean). 1:1 with the raw input.
with

source as (

    select * from {{ raw_relation('customers') }}

),

typed as (

    select
        {{ clean_key('customer_id') }} as customer_id,
        {{ try_cast_timestamp('created_at') }} as created_at,
        {{ clean_label('acquisition_channel') }} as acquisition_channel,
        {{ clean_label('region') }} as region,
        {{ try_cast_integer('birth_year') }} as birth_year,
        {{ try_cast_boolean('is_loyalty_member') }} as is_loyalty_member,
        {{ try_cast_timestamp('loyalty_joined_at') }} as loyalty_joined_at,
        cast(created_at as {{ dbt.type_string() }}) as raw_created_at,
        cast(birth_year as {{ dbt.type_string() }}) as raw_birth_year,
        cast(is_loyalty_member as {{ dbt.type_string() }}) as raw_is_loyalty_member,
        cast(loyalty_joined_at as {{ dbt.type_string() }}) as raw_loyalty_joined_at,
        {{ row_fingerprint(['customer_id', 'created_at', 'acquisition_channel', 'region', 'birth_year',
            'is_loyalty_member', 'loyalty_joined_at']) }} as row_fingerprint
    from source

),

classified as (

    select * from {{ classify_duplicates('typed', ['customer_id']) }} as deduplicated

),

final as (

    select
        customer_id,
        created_at,
        acquisition_channel,
        region,
        birth_year,
        is_loyalty_member,
        loyalty_joined_at,
        raw_created_at,
        raw_birth_year,
        raw_is_loyalty_member,
        raw_loyalty_joined_at,
        {{ first_quarantine_reason([
            ['customer_id is null', 'missing_customer_id'],
            ['is_exact_copy', 'exact_duplicate'],
            ['is_conflicting_duplicate', 'conflicting_duplicate_customer_id'],
            ['raw_created_at is not null and created_at is null', 'unparseable_created_at'],
            ['created_at > ' ~ dbt.dateadd('day', var('future_tolerance_days'), reference_timestamp()),
                'created_at_in_future'],
            ['raw_birth_year is not null and birth_year is null', 'unparseable_birth_year'],
            ['raw_is_loyalty_member is not null and is_loyalty_member is null', 'unparseable_is_loyalty_member'],
            ['raw_loyalty_joined_at is not null and loyalty_joined_at is null', 'unparseable_loyalty_joined_at'],
        ]) }} as quarantine_reason
    from classified

)

select * from final
