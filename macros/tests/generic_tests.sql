{#- Generic data tests written here because the project uses no dbt packages (dbt deps has no network). -#}

{#- Rows where `expression` is not true fail. -#}
{% test expression_is_true(model, expression, where_clause=none) %}
    select *
    from {{ model }}
    where not ({{ expression }})
    {%- if where_clause %} and ({{ where_clause }}){% endif %}
{% endtest %}

{#- The combination of `combination_of_columns` is unique. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
    select {{ combination_of_columns | join(', ') }}, count(*) as n_rows
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}
    having count(*) > 1
{% endtest %}

{#- Values outside [min_value, max_value] fail (nulls pass; combine with not_null). -#}
{% test accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true) %}
    select *
    from {{ model }}
    where
        {%- if min_value is not none %}
        {{ column_name }} {{ '<' if inclusive else '<=' }} {{ min_value }}
        {%- endif %}
        {%- if min_value is not none and max_value is not none %} or {% endif %}
        {%- if max_value is not none %}
        {{ column_name }} {{ '>' if inclusive else '>=' }} {{ max_value }}
        {%- endif %}
{% endtest %}

{#- The model has exactly as many rows as `compare_model` (optionally filtered). -#}
{% test equal_row_count(model, compare_model, compare_where='1 = 1') %}
    select model_rows, compare_rows
    from
        (select count(*) as model_rows from {{ model }}) as model_counts
    cross join
        (select count(*) as compare_rows from {{ compare_model }} where {{ compare_where }}) as compare_counts
    where model_rows <> compare_rows
{% endtest %}

{#- sum(column) in the model equals sum(compare_column) in compare_model, within `tolerance`. -#}
{% test sums_reconcile(model, column_name, compare_model, compare_column, tolerance=0.005, where_clause='1 = 1',
    compare_where='1 = 1') %}
    select model_total, compare_total
    from
        (
            select coalesce(sum({{ column_name }}), 0) as model_total from {{ model }} where {{ where_clause }}
        ) as model_totals
    cross join
        (
            select coalesce(sum({{ compare_column }}), 0) as compare_total
            from {{ compare_model }} where {{ compare_where }}
        ) as compare_totals
    where abs(model_total - compare_total) > {{ tolerance }}
{% endtest %}
