{#- The loyalty segment of a loyalty flag: member, non_member, or unknown when the flag is null (no customers table,
    a customer it does not list, or a blank is_loyalty_member). -#}
{% macro loyalty_segment(is_loyalty_member) -%}
    case
        when {{ is_loyalty_member }} then 'member'
        when not {{ is_loyalty_member }} then 'non_member'
        else 'unknown'
    end
{%- endmacro %}

{#- The segment types of the segment-grain marts (fct_ltv_by_segment, fct_predicted_clv_by_segment): each type and
    the expression over int_customers_valued that gives a customer's value of it. One definition for both marts, so
    their rows share keys (as_of_snapshot, segment_type, segment_value). -#}
{% macro ltv_segment_types() -%}
    {{ return({
        'overall': "'all'",
        'acquisition_channel': 'acquisition_channel',
        'cohort_month': "coalesce(cast(cohort_month as " ~ dbt.type_string() ~ "), 'no_purchases')",
        'region': 'region',
        'age_band': 'age_band',
        'loyalty': loyalty_segment('is_loyalty_member') | trim,
        'rfm_segment': 'rfm_segment',
        'cvm_stage': 'cvm_stage',
        'value_tier': 'value_tier',
        'preferred_category': 'preferred_category',
        'first_category': 'first_category',
        'first_product': 'first_product',
        'first_order_discount': 'first_order_discount',
        'first_order_value_band': 'first_order_value_band',
    }) }}
{%- endmacro %}

{#- A customer's value of every segment type, as columns segment_<type> (a select list, each item followed by a
    comma), over int_customers_valued's columns. -#}
{% macro segment_label_columns() -%}
    {%- for segment_type, expression in ltv_segment_types().items() %}
        cast({{ expression }} as {{ dbt.type_string() }}) as segment_{{ segment_type }},
    {%- endfor %}
{%- endmacro %}

{#- One row per customer x segment type over `relation` (which has the columns segment_<type>): segment_type,
    segment_value and every column of the relation. -#}
{% macro segment_rows(relation) -%}
    {%- for segment_type in ltv_segment_types() %}
        select
            '{{ segment_type }}' as segment_type,
            segment_{{ segment_type }} as segment_value,
            {{ relation }}.*
        from {{ relation }}
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
{%- endmacro %}
