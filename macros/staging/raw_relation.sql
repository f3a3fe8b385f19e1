{#-
    raw_relation(table_name)

    Returns a subquery exposing exactly the contract columns of a raw table (models/staging/_sources.yml), whatever
    the input is:
      * default: the embedded sample, i.e. the source (seeds loaded into schema `raw`);
      * var('raw_data_dir') / env RAW_DATA_DIR set: <dir>/<table>.parquet or <dir>/<table>.csv, read with
        DuckDB's readers (CSV as all-varchar so that bad values reach staging and get quarantined instead of
        failing the read).
    Optional columns missing from the input come back as typed nulls. A missing required table or column raises a
    compiler error naming the file, the column and the fix. A missing optional table becomes an empty relation
    with the contract's columns, so everything downstream still builds.
    Reading files is DuckDB-specific (read_parquet / read_csv): that is isolated here.
-#}
{% macro raw_relation(table_name) -%}
    {#- the source documents lineage; the ref to the seed orders the DAG (seeds load before staging reads them) -#}
    {%- set declared = source('shop', table_name) -%}
    {%- set src = ref('raw_' ~ table_name) -%}
    {%- if not execute -%}
        {{ return(src) }}
    {%- endif -%}
    {%- set node = graph.sources['source.' ~ project_name ~ '.shop.' ~ table_name] -%}
    {%- set contract_columns = node.columns.values() | list -%}
    {%- set table_required = node.meta.get('required', false) -%}
    {%- set data_dir = var('raw_data_dir', '') | trim -%}

    {%- if data_dir == '' -%}
        {%- set available = adapter.get_columns_in_relation(src) | map(attribute='name') | map('lower') | list -%}
        {%- set reader = src -%}
        {%- set where_label = 'seed ' ~ src -%}
    {%- else -%}
        {%- set lookup = namespace(found=none) -%}
        {%- for ext in ['parquet', 'csv'] -%}
            {%- set candidate = data_dir.rstrip('/') ~ '/' ~ table_name ~ '.' ~ ext -%}
            {%- set hits = run_query("select count(*) from glob('" ~ candidate ~ "')").columns[0].values()[0] -%}
            {%- if lookup.found is none and hits > 0 -%}
                {%- set lookup.found = candidate -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set found = lookup.found -%}
        {%- if found is none -%}
            {%- if table_required -%}
                {{ exceptions.raise_compiler_error(
                    "Required input missing: no " ~ table_name ~ ".parquet or " ~ table_name ~ ".csv in RAW_DATA_DIR="
                    ~ data_dir ~ ". Fix: put the " ~ table_name ~ " export there (columns: "
                    ~ (contract_columns | map(attribute='name') | join(', ')) ~ ") or unset RAW_DATA_DIR to build the sample.") }}
            {%- endif -%}
            {#- optional table absent: an empty relation with the contract's columns -#}
            {%- set typed_nulls = [] -%}
            {%- for column in contract_columns -%}
                {%- do typed_nulls.append('cast(null as ' ~ dbt.type_string() ~ ') as ' ~ column.name) -%}
            {%- endfor -%}
            {{ return('(select ' ~ (typed_nulls | join(', ')) ~ ' where 1 = 0)') }}
        {%- endif -%}
        {%- if found.endswith('.parquet') -%}
            {%- set reader = "read_parquet('" ~ found ~ "')" -%}
        {%- else -%}
            {%- set reader = "read_csv('" ~ found ~ "', header = true, all_varchar = true, auto_detect = true, "
                ~ "store_rejects = true)" -%}
            {#- a malformed line is never dropped silently: the build stops and names the line -#}
            {%- do run_query("select count(*) from " ~ reader) -%}
            {%- set rejects = run_query(
                "select distinct e.line, e.error_message from reject_errors as e join reject_scans as s "
                ~ "on e.scan_id = s.scan_id and e.file_id = s.file_id where s.file_path = '" ~ found
                ~ "' order by 1 limit 5") -%}
            {%- if rejects.rows | length > 0 -%}
                {{ exceptions.raise_compiler_error("Malformed CSV " ~ found ~ ": "
                    ~ (rejects.rows | map('join', ': ') | join('; ')) ~ " (line: error). Fix: repair those lines "
                    ~ "(quote fields that contain commas) and re-export.") }}
            {%- endif -%}
        {%- endif -%}
        {%- set described = run_query("describe select * from " ~ reader) -%}
        {%- set available = described.columns[0].values() | map('lower') | list -%}
        {%- set where_label = found -%}
    {%- endif -%}

    {%- for column in contract_columns -%}
        {%- if column.meta.get('required', false) and column.name not in available -%}
            {{ exceptions.raise_compiler_error(
                "Required column '" ~ column.name ~ "' missing in " ~ where_label ~ " (found: "
                ~ (available | join(', ')) ~ "). Fix: rename or add the column; the contract is in "
                ~ "models/staging/_sources.yml.") }}
        {%- endif -%}
    {%- endfor -%}
    (select
    {%- for column in contract_columns %}
        {% if column.name in available -%}
            {{ adapter.quote(column.name) }}
        {%- else -%}
            cast(null as {{ dbt.type_string() }})
        {%- endif %} as {{ column.name }}{{ "," if not loop.last }}
    {%- endfor %}
    from {{ reader }})
{%- endmacro %}

{#- The raw tables of the input contract, in dependency order (orders first). -#}
{% macro raw_tables() -%}
    {{ return(['orders', 'customers', 'order_items', 'products', 'refunds', 'marketing_spend']) }}
{%- endmacro %}
