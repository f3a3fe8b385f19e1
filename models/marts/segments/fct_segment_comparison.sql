-- One row per segment type x segment value as of the as-of date (loyalty members vs others is segment_type
-- 'loyalty'): the segment's customers, buyers, average realised LTV, average check and orders per year from
-- fct_ltv_by_segment (where they are computed), the same ratios over the rest of the type's buyers (every other
-- value), and the relative lift of the segment over the rest (segment / rest - 1). Ratios of the rest use the same
-- macro on the rest's sums. Definitions: docs/metrics.md ("Segments and next purchase").
{%- set compared_types = ['loyalty', 'region', 'age_band', 'rfm_segment', 'cvm_stage', 'value_tier',
    'preferred_category'] %}
{%- set compared_type_list = "'" ~ compared_types | join("', '") ~ "'" %}
{%- set compared_ratios = ['average_realised_ltv', 'average_check', 'orders_per_year'] %}
{%- set components = ['customers', 'buyers', 'realised_ltv_total', 'orders_to_date', 'frequency_eligible_orders',
    'frequency_eligible_tenure_years'] %}
with

segments as (

    select * from {{ ref('fct_ltv_by_segment') }}

),

compared as (

    select *
    from segments
    where
        as_of_snapshot = 'current'
        and segment_type in ({{ compared_type_list }})

),

type_totals as (

    select
        {%- for component in components %}
            sum({{ component }}) as type_{{ component }},
        {%- endfor %}
        segment_type
    from compared
    group by segment_type

),

rests as (

    select
        compared.*,
        {%- for component in components %}
            type_totals.type_{{ component }} - compared.{{ component }} as rest_{{ component }},
        {%- endfor %}
        {{ safe_divide('compared.customers', 'type_totals.type_customers') }} as share_of_customers
    from compared
    inner join type_totals on compared.segment_type = type_totals.segment_type

),

rest_ratios as (

    select
        {%- for ratio in compared_ratios %}
            {{ segment_ratio(ratio, 'rest_') }} as rest_{{ ratio }},
        {%- endfor %}
        rests.*
    from rests

),

final as (

    select
        {{ dbt.concat(["segment_type", "':'", "segment_value"]) }} as segment_key,
        segment_type,
        segment_value,
        as_of_date,
        customers,
        share_of_customers,
        buyers,
        average_realised_ltv,
        average_check,
        orders_per_year,
        rest_buyers,
        rest_average_realised_ltv,
        rest_average_check,
        rest_orders_per_year,
        {{ relative_lift('average_realised_ltv', 'rest_average_realised_ltv') }} as ltv_lift,
        {{ relative_lift('average_check', 'rest_average_check') }} as average_check_lift,
        {{ relative_lift('orders_per_year', 'rest_orders_per_year') }} as orders_per_year_lift
    from rest_ratios

)

select * from final
