-- LTV by acquisition channel: realised and formula-A LTV side by side (compile with `clv dbt -- compile`).
with

customer_ltv as (

    select * from {{ ref('fct_customer_ltv') }}

),

final as (

    select
        acquisition_channel,
        count(*) as buyers,
        avg(realised_ltv) as average_realised_ltv,
        avg(monthly_revenue) * avg(lifetime_months) as ltv_formula_a,
        avg(discounted_clv) as average_discounted_clv
    from customer_ltv
    where has_completed_order
    group by acquisition_channel

)

select * from final
