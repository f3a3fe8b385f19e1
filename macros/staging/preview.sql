{#-
    preview_inputs(sample_rows): run by `clv check-input` (through check_input_report). For each table of
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

{#-
    check_input_report(sample_rows): the dbt run-operation of `clv check-input`, run in the scratch file into which it
    built the folder's staging and audit nodes: the preview of the first rows, then the verdict.
-#}
{% macro check_input_report(sample_rows=10000) -%}
    {%- do preview_inputs(sample_rows) -%}
    {%- do quarantine_verdict() -%}
{%- endmacro %}

{#-
    quarantine_verdict(): logs one JSON line per raw table (CLV_VERDICT) with the audit's own figures and the threshold the
    build's audit test applies (the vars max_quarantined_share and quarantine_threshold_severity that
    audit_row_accounting.yml reads). The reasons, examples and fixes are read from audit_quarantine_summary.
-#}
{% macro quarantine_verdict() -%}
    {%- if load_relation(ref('audit_row_accounting')) is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- set accounting = run_query(
        "select source_table, raw_rows, quarantined_rows, unaccounted_rows, quarantined_share "
        ~ "from " ~ ref('audit_row_accounting') ~ " order by source_table") -%}
    {%- for row in accounting.rows -%}
        {{ log('CLV_VERDICT ' ~ tojson({
            'table': row['source_table'], 'raw_rows': row['raw_rows'], 'quarantined_rows': row['quarantined_rows'],
            'unaccounted_rows': row['unaccounted_rows'],
            'share': (row['quarantined_share'] | float) if row['quarantined_share'] is not none else none,
            'max_share': var('max_quarantined_share') | float,
            'severity': var('quarantine_threshold_severity')}), info=True) }}
    {%- endfor -%}
{%- endmacro %}
