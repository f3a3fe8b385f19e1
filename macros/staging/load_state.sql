{#-
    Staging that keeps its decisions as state (docs/operations.md "Incremental runs", docs/input_contract.md
    "Two shapes of input"). An incremental staging model (base_shop__orders) asks staging_load_plan which rows to
    read this run:

      * a full build (no table yet, --full-refresh, or `clv build` without --incremental): every file;
      * an incremental run: only the batch files the load ledger (audit.audit_load_ledger) has not loaded yet -
        unless a loaded file changed (checksum) or vanished, a new file sorts before one already loaded, or the new
        rows change a decision kept as state (the day/month order of a date column): then the table is rebuilt in
        full (`rebuild`), and the ledger's row for each file says why (load_note).

    A snapshot export (one file rewritten every night) is one batch named by its file: unchanged, nothing is read;
    changed, the table is rebuilt in full.
-#}

{#- The input files of a table in read order: [{file_name, sha256, size, source_rows}] (empty for the embedded
    sample, whose seeds have no checksum). -#}
{% macro input_files(table_name) -%}
    {%- set manifest = input_manifest() if execute else none -%}
    {%- if manifest is none or table_name not in manifest.tables -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set entry = manifest.tables[table_name] -%}
    {{ return(entry.get('batches') or [entry]) }}
{%- endmacro %}

{#- The load ledger of the warehouse being built, or none (looked up by name: it is built after staging, from it). -#}
{% macro load_ledger_relation() -%}
    {{ return(adapter.get_relation(database=this.database, schema=generate_schema_name('audit', none) | trim,
        identifier='audit_load_ledger')) }}
{%- endmacro %}

{#- The files of a table the ledger holds as loaded: {file name: checksum} of the last full load and the
    incremental loads after it. -#}
{% macro loaded_files(table_name, ledger) -%}
    {%- set rows = run_query(
        "select batch_file, checksum from " ~ ledger ~ " where source_table = '" ~ table_name ~ "'"
        ~ " and loaded_at >= (select max(loaded_at) from " ~ ledger ~ " where source_table = '" ~ table_name
        ~ "' and load_mode = 'full')"
        ~ " qualify row_number() over (partition by batch_file order by loaded_at desc) = 1") -%}
    {%- set loaded = {} -%}
    {%- for row in rows -%}
        {%- do loaded.update({row[0]: row[1]}) -%}
    {%- endfor -%}
    {{ return(loaded) }}
{%- endmacro %}

{#- The file part of the plan (cheap: the manifest against the ledger): {rebuild, read, note}. read: the names of
    the files to read (none = all). -#}
{% macro file_load_plan(table_name, ledger) -%}
    {%- set files = input_files(table_name) -%}
    {%- if files | length == 0 -%}
        {{ return({'rebuild': true, 'read': none,
            'note': table_name ~ ': the embedded sample has no file checksums: rebuilt in full'}) }}
    {%- endif -%}
    {%- if ledger is none -%}
        {{ return({'rebuild': true, 'read': none,
            'note': table_name ~ ': no load ledger in the warehouse: rebuilt in full'}) }}
    {%- endif -%}
    {%- set loaded = loaded_files(table_name, ledger) -%}
    {%- if loaded | length == 0 -%}
        {{ return({'rebuild': true, 'read': none,
            'note': table_name ~ ': the load ledger has no files of it: rebuilt in full'}) }}
    {%- endif -%}
    {%- set current = {} -%}
    {%- for file in files -%}
        {%- do current.update({file.file_name: file.sha256}) -%}
    {%- endfor -%}
    {%- set vanished = [] -%}
    {%- set changed = [] -%}
    {%- for name, checksum in loaded.items() | sort -%}
        {%- if name not in current -%}
            {%- do vanished.append(name) -%}
        {%- elif current[name] != checksum -%}
            {%- do changed.append(name) -%}
        {%- endif -%}
    {%- endfor -%}
    {#- both faults are said when both happened: the note names every file that forced the rebuild -#}
    {%- set reasons = [] -%}
    {%- if vanished -%}
        {%- do reasons.append('loaded file(s) no longer delivered (' ~ vanished | join(', ') ~ ')') -%}
    {%- endif -%}
    {%- if changed -%}
        {%- do reasons.append('loaded file(s) changed since they were loaded (checksum: ' ~ changed | join(', ')
            ~ ')') -%}
    {%- endif -%}
    {%- if reasons -%}
        {{ return({'rebuild': true, 'read': none, 'note': table_name ~ ': ' ~ reasons | join('; ')
            ~ ': rebuilt in full' ~ (' without them' if vanished and not changed else '')}) }}
    {%- endif -%}
    {%- set new = [] -%}
    {%- for file in files if file.file_name not in loaded -%}
        {%- do new.append(file.file_name) -%}
    {%- endfor -%}
    {%- set last_loaded = loaded.keys() | max -%}
    {%- set early = new | select('lt', last_loaded) | list -%}
    {%- if early -%}
        {{ return({'rebuild': true, 'read': none, 'note': table_name ~ ': new file(s) ' ~ early | join(', ')
            ~ ' sort before the loaded ' ~ last_loaded ~ ' (rows are read in file-name order): rebuilt in full'}) }}
    {%- endif -%}
    {{ return({'rebuild': false, 'read': new, 'note': ''}) }}
{%- endmacro %}

{#- The day/month order of each date column over the stored rows and the new files' rows: [{column, stored,
    decided}] (stored: the decision the stored rows were typed under). -#}
{% macro date_orders_with_new_rows(table_name, columns, read) -%}
    {%- set query -%}
        with

        new_rows as (

            select
            {%- for column in columns %}
                {{ timestamp_candidates(column, table_name) }}{{ ',' if not loop.last }}
            {%- endfor %}
            from ({{ cleaned_rows(table_name, raw_relation(table_name, batches=read)) }}) as cleaned

        ),

        new_counts as (

            select
            {%- for column in columns %}
                count(case when {{ timestamp_reads(column, 'dmy') }} then 1 end) as {{ column }}__dmy,
                count(case when {{ timestamp_reads(column, 'mdy') }} then 1 end) as {{ column }}__mdy
                {{- ',' if not loop.last }}
            {%- endfor %}
            from new_rows

        ),

        stored_counts as (

            select
            {%- for column in columns %}
                count(case when {{ column }}__reads_dmy then 1 end) as {{ column }}__dmy,
                count(case when {{ column }}__reads_mdy then 1 end) as {{ column }}__mdy,
                min({{ column }}__date_order) as {{ column }}__first,
                max({{ column }}__date_order) as {{ column }}__last
                {{- ',' if not loop.last }}
            {%- endfor %}
            from {{ this }}

        )

        select
        {%- for column in columns %}
            case when stored_counts.{{ column }}__first = stored_counts.{{ column }}__last
                then stored_counts.{{ column }}__first end,
            {{ date_order_decision('stored_counts.' ~ column ~ '__dmy + new_counts.' ~ column ~ '__dmy',
                'stored_counts.' ~ column ~ '__mdy + new_counts.' ~ column ~ '__mdy') }}
            {{- ',' if not loop.last }}
        {%- endfor %}
        from stored_counts
        cross join new_counts
    {%- endset -%}
    {%- set row = run_query(query).rows[0] -%}
    {%- set decisions = [] -%}
    {%- for column in columns -%}
        {%- do decisions.append({'column': column, 'stored': row[loop.index0 * 2],
            'decided': row[loop.index0 * 2 + 1]}) -%}
    {%- endfor -%}
    {{ return(decisions) }}
{%- endmacro %}

{#-
    staging_load_plan(table_name, date_columns): how this run stages a table -
      incremental  read only `read` (new files) and update the stored rows of the keys they touch;
      rebuild      an incremental run that rebuilds the table in full (`note` says why; the pre-hook
                   staging_rebuild_delete empties it first);
      neither      a full build (the table is created).
    date_orders: {column: decision} the stored rows were typed under, for the new rows (incremental only).
-#}
{% macro staging_load_plan(table_name, date_columns=[]) -%}
    {%- set plan = {'incremental': false, 'rebuild': false, 'read': none, 'note': '', 'date_orders': {}} -%}
    {%- if not execute or not is_incremental() -%}
        {{ return(plan) }}
    {%- endif -%}
    {%- set files = file_load_plan(table_name, load_ledger_relation()) -%}
    {%- if files.rebuild -%}
        {%- do plan.update({'rebuild': true, 'note': files.note}) -%}
        {{ return(plan) }}
    {%- endif -%}
    {%- do plan.update({'incremental': true, 'read': files.read}) -%}
    {%- if date_columns -%}
        {%- for decision in date_orders_with_new_rows(table_name, date_columns, files.read) -%}
            {%- if decision.stored is none or decision.stored != decision.decided -%}
                {%- do plan.update({'incremental': false, 'rebuild': true, 'read': none,
                    'note': table_name ~ ': the new rows change the day/month order of ' ~ decision.column ~ ' (was '
                    ~ (decision.stored or 'mixed') ~ ', now ' ~ decision.decided ~ ' over all rows): rebuilt in full'}) -%}
                {{ return(plan) }}
            {%- endif -%}
            {%- do plan.date_orders.update({decision.column: decision.decided}) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(plan) }}
{%- endmacro %}

{#- Pre-hook of an incremental staging model: empties it when this run rebuilds it in full. -#}
{% macro staging_rebuild_delete(table_name, date_columns=[]) -%}
    {%- if staging_load_plan(table_name, date_columns).rebuild -%}
        delete from {{ this }}
    {%- else -%}
        select 'staged incrementally' as load_mode
    {%- endif -%}
{%- endmacro %}

{#- The body of an incremental staging model's date_orders CTE: the day/month order of each date column, decided
    over `relation` (a full build or rebuild), or the stored decisions the plan checked (incremental). -#}
{% macro staged_date_orders(plan, date_columns, relation) -%}
    {%- if plan.incremental -%}
        select
        {%- for column in date_columns %}
            '{{ plan.date_orders[column] }}' as {{ column }}__date_order{{ ',' if not loop.last }}
        {%- endfor %}
    {%- else -%}
        select {{ timestamp_date_orders(date_columns) }}
        from {{ relation }}
    {%- endif -%}
{%- endmacro %}

{#- The load ledger (models/audit/audit_load_ledger.sql): the day/month orders a row was typed under, as one text
    ('ordered_at=DMY updated_at=ambiguous'). -#}
{% macro date_orders_label(date_columns) -%}
    {%- set parts = [] -%}
    {%- for column in date_columns -%}
        {%- do parts.append("'" ~ column ~ "=' || " ~ column ~ "__date_order") -%}
    {%- endfor -%}
    {{ parts | join(" || ' ' || ") }}
{%- endmacro %}

{#- The load ledger: the files delivered for a table (name, bytes, checksum, rows counted at the source), from the
    resolved-input manifest; the embedded sample is one seed, counted from its table, without a checksum. -#}
{% macro delivered_files(table_name, files, read_relation) -%}
    {%- if files -%}
        select * from (
            values
            {%- for file in files %}
                ('{{ file.file_name | replace("'", "''") }}', cast({{ file.size }} as bigint), '{{ file.sha256 }}',
                    cast({{ file.source_rows }} as bigint)){{ ',' if not loop.last }}
            {%- endfor %}
        ) as delivered_file (batch_file, file_bytes, checksum, raw_rows)
    {%- else -%}
        select
            batch_file,
            cast(null as bigint) as file_bytes,
            cast(null as {{ dbt.type_string() }}) as checksum,
            cast({{ source_row_count(table_name) }} as bigint) as raw_rows
        from {{ read_relation }}
    {%- endif -%}
{%- endmacro %}

{#- The load ledger: why this run staged the table in full (null for an incremental load or a first build): the
    file part of the plan, recomputed against the ledger before this run's rows are added, else the day/month order
    that the new rows changed (the ledger's last load against this one). -#}
{% macro ledger_load_note(table_name, load_mode, read_relation) -%}
    {%- if not is_incremental() -%}
        cast(null as {{ dbt.type_string() }})
    {%- else -%}
        {%- set plan = file_load_plan(table_name, this) -%}
        {%- set last_load = "(select max(date_orders) from " ~ this ~ " where source_table = '" ~ table_name
            ~ "' and loaded_at = (select max(loaded_at) from " ~ this ~ " where source_table = '" ~ table_name
            ~ "'))" -%}
        case
            when {{ load_mode }} = 'incremental' then null
            {%- if plan.rebuild %}
            else '{{ plan.note | replace("'", "''") }}'
            {%- else %}
            else '{{ table_name }}: the new rows change the day/month order of a date column ('
                || coalesce({{ last_load }}, '?') || ' -> '
                || (select min(date_orders) from {{ read_relation }}) || '): rebuilt in full'
            {%- endif %}
        end
    {%- endif -%}
{%- endmacro %}
