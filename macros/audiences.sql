{#- Audiences as code (models/marts/audiences/; settings.yml group `audiences`). -#}

{#- Every declared audience: var audiences (built-in) then var custom_audiences (the user's own), checked at compile
    time: a name is a lower-case identifier (it names a table of schema audiences) and is unique. -#}
{% macro audience_definitions() -%}
    {%- set definitions = var('audiences') + var('custom_audiences') -%}
    {%- set seen = [] -%}
    {%- for audience in definitions -%}
        {%- if not modules.re.match('^[a-z][a-z0-9_]{0,62}$', audience.name | string) -%}
            {{ exceptions.raise_compiler_error("audience name '" ~ audience.name ~ "' (vars audiences / "
                ~ "custom_audiences) is not a lower-case identifier: use letters, digits and _, "
                ~ "starting with a letter") }}
        {%- endif -%}
        {%- if audience.name in seen -%}
            {{ exceptions.raise_compiler_error("audience '" ~ audience.name ~ "' is declared twice (vars audiences / "
                ~ "custom_audiences): rename one") }}
        {%- endif -%}
        {%- do seen.append(audience.name) -%}
    {%- endfor -%}
    {{ return(definitions) }}
{%- endmacro %}

{#- The wave the audiences are published for: var audience_wave, else the as-of date (YYYY-MM-DD). -#}
{% macro audience_wave(as_of_date) -%}
    {%- if (var('audience_wave') | trim) != '' -%}
        '{{ var('audience_wave') | trim | lower | replace("'", "''") }}'
    {%- else -%}
        cast({{ as_of_date }} as {{ dbt.type_string() }})
    {%- endif -%}
{%- endmacro %}

{#- A deterministic pseudo-random number in [0, 2^60) from a text key: the first 15 hex digits of its MD5. The same
    key gives the same number on every engine and build (no random state). -#}
{% macro stable_hash(key) -%}
    {{- adapter.dispatch('stable_hash', 'customer_value')(key) -}}
{%- endmacro %}

{% macro default__stable_hash(key) -%}
    cast(('0x' || substr(md5({{ key }}), 1, 15)) as bigint)
{%- endmacro %}

{% macro spark__stable_hash(key) -%}
    cast(conv(substr(md5({{ key }}), 1, 15), 16, 10) as bigint)
{%- endmacro %}

{#- The difference in means of treated and held-out customers with its 95% interval (Welch: unpooled variances,
    normal quantile 1.959964), from the per-group columns <metric>_treated / <metric>_held_out (means),
    <metric>_var_treated / <metric>_var_held_out (sample variances) and treated_customers / held_out_customers.
    Gives <metric>_lift, <metric>_lift_lower, <metric>_lift_upper; null without two customers on each side. -#}
{% macro lift_interval(metric) -%}
    {%- set ok = 'treated_customers >= 2 and held_out_customers >= 2' -%}
    {%- set diff = metric ~ '_treated - ' ~ metric ~ '_held_out' -%}
    {%- set se = 'sqrt(' ~ metric ~ '_var_treated / treated_customers + '
        ~ metric ~ '_var_held_out / held_out_customers)' -%}
    case when {{ ok }} then {{ diff }} end as {{ metric }}_lift,
    case when {{ ok }} then {{ diff }} - 1.959964 * {{ se }} end as {{ metric }}_lift_lower,
    case when {{ ok }} then {{ diff }} + 1.959964 * {{ se }} end as {{ metric }}_lift_upper
{%- endmacro %}

{#- Per-group mean and sample variance of a per-contact outcome: <name>_treated, <name>_var_treated, likewise
    _held_out (the inputs of lift_interval). -#}
{% macro group_moments(expression, name) -%}
    {{ mean_of('case when not is_held_out then ' ~ expression ~ ' end') }} as {{ name }}_treated,
    {{ mean_of('case when is_held_out then ' ~ expression ~ ' end') }} as {{ name }}_held_out,
    var_samp(case when not is_held_out then {{ expression }} end) as {{ name }}_var_treated,
    var_samp(case when is_held_out then {{ expression }} end) as {{ name }}_var_held_out
{%- endmacro %}

{#- Post-hook of fct_audience_members: each audience also as its own table audiences.<name> (what `clv export
    audiences.<name> --format csv|parquet` writes), the schema rebuilt so a removed audience leaves no table. -#}
{% macro publish_audience_tables() -%}
    {{- return(adapter.dispatch('publish_audience_tables', 'customer_value')()) -}}
{%- endmacro %}

{% macro audience_table_statements() -%}
    {%- set schema = generate_schema_name('audiences', none) | trim -%}
    {%- set statements = ['drop schema if exists ' ~ schema ~ ' cascade', 'create schema ' ~ schema] -%}
    {%- for audience in audience_definitions() -%}
        {%- do statements.append('create table ' ~ schema ~ '.' ~ audience.name ~ ' as select * from ' ~ this
            ~ " where audience = '" ~ audience.name ~ "' order by customer_id") -%}
    {%- endfor -%}
    {{ return(statements) }}
{%- endmacro %}

{% macro default__publish_audience_tables() -%}
    {{ return(audience_table_statements() | join(';\n')) }}
{%- endmacro %}

{#- Spark runs one statement per call: all but the last here, the last as the hook. -#}
{% macro spark__publish_audience_tables() -%}
    {%- set statements = audience_table_statements() -%}
    {%- if execute -%}
        {%- for statement in statements[:-1] -%}
            {%- do run_query(statement) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(statements[-1]) }}
{%- endmacro %}
