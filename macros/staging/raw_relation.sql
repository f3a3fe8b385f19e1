{#-
    The resolved-input manifest (scripts/clvlayer/inputs.py), as JSON in the environment variable
    CLV_INPUT_MANIFEST (var input_manifest). None = build the embedded sample (seeds). dbt never searches for files
    itself: one resolver decides which file is read, how, and how many rows it holds. The `clv` commands pass the
    manifest; plain dbt with RAW_DATA_DIR set gets it from the profile's dbt-duckdb plugin (clvlayer.dbt_plugin),
    which resolves the folder when dbt opens its connection: opened here first when no manifest is there yet.
    Parsing needs no manifest (raw_relation returns the seed's ref then).
-#}
{% macro input_manifest() -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set text = var('input_manifest') | trim -%}
    {%- if text == '' and (var('raw_data_dir') | trim) != '' -%}
        {%- do run_query('select 1') -%}
        {%- set text = var('input_manifest') | trim -%}
        {%- if text == '' -%}
            {{ exceptions.raise_compiler_error(
                "RAW_DATA_DIR=" ~ var('raw_data_dir') ~ " is set but no resolved-input manifest was given. Fix: "
                ~ "run dbt with the project's profile (--profiles-dir .dbt after one `clv` command, or "
                ~ "profiles.example.yml), whose plugin clvlayer.dbt_plugin resolves the folder, or export "
                ~ "CLV_INPUT_MANIFEST=\"$(clv check-input \"$RAW_DATA_DIR\" --manifest)\".") }}
        {%- endif -%}
    {%- endif -%}
    {%- if text == '' -%}
        {{ return(none) }}
    {%- endif -%}
    {#- a manifest too long for one environment string comes in parts (scripts/clvlayer/dbt_inputs.py) -#}
    {%- if text.startswith('@parts:') -%}
        {%- set parts = [] -%}
        {%- for index in range(1, (text[7:] | int) + 1) -%}
            {%- do parts.append(env_var('CLV_INPUT_MANIFEST_' ~ index)) -%}
        {%- endfor -%}
        {%- set text = parts | join('') -%}
    {%- endif -%}
    {{ return(fromjson(text)) }}
{%- endmacro %}

{#-
    raw_relation(table_name, batches=none, with_batch=false)

    A subquery exposing exactly the contract columns of a raw table (models/staging/_sources.yml):
      * no manifest: the embedded sample, i.e. the source (seeds loaded into schema `raw`);
      * a manifest: the reader call it holds for the table (read_csv with fixed options and the path escaped, or
        read_parquet); a table delivered as a folder of batch files (docs/input_contract.md) is the union of its
        batches' readers, in name order. A table the manifest does not list is an absent optional table: an empty
        relation with the contract's columns, so everything downstream still builds.
    Optional columns missing from the input come back as nulls. Amounts stored as numbers (Parquet) are written
    with var decimal_separator, so they read like the CSV text the parsing rules expect.
    batches: the names of the batch files to read (none = all; a single export is one batch, named by its file).
    with_batch: add batch_file (the file's name) and batch_row_id (increasing in read order over all the table's
    batches: the n-th batch's rows from n * 2^40, so rows of a batch read in a later run sort as in a full read).
-#}
{% macro raw_relation(table_name, batches=none, with_batch=false) -%}
    {#- the source documents lineage; the ref to the seed orders the DAG (seeds load before staging reads them) -#}
    {%- set declared = source('shop', table_name) -%}
    {%- set src = ref('raw_' ~ table_name) -%}
    {%- if not execute -%}
        {{ return(src) }}
    {%- endif -%}
    {%- set manifest = input_manifest() -%}
    {%- set parts = [] -%}
    {%- if manifest is none -%}
        {%- set available = adapter.get_columns_in_relation(src) | map(attribute='name') | map('lower') | list -%}
        {%- set mapping = {} -%}
        {%- for column in contract_columns(table_name) if column in available -%}
            {%- do mapping.update({column: column}) -%}
        {%- endfor -%}
        {%- if batches is none or src.identifier in batches -%}
            {%- do parts.append(raw_batch_select(table_name, mapping, [], src, false,
                [src.identifier, 0] if with_batch else none)) -%}
        {%- endif -%}
    {%- elif table_name in manifest.tables -%}
        {%- set entry = manifest.tables[table_name] -%}
        {%- if entry.get('batches') and target.type != 'duckdb' -%}
            {{ exceptions.raise_compiler_error("table " ~ table_name ~ " is a folder of batch files, which is read "
                ~ "on DuckDB only. Fix: deliver one file per table for this target.") }}
        {%- endif -%}
        {%- for batch in (entry.get('batches') or [entry]) -%}
            {%- if batches is none or batch.file_name in batches -%}
                {%- do parts.append(raw_batch_select(table_name, batch.columns, batch.get('numeric_columns', []),
                    input_reader(table_name, batch), batch.format == 'csv',
                    [batch.file_name, loop.index0] if with_batch else none, entry.get('column_types') or {})) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if parts | length == 0 -%}
        {%- do parts.append(raw_batch_select(table_name, {}, [], none, false, ['', 0] if with_batch else none)) -%}
    {%- endif -%}
    {{ return(parts[0] if parts | length == 1 else '(' ~ parts | join('\n    union all\n    ') ~ ')') }}
{%- endmacro %}

{#- Whether a raw table is delivered as CSV text (the resolved-input manifest's format; a folder's batches share one
    format): false for Parquet, the embedded sample's seeds and an absent table. -#}
{% macro raw_input_is_csv(table_name) -%}
    {%- set manifest = input_manifest() -%}
    {%- set entry = manifest.tables.get(table_name) if manifest is not none else none -%}
    {{ return(entry is not none and (entry.get('batches') or [entry])[0].format == 'csv') }}
{%- endmacro %}

{#- One file's rows as the contract's columns (raw_relation). reader none: no rows. batch: [file name, ordinal] adds
    batch_file and batch_row_id. shared_types: the columns typed alike in every batch of a folder; another typed
    column of a batch is read as text (so the batches union into one relation). -#}
{% macro raw_batch_select(table_name, mapping, numeric, reader, csv_input, batch=none, shared_types=none) -%}
    {%- set source_id = 'source.' ~ project_name ~ '.shop.' ~ table_name -%}
    (select
    {%- for column in contract_columns(table_name) %}
        {% if column in mapping and column in numeric and var('decimal_separator') == ','
            and graph.sources[source_id].columns[column].meta.get('type') == 'amount' -%}
            replace(cast({{ quoted_identifier(mapping[column]) }} as {{ text_type() }}), '.', ',')
        {%- elif column in mapping and shared_types is not none and column not in shared_types -%}
            cast({{ quoted_identifier(mapping[column]) }} as {{ text_type() }})
        {%- elif column in mapping -%}
            {{ quoted_identifier(mapping[column]) }}
        {%- else -%}
            cast(null as {{ text_type() }})
        {%- endif %} as {{ column }}{{ ',' if not loop.last or batch is not none }}
    {%- endfor %}
    {%- if batch is not none %}
        cast('{{ batch[0] | replace("'", "''") }}' as {{ text_type() }}) as batch_file,
        cast({{ batch[1] }} as bigint) * 1099511627776 + {{ scan_row_id() }} as batch_row_id
    {%- endif %}
    {%- if reader is none %}
    where 1 = 0)
    {%- else %}
    from {{ reader }}{{ input_reader_filter(csv_input) }})
    {%- endif %}
{%- endmacro %}

{#- What raw_relation selects from for a table of the manifest. DuckDB: the reader call the resolver wrote
    (read_csv with fixed options and the path escaped, or read_parquet). Spark: the input table that
    register_inputs (on-run-start) declared over the same file. -#}
{% macro input_reader(table_name, entry) -%}
    {{- return(adapter.dispatch('input_reader', 'customer_value')(table_name, entry)) -}}
{%- endmacro %}

{% macro default__input_reader(table_name, entry) -%}
    {{- return(entry.reader_sql) -}}
{%- endmacro %}

{% macro spark__input_reader(table_name, entry) -%}
    {{- return(input_table(table_name)) -}}
{%- endmacro %}

{#- Spark: the rows Spark's CSV reader could not split into the header's columns carry their raw text in
    _corrupt_record; they are quarantined by insert_rejected_lines, not read as data. -#}
{% macro input_reader_filter(csv_input) -%}
    {{- adapter.dispatch('input_reader_filter', 'customer_value')(csv_input) -}}
{%- endmacro %}

{% macro default__input_reader_filter(csv_input) -%}{%- endmacro %}

{% macro spark__input_reader_filter(csv_input) -%}
    {%- if csv_input %} where _corrupt_record is null{% endif -%}
{%- endmacro %}

{#- Spark: the external table over a raw input file (never dropped with its data: it is declared with a path). -#}
{% macro input_table(table_name) -%}
    {{- return(api.Relation.create(schema=generate_schema_name('raw', none) | trim, identifier='input_' ~ table_name)) -}}
{%- endmacro %}

{#-
    on-run-start (Spark): declare an external table over each file of the resolved-input manifest, with the options
    the resolver decided: CSV as all-text columns named as the resolver named them (header skipped, delimiter,
    quote, escape; a UTF-8 path, see scripts/clvlayer/spark.py), lines that do not split into the header's columns
    kept as _corrupt_record; Parquet as it is typed. Metadata only: nothing is read here.
-#}
{% macro register_inputs() -%}
    {{- return(adapter.dispatch('register_inputs', 'customer_value')()) -}}
{%- endmacro %}

{% macro default__register_inputs() -%}
    {{- return('') -}}
{%- endmacro %}

{% macro spark__register_inputs() -%}
    {%- set manifest = input_manifest() if execute else none -%}
    {%- if manifest is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- do run_query('create schema if not exists ' ~ generate_schema_name('raw', none) | trim) -%}
    {%- for table_name, entry in manifest.tables.items() -%}
        {%- set relation = input_table(table_name) -%}
        {%- do run_query('drop table if exists ' ~ relation) -%}
        {%- set path = (entry.get('spark_path') or entry.path) | replace("\\", "\\\\") | replace("'", "\\'") -%}
        {%- if entry.format == 'csv' -%}
            {%- set columns = [] -%}
            {%- for name in entry.header_columns -%}
                {%- do columns.append(quoted_identifier(name) ~ ' string') -%}
            {%- endfor -%}
            {%- set options = {'path': path, 'header': 'true', 'sep': entry.delimiter,
                'quote': var('csv_quote'), 'escape': var('csv_escape'), 'multiLine': 'true', 'mode': 'PERMISSIVE',
                'columnNameOfCorruptRecord': '_corrupt_record', 'encoding': 'UTF-8', 'nullValue': '',
                'ignoreLeadingWhiteSpace': 'false', 'ignoreTrailingWhiteSpace': 'false'} -%}
            {%- set rendered = [] -%}
            {%- for key, value in options.items() -%}
                {%- do rendered.append(key ~ " '" ~ (value | replace("\\", "\\\\") | replace("'", "\\'")
                    if key != 'path' else value) ~ "'") -%}
            {%- endfor -%}
            {%- do run_query('create table ' ~ relation ~ ' (' ~ columns | join(', ') ~ ', _corrupt_record string) '
                ~ 'using csv options (' ~ rendered | join(', ') ~ ')') -%}
        {%- else -%}
            {%- do run_query('create table ' ~ relation ~ " using parquet options (path '" ~ path ~ "')") -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return('') }}
{%- endmacro %}

{#- Rows counted from the source itself (CSV records by a byte scan, Parquet metadata; the seed table for the
    sample), independent of what the reader returned: the audit compares the two. -#}
{% macro source_row_count(table_name) -%}
    {%- set manifest = input_manifest() if execute else none -%}
    {%- if manifest is none -%}
        (select count(*) from {{ ref('raw_' ~ table_name) }})
    {%- elif table_name in manifest.tables -%}
        {{ manifest.tables[table_name].source_rows }}
    {%- else -%}
        0
    {%- endif -%}
{%- endmacro %}

{% macro source_count_method(table_name) -%}
    {%- set manifest = input_manifest() if execute else none -%}
    {%- if manifest is none -%}
        'seed table'
    {%- elif table_name in manifest.tables -%}
        '{{ manifest.tables[table_name].count_method }}'
    {%- else -%}
        'absent (optional)'
    {%- endif -%}
{%- endmacro %}

{#-
    Post-hook of every base_shop__* model: the CSV lines DuckDB's reader could not turn into a row (wrong number of
    fields, a broken quote, bytes that are not in the file's encoding, a line over the size limit) become rows too,
    quarantined with their raw text and line number. The reader stores them in a temporary reject table of the
    same connection (store_rejects), so nothing it skips is lost.
-#}
{% macro insert_rejected_lines(table_name, with_batch=false, extra={}) -%}
    {{- adapter.dispatch('insert_rejected_lines', 'customer_value')(table_name, with_batch, extra) -}}
{%- endmacro %}

{#- Spark: the lines its CSV reader kept as _corrupt_record (wrong number of fields, a broken quote), quarantined
    as malformed_line with their raw text. Spark's reader does not report line numbers: source_line is null. -#}
{% macro spark__insert_rejected_lines(table_name, with_batch=false, extra={}) -%}
    {%- set manifest = input_manifest() -%}
    {%- set entry = manifest.tables.get(table_name) if manifest is not none else none -%}
    {%- if entry is none or entry.format != 'csv' -%}
        select 'no rejected lines' as rejected_lines
    {%- else -%}
        insert into {{ this }} (quarantine_reason, raw_row, source_line)
        {#- a data column is read too: Spark refuses a query of a raw CSV file that reads only _corrupt_record -#}
        select 'malformed_line', coalesce(_corrupt_record, {{ quoted_identifier(entry.header_columns[0]) }}),
            cast(null as bigint)
        from {{ input_table(table_name) }}
        where _corrupt_record is not null
    {%- endif -%}
{%- endmacro %}

{% macro duckdb__insert_rejected_lines(table_name, with_batch=false, extra={}) -%}
    {%- set manifest = input_manifest() -%}
    {%- set entry = manifest.tables.get(table_name) if manifest is not none else none -%}
    {%- set selects = [] -%}
    {%- if entry is not none and execute -%}
        {%- for batch in (entry.get('batches') or [entry]) if batch.rejects_table -%}
            {%- set rejects = batch.rejects_table -%}
            {%- set exists = run_query("select count(*) from duckdb_tables() where table_name = '" ~ rejects ~ "'") -%}
            {%- if exists.columns[0].values()[0] > 0 -%}
                {%- set select -%}
                    select
                        case
                            when bool_or(error_type = 'INVALID ENCODING') then 'undecodable_line'
                            when bool_or(error_type = 'LINE SIZE OVER MAXIMUM') then 'line_too_long'
                            else 'malformed_line'
                        end,
                        min(csv_line),
                        line
                        {%- if with_batch %},
                        '{{ batch.file_name | replace("'", "''") }}'
                        {%- endif %}
                        {%- for value in extra.values() %},
                        {{ value }}
                        {%- endfor %}
                    from {{ rejects }}
                    where scan_id = (select max(scan_id) from {{ rejects }})
                    group by line
                {%- endset -%}
                {%- do selects.append(select) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if selects | length == 0 -%}
        select 'no rejected lines' as rejected_lines
    {%- else -%}
        insert into {{ this }} (quarantine_reason, raw_row, source_line
            {%- if with_batch %}, batch_file{% endif %}
            {%- for column in extra.keys() %}, {{ column }}{% endfor %})
        {{ selects | join('\nunion all\n') }}
    {%- endif -%}
{%- endmacro %}

{#- The raw tables of the input contract, in dependency order (orders first). -#}
{% macro raw_tables() -%}
    {{ return(['orders', 'customers', 'order_items', 'products', 'refunds', 'marketing_spend', 'campaign_contacts']) }}
{%- endmacro %}

{#-
    raw_column_kinds(table_name): {contract column: kind} for the columns raw_relation passes through with a type
    (typed Parquet columns from the manifest's column_types, typed seed columns), so staging types them once
    (cleaned_rows, timestamp_candidates). Kinds: timestamp (naive: TIMESTAMP, _S, _MS), timestamptz, date, number
    (DECIMAL and integer types), boolean. Text, DOUBLE/FLOAT (whose text can be 'nan' or an exponent),
    TIMESTAMP_NS (nanoseconds) and amounts rewritten for decimal_separator ',' stay text and are parsed as text.
-#}
{% macro raw_column_kinds(table_name) -%}
    {%- if not execute -%}{{ return({}) }}{%- endif -%}
    {%- set manifest = input_manifest() -%}
    {%- set types = {} -%}
    {%- if manifest is none -%}
        {%- for column in adapter.get_columns_in_relation(ref('raw_' ~ table_name)) -%}
            {%- do types.update({column.name | lower: column.dtype | upper}) -%}
        {%- endfor -%}
    {%- elif table_name in manifest.tables -%}
        {%- set entry = manifest.tables[table_name] -%}
        {%- for column, kind in (entry.get('column_types') or {}).items() -%}
            {%- if not (column in entry.get('numeric_columns', []) and var('decimal_separator') == ',') -%}
                {%- do types.update({column: kind | upper}) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set kinds = {} -%}
    {%- for column in contract_columns(table_name) if column in types -%}
        {%- set kind = types[column] -%}
        {%- if kind in ('TIMESTAMP', 'TIMESTAMP_S', 'TIMESTAMP_MS', 'DATETIME') -%}
            {%- do kinds.update({column: 'timestamp'}) -%}
        {%- elif kind in ('TIMESTAMP WITH TIME ZONE', 'TIMESTAMPTZ') -%}
            {%- do kinds.update({column: 'timestamptz'}) -%}
        {%- elif kind == 'DATE' -%}
            {%- do kinds.update({column: 'date'}) -%}
        {%- elif kind.startswith('DECIMAL') or kind.startswith('NUMERIC') or kind in ('TINYINT', 'SMALLINT', 'INTEGER',
            'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT', 'UHUGEINT') -%}
            {%- do kinds.update({column: 'number'}) -%}
        {%- elif kind == 'BOOLEAN' -%}
            {%- do kinds.update({column: 'boolean'}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(kinds) }}
{%- endmacro %}
