-- One row per segment type x segment value: customers and buyers, average realised LTV, AOV and orders per year
-- (completed orders / years of tenure, pooled) of the segment's buyers, the same for the rest of the buyers
-- (every other value of that type), and the relative lift of the segment over the rest (segment / rest - 1).
-- Loyalty members vs others is segment_type 'loyalty'.
-- Definitions: docs/metrics.md ("Segments and next purchase").
{%- set segment_types = {
    'loyalty': "case when is_loyalty_member then 'member' else 'non_member' end",
    'region': 'region',
    'age_band': 'age_band',
    'rfm_segment': 'rfm_segment',
    'cvm_stage': 'cvm_stage',
    'value_tier': 'value_tier',
    'preferred_category': "coalesce(preferred_category, preferred_category_source)",
} %}
with

segments as (

    select * from {{ ref('fct_customer_segments') }}

),

customer_segments as (

    {% for segment_type, expression in segment_types.items() %}
        select
            '{{ segment_type }}' as segment_type,
            cast({{ expression }} as {{ dbt.type_string() }}) as segment_value,
            has_completed_order,
            case when has_completed_order then realised_ltv end as buyer_ltv,
            case when has_completed_order then completed_orders end as buyer_orders,
            case when has_completed_order then tenure_years end as buyer_tenure_years
        from segments
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

segment_totals as (

    select
        segment_type,
        segment_value,
        count(*) as customers,
        sum(case when has_completed_order then 1 else 0 end) as buyers,
        sum(buyer_ltv) as realised_ltv,
        sum(buyer_orders) as completed_orders,
        sum(buyer_tenure_years) as tenure_years
    from customer_segments
    group by segment_type, segment_value

),

type_totals as (

    select
        segment_type,
        sum(customers) as customers,
        sum(buyers) as buyers,
        sum(realised_ltv) as realised_ltv,
        sum(completed_orders) as completed_orders,
        sum(tenure_years) as tenure_years
    from segment_totals
    group by segment_type

),

compared as (

    select
        segment_totals.segment_type,
        segment_totals.segment_value,
        segment_totals.customers,
        segment_totals.buyers,
        {{ safe_divide('segment_totals.customers', 'type_totals.customers') }} as share_of_customers,
        {{ safe_divide('segment_totals.realised_ltv', 'segment_totals.buyers') }} as average_realised_ltv,
        {{ safe_divide('segment_totals.realised_ltv', 'segment_totals.completed_orders') }} as aov,
        {{ safe_divide('segment_totals.completed_orders', 'segment_totals.tenure_years') }} as orders_per_year,
        type_totals.buyers - segment_totals.buyers as rest_buyers,
        {{ safe_divide('type_totals.realised_ltv - coalesce(segment_totals.realised_ltv, 0)',
            'type_totals.buyers - segment_totals.buyers') }} as rest_average_realised_ltv,
        {{ safe_divide('type_totals.realised_ltv - coalesce(segment_totals.realised_ltv, 0)',
            'type_totals.completed_orders - coalesce(segment_totals.completed_orders, 0)') }} as rest_aov,
        {{ safe_divide('type_totals.completed_orders - coalesce(segment_totals.completed_orders, 0)',
            'type_totals.tenure_years - coalesce(segment_totals.tenure_years, 0)') }} as rest_orders_per_year
    from segment_totals
    inner join type_totals on segment_totals.segment_type = type_totals.segment_type

),

final as (

    select
        {{ dbt.concat(["segment_type", "':'", "segment_value"]) }} as segment_key,
        segment_type,
        segment_value,
        customers,
        share_of_customers,
        buyers,
        average_realised_ltv,
        aov,
        orders_per_year,
        rest_buyers,
        rest_average_realised_ltv,
        rest_aov,
        rest_orders_per_year,
        {{ relative_lift('average_realised_ltv', 'rest_average_realised_ltv') }} as ltv_lift,
        {{ relative_lift('aov', 'rest_aov') }} as aov_lift,
        {{ relative_lift('orders_per_year', 'rest_orders_per_year') }} as orders_per_year_lift
    from compared

)

select * from final
