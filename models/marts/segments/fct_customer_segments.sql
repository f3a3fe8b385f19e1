-- One row per customer (buyers and non-buyers) as of int_as_of_dates.as_of_date: RFM scores and segment, LTV decile
-- and value tier, CVM lifecycle stage with its recommended action, preferred category, and the demographic
-- attributes segments are compared on. Customers without a completed order get null scores and 'no_purchases'.
-- Definitions and thresholds: docs/metrics.md ("Segments and next purchase"); vars in dbt_project.yml.
with

customers as (

    select * from {{ ref('dim_customers') }}

),

ltv as (

    select * from {{ ref('fct_customer_ltv') }}

),

purchased_items as (

    select * from {{ ref('int_order_items_joined_to_completed_orders') }}

),

buyers as (

    select
        customers.customer_id,
        customers.recency_days,
        customers.completed_orders,
        ltv.realised_ltv
    from customers
    inner join ltv on customers.customer_id = ltv.customer_id
    where customers.has_completed_order

),

buyer_scores as (

    -- quantile scores over buyers; ties share a score (tied_ntile), higher is better
    select
        customer_id,
        {{ tied_ntile(5, 'recency_days desc') }} as recency_score,
        {{ tied_ntile(5, 'completed_orders') }} as frequency_score,
        {{ tied_ntile(5, 'realised_ltv') }} as monetary_score,
        {{ tied_ntile(10, 'realised_ltv') }} as ltv_decile
    from buyers

),

preferred_categories as (

    -- the category with the highest purchased-item spend, ties by category name
    {{ top_category_by_amount('purchased_items', 'customer_id', 'line_amount') }}

),

joined as (

    select
        customers.customer_id,
        customers.as_of_date,
        customers.has_completed_order,
        customers.acquisition_channel,
        customers.region,
        ltv.age_band,
        customers.is_loyalty_member,
        customers.completed_orders,
        customers.tenure_days,
        customers.tenure_years,
        customers.recency_days,
        ltv.realised_ltv,
        customers.average_check,
        customers.orders_per_year,
        buyer_scores.recency_score,
        buyer_scores.frequency_score,
        buyer_scores.monetary_score,
        buyer_scores.ltv_decile,
        preferred_categories.category as preferred_category,
        preferred_categories.category_amount as preferred_category_spend
    from customers
    inner join ltv on customers.customer_id = ltv.customer_id
    left join buyer_scores on customers.customer_id = buyer_scores.customer_id
    left join preferred_categories on customers.customer_id = preferred_categories.customer_id

),

segmented as (

    select
        *,
        case
            when not has_completed_order then 'no_purchases'
            else {{ rfm_segment('recency_score', 'frequency_score', 'monetary_score') }}
        end as rfm_segment,
        case
            when not has_completed_order then 'no_purchases'
            {%- for tier, min_decile in var('value_tier_min_deciles').items() | sort(attribute='1', reverse=true) %}
                when ltv_decile >= {{ min_decile }} then '{{ tier }}'
            {%- endfor %}
            else 'unassigned'
        end as value_tier
    from joined

),

staged as (

    select
        *,
        -- precedence: no purchases, lapsed, VIP, new, active, at risk (docs/metrics.md)
        case
            when not has_completed_order then 'no_purchases'
            when recency_days > {{ var('cvm_lapsed_days') }} then 'lapsed'
            when value_tier = '{{ var("cvm_vip_value_tier") }}' then 'vip'
            when tenure_days <= {{ var('cvm_new_days') }} then 'new'
            when recency_days <= {{ var('cvm_active_days') }} then 'active'
            else 'at_risk'
        end as cvm_stage
    from segmented

),

final as (

    select
        customer_id,
        as_of_date,
        has_completed_order,
        acquisition_channel,
        region,
        age_band,
        is_loyalty_member,
        completed_orders,
        tenure_days,
        tenure_years,
        recency_days,
        realised_ltv,
        average_check,
        orders_per_year,
        recency_score,
        frequency_score,
        monetary_score,
        case when has_completed_order then
                {{ dbt.concat(["cast(recency_score as " ~ dbt.type_string() ~ ")",
                    "cast(frequency_score as " ~ dbt.type_string() ~ ")",
                    "cast(monetary_score as " ~ dbt.type_string() ~ ")"]) }}
        end as rfm_score,
        rfm_segment,
        ltv_decile,
        value_tier,
        cvm_stage,
        case cvm_stage
            {%- for stage, action in var('cvm_stage_actions').items() %}
                when '{{ stage }}' then '{{ action }}'
            {%- endfor %}
        end as recommended_action,
        preferred_category,
        preferred_category_spend,
        case
            when not has_completed_order then 'no_purchases'
            when preferred_category is null then 'no_item_data'
            else 'item_spend'
        end as preferred_category_source
    from staged

)

select * from final
