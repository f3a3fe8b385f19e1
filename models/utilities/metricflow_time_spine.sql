-- Daily time spine for MetricFlow: from the first order date to the as-of date plus the discounted-CLV horizon, so
-- cumulative metrics and forecasts have days to land on. Derived from the data, no hard-coded calendar.
with

as_of as (

    select * from {{ ref('int_as_of_dates') }}

),

days as (

    select
        cast({{ dbt.dateadd('day', 'day_offsets.n', 'as_of.first_order_on') }} as date) as date_day
    from as_of
    inner join {{ integer_series(
        "(select " ~ days_between('first_order_on', 'as_of_date') ~ " + "
        ~ (var('clv_horizon_months') * 31) ~ " + 1 from " ~ ref('int_as_of_dates') ~ ")") }} as day_offsets
        on 1 = 1

),

final as (

    select date_day from days

)

select * from final
