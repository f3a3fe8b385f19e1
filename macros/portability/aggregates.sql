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

{#- dbt's listagg on Spark refuses an order_by_clause; this one keeps it (the root project's spark__listagg takes
    precedence over dbt's): the values sorted by one ascending key, nulls skipped as in string_agg. -#}
{% macro spark__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- if limit_num -%}
        {{ exceptions.raise_compiler_error("listagg: limit_num is not supported on Spark") }}
    {%- endif -%}
    {%- if order_by_clause -%}
        {%- set key = modules.re.sub('^\\s*order\\s+by\\s+', '', order_by_clause, flags=modules.re.I) | trim -%}
        {%- if ',' in key or modules.re.search('\\s(asc|desc)\\s*$', key, flags=modules.re.I) -%}
            {{ exceptions.raise_compiler_error("listagg on Spark: one ascending order key, got " ~ order_by_clause) }}
        {%- endif -%}
        array_join(transform(array_sort(collect_list(named_struct('k', {{ key }}, 'v', {{ measure }}))), x -> x.v),
            {{ delimiter_text }})
    {%- else -%}
        array_join(collect_list({{ measure }}), {{ delimiter_text }})
    {%- endif -%}
{%- endmacro %}

{#- Mean of a numeric expression as a double. DuckDB's avg of a decimal is a double; Spark's is a decimal rounded to
    four more places, so Spark divides the exact sum instead. -#}
{% macro mean_of(expression) -%}
    {{- adapter.dispatch('mean_of', 'customer_value')(expression) -}}
{%- endmacro %}

{% macro default__mean_of(expression) -%}
    avg({{ expression }})
{%- endmacro %}

{% macro spark__mean_of(expression) -%}
    (cast(sum({{ expression }}) as double) / count({{ expression }}))
{%- endmacro %}

{#- Mean of a money expression (two decimal places) as a double, to the last bit the same on every engine: the exact
    sum in cents (an integer), then one IEEE division. avg and a decimal-to-double cast round differently on DuckDB
    and Spark, and the predictive fits (mean repeat spend) amplify a last-bit difference into the standard errors. -#}
{% macro mean_of_money(expression) -%}
    (cast(sum(cast({{ expression }} * 100 as bigint)) as double) / (100 * count({{ expression }})))
{%- endmacro %}
