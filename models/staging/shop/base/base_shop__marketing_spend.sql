-- Every raw marketing-spend row, typed, with the reason it is quarantined (null = clean). 1:1 with the raw
-- input (CSV lines the reader could not parse are added by the post-hook). Spend has no natural key: several
-- rows for one day x channel (campaigns) are legitimate and summed downstream, so duplicates are not removed here
-- (decision log: docs/metrics.md).
{{ config(post_hook="{{ insert_rejected_lines('marketing_spend') }}") }}

with

source as (

    select * from {{ raw_relation('marketing_spend') }}

),

cleaned as (

    {{ cleaned_rows('marketing_spend', 'source') }}

),

parsed as (

    select
        *,
        {{ label('channel') }} as channel_label,
        {{ parse_number('amount') }} as amount_number,
        {{ timestamp_candidates('spend_date', 'marketing_spend') }}
    from cleaned

),

date_orders as (

    select {{ timestamp_date_orders(['spend_date']) }}
    from parsed

),

typed as (

    select
        parsed.spend_date,
        parsed.amount,
        parsed.channel_label,
        parsed.amount_number,
        {{ timestamp_value('spend_date') }} as spend_date_utc,
        {{ timestamp_is_ambiguous('spend_date') }} as spend_date__ambiguous,
        {{ amount_value('amount', 'amount_number') }} as spend_amount,
        {{ raw_columns('marketing_spend') }}
    from parsed
    cross join date_orders

),

reasoned as (

    select
        *,
        {{ first_quarantine_reason(
            timestamp_checks('spend_date', 'spend_date', 'spend_date_utc', required=true)
            + [['channel_label is null', 'missing_channel']]
            + amount_checks('amount', 'amount', 'amount_number')
        ) }} as quarantine_reason
    from typed

),

final as (

    select
        cast(spend_date_utc as date) as spend_date,
        channel_label as channel,
        spend_amount,
        raw_spend_date,
        raw_channel,
        raw_amount,
        quarantine_reason,
        case when quarantine_reason is not null then {{ raw_row_json('marketing_spend') }} end as raw_row,
        cast(null as bigint) as source_line
    from reasoned

)

select * from final
