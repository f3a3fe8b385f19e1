{#- Portable, dispatched casts. Every cast that may meet bad input is a *try* cast: it yields null instead of
    failing the build, and the staging models turn that null into a quarantine reason. DuckDB and Spark both
    have try_cast; adapters without it can override these macros. -#}

{% macro try_cast_decimal(expression, precision=18, scale=2) -%}
    {{ return(adapter.dispatch('try_cast_decimal', 'customer_value')(expression, precision, scale)) }}
{%- endmacro %}

{% macro default__try_cast_decimal(expression, precision, scale) -%}
    try_cast(trim(cast({{ expression }} as {{ dbt.type_string() }})) as decimal({{ precision }}, {{ scale }}))
{%- endmacro %}

{% macro try_cast_integer(expression) -%}
    {{ return(adapter.dispatch('try_cast_integer', 'customer_value')(expression)) }}
{%- endmacro %}

{% macro default__try_cast_integer(expression) -%}
    try_cast(trim(cast({{ expression }} as {{ dbt.type_string() }})) as {{ dbt.type_bigint() }})
{%- endmacro %}

{% macro try_cast_boolean(expression) -%}
    {{ return(adapter.dispatch('try_cast_boolean', 'customer_value')(expression)) }}
{%- endmacro %}

{% macro default__try_cast_boolean(expression) -%}
    case lower(trim(cast({{ expression }} as {{ dbt.type_string() }})))
        when 'true' then true
        when 't' then true
        when '1' then true
        when 'yes' then true
        when 'y' then true
        when 'false' then false
        when 'f' then false
        when '0' then false
        when 'no' then false
        when 'n' then false
    end
{%- endmacro %}

{#- Parse a timestamp given as text (ISO-8601 first, then each format in var('extra_timestamp_formats')) or
    already typed. Returns null when nothing parses. -#}
{% macro try_cast_timestamp(expression) -%}
    {{ return(adapter.dispatch('try_cast_timestamp', 'customer_value')(expression)) }}
{%- endmacro %}

{% macro default__try_cast_timestamp(expression) -%}
    {%- set text = "nullif(trim(cast(" ~ expression ~ " as " ~ dbt.type_string() ~ ")), '')" -%}
    coalesce(
        try_cast({{ text }} as {{ dbt.type_timestamp() }})
        {%- for fmt in var('extra_timestamp_formats') %},
        try_strptime({{ text }}, '{{ fmt }}')
        {%- endfor %}
    )
{%- endmacro %}

{% macro spark__try_cast_timestamp(expression) -%}
    {%- set text = "nullif(trim(cast(" ~ expression ~ " as string)), '')" -%}
    coalesce(
        try_cast({{ text }} as timestamp)
        {%- for fmt in var('extra_timestamp_formats') %},
        try_to_timestamp({{ text }}, '{{ strptime_to_spark(fmt) }}')
        {%- endfor %}
    )
{%- endmacro %}

{% macro strptime_to_spark(fmt) -%}
    {{- fmt | replace('%Y', 'yyyy') | replace('%m', 'MM') | replace('%d', 'dd') | replace('%H', 'HH')
        | replace('%M', 'mm') | replace('%S', 'ss') -}}
{%- endmacro %}

{#- A clean text key: trimmed, empty string treated as missing. -#}
{% macro clean_key(expression) -%}
    nullif(trim(cast({{ expression }} as {{ dbt.type_string() }})), '')
{%- endmacro %}

{#- Lower-cased, trimmed label with empty string treated as missing. -#}
{% macro clean_label(expression) -%}
    nullif(lower(trim(cast({{ expression }} as {{ dbt.type_string() }}))), '')
{%- endmacro %}
