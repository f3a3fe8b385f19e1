with

base as (

    select * from {{ ref('base_shop__customers') }}

),

final as (

    select
        customer_id,
        created_at,
        coalesce(acquisition_channel, 'unknown') as acquisition_channel,
        coalesce(region, 'unknown') as region,
        birth_year,
        is_loyalty_member,
        loyalty_joined_at
    from base
    where quarantine_reason is null

)

select * from final
