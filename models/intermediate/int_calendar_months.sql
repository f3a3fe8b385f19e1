-- One row per calendar month from the month of the first completed order (up to the as-of date) to the as-of
-- month: the month calendar cohort curves and category penetration are laid on, so months without orders still
-- have a row. Derived from the data, no hard-coded calendar. is_complete_month: the month has fully elapsed by the
-- as-of date (else its figures are partial).
with

orders as (

    select * from {{ ref('int_orders_enriched') }}

),

as_of as (

    select * from {{ ref('int_as_of_dates') }}

),

bounds as (

    select min(orders.order_month) as first_month
    from orders
    cross join as_of
    where {{ is_completed_by_as_of() }}

),

months as (

    select cast({{ dbt.dateadd('month', 'month_offsets.n', 'bounds.first_month') }} as date) as calendar_month
    from bounds
    cross join as_of
    inner join {{ integer_series(
        "(select " ~ months_between_calendar('min(o.order_month)', 'max(a.as_of_date)') ~ " + 1 from "
        ~ ref('int_orders_enriched') ~ " as o cross join " ~ ref('int_as_of_dates') ~ " as a where "
        ~ is_completed_by_as_of('o', 'a') ~ ")") }} as month_offsets
        on month_offsets.n <= {{ months_between_calendar('bounds.first_month', 'as_of.as_of_date') }}

),

final as (

    select
        months.calendar_month,
        {{ add_days(dbt.dateadd('month', 1, 'months.calendar_month'), -1) }} as calendar_month_end,
        {{ add_days(dbt.dateadd('month', 1, 'months.calendar_month'), -1) }} <= as_of.as_of_date as is_complete_month
    from months
    cross join as_of

)

select * from final
