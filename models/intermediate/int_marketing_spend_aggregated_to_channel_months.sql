-- One row per marketing channel x calendar month with clean spend up to the as-of date: the CAC numerator. Spend
-- after the as-of date is left out, as the orders are, so a mid-month as-of date compares the same days.
with

spend as (

    select * from {{ ref('stg_shop__marketing_spend') }}

),

as_of as (

    select * from {{ ref('int_as_of_dates') }}

),

spend_as_of as (

    select
        spend.channel,
        cast({{ dbt.date_trunc('month', 'spend.spend_date') }} as date) as spend_month,
        spend.spend_amount
    from spend
    cross join as_of
    where spend.spend_date <= as_of.as_of_date

),

final as (

    select
        channel,
        spend_month,
        count(*) as spend_rows,
        sum(spend_amount) as spend_amount
    from spend_as_of
    group by channel, spend_month

)

select * from final
