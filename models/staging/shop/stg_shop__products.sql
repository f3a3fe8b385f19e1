with

base as (

    select * from {{ ref('base_shop__products') }}

),

final as (

    select
        product_id,
        category,
        unit_cost,
        launched_on
    from base
    where quarantine_reason is null

)

select * from final
