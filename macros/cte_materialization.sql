{#- `name as {{ not_materialized() }} (...)`: a CTE the engine must inline at each reference instead of materializing
    it once. DuckDB materializes a CTE read more than once (and may choose to for others); a wide one (every
    column of every order) outgrows the memory limit at 100M orders and spills tens of GB, where recomputing a
    scan or a projection at each reference costs far less (docs/benchmarks.md, "Orders at 100M: no wide CTE
    materialized"). Other engines inline CTEs anyway: nothing is rendered there. -#}
{% macro not_materialized() -%}
    {{- adapter.dispatch('not_materialized', 'customer_value')() | trim -}}
{%- endmacro %}
{% macro default__not_materialized() -%} {%- endmacro %}
{% macro duckdb__not_materialized() -%} not materialized {%- endmacro %}
