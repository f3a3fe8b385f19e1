-- LTV by acquisition channel as of the as-of date: the finished segment values of fct_ltv_by_segment (no formula is
-- restated here; compile with `clv dbt -- compile` or read the mart directly).
with

segments as (

    select * from {{ ref('fct_ltv_by_segment') }}

),

final as (

    select
        segment_value as acquisition_channel,
        buyers,
        average_realised_ltv,
        monthly_revenue_per_customer,
        average_observed_lifespan_months,
        expected_lifetime_months,
        ltv_formula_a,
        ltv_formula_b,
        discounted_clv,
        cac,
        ltv_to_cac
    from segments
    where as_of_snapshot = 'current' and segment_type = 'acquisition_channel'

)

select * from final
