{#- Schema names, dispatched by adapter.
    DuckDB (the default warehouse): custom schemas are used as-is (raw, staging, intermediate, marts) instead of
    dbt's default "<target_schema>_<custom>", so analysts, the dashboard and BI tools see stable schema names in
    the one warehouse file (each environment has its own file).
    Spark (and any shared metastore): schemas follow the target's schema, "<target.schema>_<custom>" (dbt's
    default), so dev, CI and prod builds never share a `marts` schema, and write-audit-publish can build into a
    staging target schema before publishing (scripts/clvlayer/spark.py). -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{- adapter.dispatch('generate_schema_name', 'customer_value')(custom_schema_name, node) -}}
{%- endmacro %}

{% macro default__generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ target.schema }}_{{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}

{% macro duckdb__generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
