{#- integer_series(upper_bound): a subquery with column `n` holding 0 .. upper_bound - 1.
    upper_bound may be a SQL expression (e.g. a scalar subquery). Portable: built from a cross join of digits
    (up to 10^6 values), so it runs on any adapter without generate_series/range. -#}
{% macro integer_series(upper_bound) -%}
    {{ return(adapter.dispatch('integer_series', 'customer_value')(upper_bound)) }}
{%- endmacro %}

{% macro default__integer_series(upper_bound) -%}
    (
        select series_values.n
        from (
            select d0.d + 10 * d1.d + 100 * d2.d + 1000 * d3.d + 10000 * d4.d + 100000 * d5.d as n
            {%- for i in range(6) %}
            {{ 'from' if loop.first else 'cross join' }} (
                select 0 as d union all select 1 union all select 2 union all select 3 union all select 4
                union all select 5 union all select 6 union all select 7 union all select 8 union all select 9
            ) as d{{ i }}
            {%- endfor %}
        ) as series_values
        where series_values.n < {{ upper_bound }}
    )
{%- endmacro %}

{% macro duckdb__integer_series(upper_bound) -%}
    (select unnest(generate_series(0, cast({{ upper_bound }} as bigint) - 1)) as n)
{%- endmacro %}

{% macro spark__integer_series(upper_bound) -%}
    (
        select series_values.n
        from (select explode(sequence(0, greatest(cast({{ upper_bound }} as bigint) - 1, 0))) as n) as series_values
        where series_values.n < {{ upper_bound }}
    )
{%- endmacro %}
