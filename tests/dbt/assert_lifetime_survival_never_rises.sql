-- A survival curve never rises with the lifespan (int_lifetime_curves_estimated): failing rows are the days where
-- S(d) > S(d - 1).
with

curves as (

    select * from {{ ref('int_lifetime_curves_estimated') }}

),

steps as (

    select
        as_of_date,
        curve,
        lifespan_day,
        survival,
        lag(survival) over (partition by as_of_date, curve order by lifespan_day) as previous_survival
    from curves
    where survival is not null

)

select * from steps
where survival > previous_survival + 1e-12
