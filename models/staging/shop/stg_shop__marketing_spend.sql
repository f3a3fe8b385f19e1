with

base as (

    select * from {{ ref('base_shop__marketing_spend') }}

),

final as (

    select
        spend_date,
        channel,
        spend_amount
    from base
    where quarantine_reason is null

)

select * from final
