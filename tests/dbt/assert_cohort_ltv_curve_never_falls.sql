-- The pooled cohort LTV curve (fct_cohort_curves) never falls with age: failing rows are the ages where it is
-- below the previous age of the same curve.
with

curves as (

    select * from {{ ref('fct_cohort_curves') }}

),

steps as (

    select
        curve,
        months_since_first_order,
        cohort_ltv_curve,
        lag(cohort_ltv_curve) over (partition by curve order by months_since_first_order) as previous_value
    from curves

)

select * from steps
where cohort_ltv_curve < previous_value - 1e-9
