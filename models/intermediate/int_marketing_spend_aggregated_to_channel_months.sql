-- One row per marketing channel x calendar month with clean spend: the CAC numerator.
with

spend as (

    select * from {{ ref('stg_shop__marketing_spend') }}

),

final as (

    select
        channel,
        cast({{ dbt.date_trunc('month', 'spend_date') }} as date) as spend_month,
        count(*) as spend_rows,
        sum(spend_amount) as spend_amount
    from spend
    group by channel, cast({{ dbt.date_trunc('month', 'spend_date') }} as date)

)

select * from final
