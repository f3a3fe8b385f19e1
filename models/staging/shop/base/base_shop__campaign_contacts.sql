-- Every raw campaign-contact row, typed, with the reason it is quarantined (null = clean). 1:1 with the raw input
-- (CSV lines the reader could not parse are added by the post-hook). One row per customer x audience x wave: an
-- exact copy is quarantined as exact_duplicate; two different rows for one key (e.g. treated and held out) are
-- both quarantined, since neither can be chosen. Absent table: an empty relation (raw_relation).
{{ config(post_hook="{{ insert_rejected_lines('campaign_contacts') }}") }}

with

source as (

    select * from {{ raw_relation('campaign_contacts') }}

),

cleaned as (

    {{ cleaned_rows('campaign_contacts', 'source') }}

),

parsed as (

    select
        *,
        {{ normalized_id('customer_id') }} as customer_key,
        {{ label('audience') }} as audience_label,
        {{ label('wave') }} as wave_label,
        {{ label('channel') }} as channel_label,
        {{ label('assignment') }} as assignment_label,
        {{ timestamp_candidates('contacted_at', 'campaign_contacts') }}
    from cleaned

),

date_orders as (

    select {{ timestamp_date_orders(['contacted_at']) }}
    from parsed

),

typed as (

    select
        parsed.customer_key,
        parsed.audience_label,
        parsed.wave_label,
        parsed.channel_label,
        parsed.assignment_label,
        parsed.contacted_at,
        {{ timestamp_value('contacted_at') }} as contacted_at_utc,
        {{ timestamp_is_ambiguous('contacted_at') }} as contacted_at__ambiguous,
        {{ raw_columns('campaign_contacts') }}
    from parsed
    cross join date_orders

),

fingerprinted as (

    select
        *,
        {{ scan_row_id() }} as row_id,
        {{ row_fingerprint([['contacted_at_utc', 'contacted_at'], 'channel_label', 'assignment_label']) }}
            as row_fingerprint
    from typed

),

reasoned as (

    select
        *,
        {{ first_quarantine_reason(
            [['customer_key is null', 'missing_customer_id'],
             ['audience_label is null', 'missing_audience'],
             ['wave_label is null', 'missing_wave'],
             ['is_exact_copy', 'exact_duplicate'],
             ['is_conflicting_duplicate', 'conflicting_duplicate_contact'],
             ['assignment_label is null', 'missing_assignment'],
             ["assignment_label not in ('treated', 'held_out')", 'unknown_assignment']]
            + timestamp_checks('contacted_at', 'contacted_at', 'contacted_at_utc', required=true)
        ) }} as quarantine_reason
    from {{ classify_duplicates('fingerprinted', ['customer_key', 'audience_label', 'wave_label']) }}
        as deduplicated

),

final as (

    select
        customer_key as customer_id,
        audience_label as audience,
        wave_label as wave,
        contacted_at_utc as contacted_at,
        coalesce(channel_label, 'unknown') as channel,
        assignment_label as assignment,  -- noqa: RF04
        raw_customer_id,
        raw_audience,
        raw_wave,
        raw_contacted_at,
        raw_channel,
        raw_assignment,
        quarantine_reason,
        case when quarantine_reason is not null then {{ raw_row_json('campaign_contacts') }} end as raw_row,
        cast(null as bigint) as source_line
    from reasoned

)

select * from final
