{#- on-run-start (dbt_project.yml): DuckDB settings that keep DuckDB's own default unless the environment sets them.
    A profile setting is always applied, so the ones without a default the profile can write down live here:
      DUCKDB_THREADS    DuckDB worker threads for every query of the run (default: every core of the machine).
    The rest are in the profile (profiles.example.yml): DUCKDB_MEMORY_LIMIT, DUCKDB_TEMP_DIR, DUCKDB_MAX_TEMP_SIZE,
    and dbt's own DBT_THREADS. -#}
{% macro apply_warehouse_settings() -%}
    {%- set threads = env_var('DUCKDB_THREADS', '') | trim -%}
    {%- if target.type == 'duckdb' and threads -%}
        {%- if not (threads | int > 0) -%}
            {{ exceptions.raise_compiler_error("DUCKDB_THREADS=" ~ threads ~ " is not a positive whole number. Fix: "
                ~ "set it to the number of DuckDB worker threads (e.g. 2), or unset it to use every core.") }}
        {%- endif -%}
        set threads = {{ threads | int }}
    {%- else -%}
        select 'DuckDB threads: default' as warehouse_settings
    {%- endif -%}
{%- endmacro %}
