-- One row per as-of snapshot x marketing channel x calendar month with clean spend up to the snapshot's as-of date:
-- the CAC numerator. Spend after the as-of date is left out, as the orders are, so a mid-month as-of date compares
-- the same days.
with

spend as (

    select * from {{ ref('stg_shop__marketing_spend') }}

),

snapshots as (

    select * from {{ ref('int_as_of_snapshots') }}

),

spend_as_of as (

    select
        snapshots.as_of_date,
        spend.channel,
        cast({{ dbt.date_trunc('month', 'spend.spend_date') }} as date) as spend_month,
        spend.spend_amount
    from spend
    inner join snapshots on spend.spend_date <= snapshots.as_of_date

),

final as (

    select
        as_of_date,
        channel,
        spend_month,
        count(*) as spend_rows,
        sum(spend_amount) as spend_amount
    from spend_as_of
    group by as_of_date, channel, spend_month

)

select * from final
