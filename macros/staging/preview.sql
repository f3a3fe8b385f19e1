{#-
    preview_inputs(sample_rows): run by `clv check-input` (dbt run-operation) before any build. For each table of
    the resolved-input manifest and each required column, it parses the first `sample_rows` rows with the same
    macros staging uses (by the column's meta.type in _sources.yml) and logs one JSON line per table:
    {"table", "rows", "columns": {name: {"type", "values", "parsed", "examples"}}}. The CLI warns when most of a
    column does not parse. A preview on a sample: the build decides on every row.
-#}
{% macro preview_parse(type, clean) -%}
    {%- if type == 'timestamp' -%}
        coalesce({{ parse_timestamp_unambiguous(clean) }}, {{ parse_timestamp_ordered(clean, 'DMY') }},
            {{ parse_timestamp_ordered(clean, 'MDY') }})
    {%- elif type == 'amount' -%}
        {{ parse_number(clean) }}
    {%- elif type == 'integer' -%}
        {{ parse_integer(clean) }}
    {%- elif type == 'boolean' -%}
        {{ parse_flag(clean) }}
    {%- else -%}
        {{ clean }}
    {%- endif -%}
{%- endmacro %}

{% macro preview_inputs(sample_rows=10000) -%}
    {%- set manifest = input_manifest() -%}
    {%- if manifest is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- for table_name, entry in manifest.tables.items() -%}
        {%- set node = graph.sources['source.' ~ project_name ~ '.shop.' ~ table_name] -%}
        {%- set required = [] -%}
        {%- for column in node.columns.values() if column.meta.get('required', false) -%}
            {%- do required.append(column) -%}
        {%- endfor -%}
        {%- set selects = [] -%}
        {%- for column in required -%}
            {%- set clean = clean_text(column.name) -%}
            {%- do selects.append("count(" ~ clean ~ ") as " ~ column.name ~ "__values") -%}
            {%- set parsed = preview_parse(column.meta.get('type', 'text'), clean) -%}
            {%- do selects.append("count(" ~ parsed ~ ") as " ~ column.name ~ "__parsed") -%}
            {%- do selects.append("cast(to_json((list(distinct " ~ column.name ~ ") filter (where " ~ clean
                ~ " is null or " ~ parsed ~ " is null))[1:3]) as varchar) as " ~ column.name ~ "__examples") -%}
        {%- endfor -%}
        {%- set sql -%}
            select count(*) as sampled_rows, {{ selects | join(', ') }}
            from (select * from {{ raw_relation(table_name) }} limit {{ sample_rows }}) as sampled
        {%- endset -%}
        {%- set result = run_query(sql) -%}
        {%- set row = result.rows[0] -%}
        {%- set columns = {} -%}
        {%- for column in required -%}
            {%- do columns.update({column.name: {
                'type': column.meta.get('type', 'text'),
                'values': row[column.name ~ '__values'],
                'parsed': row[column.name ~ '__parsed'],
                'examples': fromjson(row[column.name ~ '__examples'] or '[]')}}) -%}
        {%- endfor -%}
        {{ log('CLV_PREVIEW ' ~ tojson({'table': table_name, 'rows': row['sampled_rows'], 'columns': columns}),
            info=True) }}
    {%- endfor -%}
{%- endmacro %}
