-- Every raw marketing-spend row, typed, with the reason it is quarantined (null = clean). 1:1 with the raw
-- input. Spend has no natural key: several rows for one day x channel (campaigns) are legitimate and summed
-- downstream, so duplicates are not removed here (decision log: docs/metrics.md).
with

source as (

    select * from {{ raw_relation('marketing_spend') }}

),

typed as (

    select
        cast({{ try_cast_timestamp('spend_date') }} as date) as spend_date,
        {{ clean_label('channel') }} as channel,
        {{ try_cast_decimal('amount') }} as spend_amount,
        cast(spend_date as {{ dbt.type_string() }}) as raw_spend_date,
        cast(amount as {{ dbt.type_string() }}) as raw_amount
    from source

),

final as (

    select
        spend_date,
        channel,
        spend_amount,
        raw_spend_date,
        raw_amount,
        {{ first_quarantine_reason([
            ['spend_date is null', 'unparseable_spend_date'],
            ['spend_date > ' ~ dbt.dateadd('day', var('future_tolerance_days'), reference_timestamp()),
                'spend_date_in_future'],
            ['channel is null', 'missing_channel'],
            ['spend_amount is null', 'unparseable_amount'],
            ['spend_amount < 0', 'negative_amount'],
        ]) }} as quarantine_reason
    from typed

)

select * from final
