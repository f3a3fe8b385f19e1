{#- Portable aggregates, dispatched. -#}

{#- Exact median of a numeric expression as a double, interpolated between the two middle values for an even count
    (DuckDB quantile_cont, Spark percentile, ANSI percentile_cont all agree on that). -#}
{% macro median_of(expression) -%}
    {{ return(adapter.dispatch('median_of', 'customer_value')(expression)) }}
{%- endmacro %}

{% macro default__median_of(expression) -%}
    percentile_cont(0.5) within group (order by cast({{ expression }} as double))
{%- endmacro %}

{% macro duckdb__median_of(expression) -%}
    quantile_cont(cast({{ expression }} as double), 0.5)
{%- endmacro %}

{% macro spark__median_of(expression) -%}
    percentile(cast({{ expression }} as double), 0.5)
{%- endmacro %}
