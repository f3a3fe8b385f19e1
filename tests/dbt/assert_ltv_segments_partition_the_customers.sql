-- Every segment type of fct_ltv_by_segment partitions the snapshot's customers: summed over its values, customers,
-- buyers, revenue, margin, orders, lifespan months and expected-lifetime sums equal the overall row. A failing row
-- names the snapshot, the type and the column that does not add up (join fan-out or a lost segment value).
{%- set additive = ['customers', 'buyers', 'realised_ltv_total', 'realised_margin_ltv_total', 'orders_to_date',
    'lifetime_exposure_months', 'buyers_with_expected_lifetime', 'expected_lifetime_months_total',
    'discounted_lifetime_months_total', 'frequency_eligible_orders'] %}
with

segments as (

    select * from {{ ref('fct_ltv_by_segment') }}

),

type_sums as (

    select
        as_of_snapshot,
        segment_type,
        {%- for column in additive %}
            coalesce(sum({{ column }}), 0) as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from segments
    group by as_of_snapshot, segment_type

),

overall as (

    select * from type_sums where segment_type = 'overall'

),

final as (

    {%- for column in additive %}
        select
            type_sums.as_of_snapshot,
            type_sums.segment_type,
            '{{ column }}' as column_name,
            type_sums.{{ column }} as type_total,
            overall.{{ column }} as overall_total
        from type_sums
        inner join overall on type_sums.as_of_snapshot = overall.as_of_snapshot
        where abs(type_sums.{{ column }} - overall.{{ column }}) > 1e-6 * greatest(abs(overall.{{ column }}), 1)
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}

)

select * from final
