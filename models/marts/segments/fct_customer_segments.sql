-- One row per customer (buyers and non-buyers) as of the as-of date: RFM scores and segment, LTV decile and value
-- tier, CVM lifecycle stage with its recommended action, preferred category, and the attributes segments are
-- compared on. The current snapshot of int_customers_segmented, where the scoring lives. Definitions and
-- thresholds: docs/metrics.md ("Segments and next purchase"); vars in dbt_project.yml.
with

customers as (

    select * from {{ ref('int_customers_enriched') }}

),

segments as (

    select * from {{ ref('int_customers_segmented') }}

),

final as (

    select
        customers.customer_id,
        customers.as_of_date,
        customers.has_completed_order,
        customers.acquisition_channel,
        customers.region,
        customers.age_band,
        customers.is_loyalty_member,
        customers.completed_orders,
        customers.tenure_days,
        customers.recency_days,
        customers.net_revenue as realised_ltv,
        segments.recency_score,
        segments.frequency_score,
        segments.monetary_score,
        segments.rfm_score,
        segments.rfm_segment,
        segments.ltv_decile,
        segments.value_tier,
        segments.cvm_stage,
        case segments.cvm_stage
            {%- for stage, action in var('cvm_stage_actions').items() %}
                when '{{ stage }}' then '{{ action }}'
            {%- endfor %}
        end as recommended_action,
        segments.preferred_category,
        segments.preferred_category_spend,
        segments.preferred_category_source
    from customers
    inner join segments
        on customers.as_of_date = segments.as_of_date and customers.customer_id = segments.customer_id
    where customers.is_current_as_of

)

select * from final
