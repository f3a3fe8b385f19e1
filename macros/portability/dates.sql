{#- Date math used by the models, dispatched so the same models run on DuckDB and Spark.
    dbt's own cross-database macros (dbt.date_trunc, dbt.dateadd, dbt.datediff) are used where they exist;
    these add what dbt lacks. -#}

{#- Whole calendar months from start to end (e.g. 2024-01-31 -> 2024-02-01 is 1): the "month index" used by
    cohorts. -#}
{% macro months_between_calendar(start_date, end_date) -%}
    {{ return(adapter.dispatch('months_between_calendar', 'customer_value')(start_date, end_date)) }}
{%- endmacro %}

{% macro default__months_between_calendar(start_date, end_date) -%}
    ((extract(year from {{ end_date }}) - extract(year from {{ start_date }})) * 12
        + extract(month from {{ end_date }}) - extract(month from {{ start_date }}))
{%- endmacro %}

{#- Exact elapsed days between two timestamps as a double (fractional days). -#}
{% macro elapsed_days(start_ts, end_ts) -%}
    {{ return(adapter.dispatch('elapsed_days', 'customer_value')(start_ts, end_ts)) }}
{%- endmacro %}

{% macro default__elapsed_days(start_ts, end_ts) -%}
    (extract(epoch from {{ end_ts }}) - extract(epoch from {{ start_ts }})) / 86400.0
{%- endmacro %}

{% macro duckdb__elapsed_days(start_ts, end_ts) -%}
    (epoch({{ end_ts }}) - epoch({{ start_ts }})) / 86400.0
{%- endmacro %}

{#- A timestamp cast to double is its epoch in seconds with the fraction (unix_timestamp drops it). -#}
{% macro spark__elapsed_days(start_ts, end_ts) -%}
    ((cast({{ end_ts }} as double) - cast({{ start_ts }} as double)) / 86400.0)
{%- endmacro %}

{#- The reference "today" for future-date checks: var('reference_date') when set, else the build date. -#}
{% macro reference_timestamp() -%}
    {%- if var('reference_date') -%}
        cast('{{ var("reference_date") }}' as {{ dbt.type_timestamp() }})
    {%- else -%}
        cast({{ dbt.current_timestamp() }} as {{ dbt.type_timestamp() }})
    {%- endif -%}
{%- endmacro %}

{#- Whole days from start_date to end_date (dates). -#}
{% macro days_between(start_date, end_date) -%}
    {{- adapter.dispatch('days_between', 'customer_value')(start_date, end_date) | trim -}}
{%- endmacro %}

{% macro default__days_between(start_date, end_date) -%}
    {{ return(dbt.datediff(start_date, end_date, 'day')) }}
{%- endmacro %}

{% macro duckdb__days_between(start_date, end_date) -%}
    ({{ end_date }} - {{ start_date }})
{%- endmacro %}

{#- A date plus a whole number of days, as a date. -#}
{% macro add_days(date_expression, days_expression) -%}
    cast({{ dbt.dateadd('day', days_expression, date_expression) }} as date)
{%- endmacro %}
