with

base as (

    select * from {{ ref('base_shop__campaign_contacts') }}

),

final as (

    select
        customer_id,
        audience,
        wave,
        contacted_at,
        channel,
        assignment,
        assignment = 'held_out' as is_held_out
    from base
    where quarantine_reason is null

)

select * from final
