-- Daily time spine for MetricFlow: from the first order date to the later of the as-of date and the last order
-- date, the days the data covers. Cumulative metrics end there instead of running flat into the future; derived
-- from the data, no hard-coded calendar.
with

as_of as (

    select * from {{ ref('int_as_of_dates') }}

),

days as (

    select
        cast({{ dbt.dateadd('day', 'day_offsets.n', 'as_of.first_order_on') }} as date) as date_day
    from as_of
    inner join {{ integer_series(
        "(select " ~ days_between('first_order_on', 'greatest(as_of_date, last_order_on)') ~ " + 1 from "
        ~ ref('int_as_of_dates') ~ ")") }} as day_offsets
        on 1 = 1

),

final as (

    select date_day from days

)

select * from final
