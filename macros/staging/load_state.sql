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
    changed, it is read in full once and compared with the stored rows by a narrow hash of each raw row
    (snapshot_diff): only the keys whose rows changed, came or went are staged again (`diff`), and the day/month
    order of each date column is updated from the counts kept per row (the stored rows, less those of the changed
    keys, plus the file's rows of those keys); a new order that a full build would type otherwise still rebuilds.

    The tables whose staging keeps its decisions as state are listed in state_tables. orders keeps its own stored
    columns (base_shop__orders.sql); the others share staged_source: the rows to stage are the new rows and the stored
    raw rows of every key (state_key) they touch, re-read as the file gave them, so one pipeline types and classifies
    them as a full build does, and delete+insert on state_key replaces the key's rows.
-#}

{#- The tables staged incrementally: their key (the ids a full build classifies duplicates by), their date columns
    (whose day/month order is kept as state) and whether a changed snapshot file is read by difference (diff) rather
    than rebuilt; stored_key and keyless: stored_state_key, stored_keyless. -#}
{% macro state_tables() -%}
    {{ return({
        'orders': {'key_columns': ['order_id'], 'date_columns': ['ordered_at', 'updated_at'], 'diff': true,
            'stored_key': 'hash(order_id)', 'keyless': 'order_id is null'},
        'customers': {'key_columns': ['customer_id'], 'date_columns': ['created_at', 'loyalty_joined_at'],
            'diff': true},
        'order_items': {'key_columns': ['order_id', 'product_id'], 'date_columns': [], 'diff': true},
        'refunds': {'key_columns': ['refund_id'], 'date_columns': ['refunded_at'], 'diff': true}}) }}
{%- endmacro %}

{#- A stored row's state key (the raw_state_key of the row it was staged from) and the condition of the stored rows
    without one (the unparseable lines the post-hook adds; orders: every row without an order id, which delete+insert
    on order_id cannot replace, so a snapshot read by difference always stages them again). orders stores no
    state_key: its key is the hash of the stored (normalized) order id, the value raw_state_key hashes. -#}
{% macro stored_state_key(table_name) -%}
    {{ return(state_tables()[table_name].get('stored_key', 'state_key')) }}
{%- endmacro %}

{% macro stored_keyless(table_name) -%}
    {{ return(state_tables()[table_name].get('keyless', 'state_key is null')) }}
{%- endmacro %}

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
    {%- set manifest = input_manifest() -%}
    {%- if changed and not vanished and state_tables().get(table_name, {}).get('diff')
        and not manifest.tables[table_name].get('batches') -%}
        {{ return({'rebuild': false, 'read': changed, 'diff': true, 'note': ''}) }}
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
    {{ return({'rebuild': false, 'read': new, 'diff': false, 'note': ''}) }}
{%- endmacro %}

{#- The day/month order of each date column over the stored rows and the new files' rows: [{column, stored,
    decided}] (stored: the decision the stored rows were typed under). diff: the snapshot_diff table of a snapshot
    read by difference: the file's rows are the stored rows, less those of the keys it changed, plus its rows of
    those keys (the counts kept as state, so only the changed rows are typed). -#}
{% macro date_orders_with_new_rows(table_name, columns, read, diff=none) -%}
    {%- set query -%}
        with

        new_rows as (

            select
            {%- for column in columns %}
                {{ timestamp_candidates(column, table_name) }}{{ ',' if not loop.last }}
            {%- endfor %}
            from ({{ cleaned_rows(table_name, raw_relation(table_name, batches=read) if diff is none
                else '(select * from ' ~ diff ~ ' where not is_vanished) as diff_rows') }}) as cleaned

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

        ),

        replaced_counts as (

            {#- the stored rows of the keys a snapshot read by difference stages again (none otherwise) -#}
            select
            {%- for column in columns %}
                count(case when {{ column }}__reads_dmy then 1 end) as {{ column }}__dmy,
                count(case when {{ column }}__reads_mdy then 1 end) as {{ column }}__mdy
                {{- ',' if not loop.last }}
            {%- endfor %}
            from {{ this }}
            {%- if diff is none %}
            where false
            {%- else %}
            where {{ stored_state_key(table_name) }} in (select diff_keys.state_key from {{ diff }} as diff_keys)
            {%- endif %}

        )

        select
        {%- for column in columns %}
            case when stored_counts.{{ column }}__first = stored_counts.{{ column }}__last
                then stored_counts.{{ column }}__first end,
            {{ date_order_decision(
                'stored_counts.' ~ column ~ '__dmy - replaced_counts.' ~ column ~ '__dmy + new_counts.' ~ column
                ~ '__dmy',
                'stored_counts.' ~ column ~ '__mdy - replaced_counts.' ~ column ~ '__mdy + new_counts.' ~ column
                ~ '__mdy') }}
            {{- ',' if not loop.last }}
        {%- endfor %}
        from stored_counts
        cross join replaced_counts
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
{% macro staging_load_plan(table_name, date_columns=none) -%}
    {%- set date_columns = state_tables()[table_name].date_columns if date_columns is none else date_columns -%}
    {%- set plan = {'incremental': false, 'rebuild': false, 'read': none, 'note': '', 'date_orders': {},
        'diff': false, 'diff_relation': none} -%}
    {#- only a run writes the per-run difference table (snapshot_diff): `dbt compile`, `dbt docs generate` and
        `clv docs` compile the full-build form and leave the warehouse as it is (it may be opened read-only) -#}
    {%- if not execute or not is_incremental() or flags.WHICH not in ('build', 'run', 'retry') -%}
        {{ return(plan) }}
    {%- endif -%}
    {%- set files = file_load_plan(table_name, load_ledger_relation()) -%}
    {%- if files.rebuild -%}
        {%- do plan.update({'rebuild': true, 'note': files.note}) -%}
        {{ return(plan) }}
    {%- endif -%}
    {%- do plan.update({'incremental': true, 'read': files.read, 'diff': files.diff,
        'diff_relation': snapshot_diff(table_name, files.read) if files.diff else none}) -%}
    {%- if date_columns -%}
        {%- for decision in date_orders_with_new_rows(table_name, date_columns, files.read, plan.diff_relation) -%}
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

{#- Pre-hook of an incremental staging model: empties it when this run rebuilds it in full. When it reads a snapshot
    by difference: removes the keys no row of the file has any more (delete+insert replaces only the keys the model
    outputs), and the file's unparseable lines (rows without a state_key), which the post-hook insert_rejected_lines
    adds again from this run's read of the file. -#}
{% macro staging_rebuild_delete(table_name, date_columns=none) -%}
    {%- set plan = staging_load_plan(table_name, date_columns) -%}
    {%- if plan.rebuild -%}
        delete from {{ this }}
    {%- elif plan.diff -%}
        delete from {{ this }}
        where
            ({{ stored_keyless(table_name) }} and batch_file in ('{{ plan.read | join("', '") }}'))
            or {{ stored_state_key(table_name) }} in (
                select vanished.state_key from {{ plan.diff_relation }} as vanished where vanished.is_vanished
            )
    {%- else -%}
        select 'staged incrementally' as load_mode
    {%- endif -%}
{%- endmacro %}

{#- The config of an incremental staging model that shares staged_source (`{{ config(**staged_model_config(t)) }}`):
    delete+insert on state_key; the pre-hook empties the table for a rebuild (staging_rebuild_delete); the post-hook
    adds the unparseable lines this run read. A table elsewhere than on DuckDB is rebuilt in full. -#}
{% macro staged_model_config(table_name) -%}
    {{ return({
        'materialized': ('incremental' if target.type == 'duckdb' else 'table'),
        'incremental_strategy': 'delete+insert',
        'unique_key': 'state_key',
        'pre_hook': "{{ staging_rebuild_delete('" ~ table_name ~ "') }}",
        'post_hook': ["{{ insert_rejected_lines('" ~ table_name ~ "', with_batch=true, extra={'batch_read_at': "
            ~ "this_run_loaded_at(), 'batch_loaded_at': this_run_loaded_at()}) }}", "{{ drop_snapshot_diff() }}"]}) }}
{%- endmacro %}

{#- The key of a staged row's state: a hash of the table's key columns (normalized ids), from the raw row. The rows
    a full build classifies together (classify_duplicates partitions by the same ids) share it, so an incremental
    run that stages a key again replaces all its rows (delete+insert on state_key). Unparseable lines have none. -#}
{% macro raw_state_key(key_columns) -%}
    hash(
    {%- for column in key_columns %}
        {{ normalized_id(clean_text(column)) }}{{ ',' if not loop.last }}
    {%- endfor %})
{%- endmacro %}

{#- A hash of a raw row's contract columns as text (the raw_<column> values staging keeps): a snapshot read by
    difference matches its rows to the stored ones by it. -#}
{% macro raw_row_hash(table_name, prefix='') -%}
    hash(
    {%- for column in contract_columns(table_name) %}
        {{ 'cast(' ~ column ~ ' as ' ~ text_type() ~ ')' if prefix == '' else prefix ~ column }}
        {{- ',' if not loop.last }}
    {%- endfor %})
{%- endmacro %}

{#-
    snapshot_diff(table_name, read): a snapshot file read by difference, once per run: a table beside the model
    (snapshot_diff_relation, dropped by the model's post-hook) holding the file's rows of every key whose raw rows
    changed, came or went (with batch_file, batch_row_id and state_key, is_vanished false), and one row per key the
    file no longer has (state_key only, is_vanished true). Each file row gets a narrow 8-byte hash of its raw contract
    columns while it is read; the stored rows' hash is taken from their raw_ columns (the same text). Only narrow
    relations are joined: (state_key, hash) anti-joined both ways finds the rows that came or went (a changed row is
    both); a key with more than one row in the file or the store is compared as the list of its hashes in row order
    too (which of two copies comes first decides which one a full build keeps); the wide rows of the changed keys are
    read again by row id (materializing every wide row for one later use cost more than a second read).
    orders: its rows without an order id are always staged again.
    The model, its pre-hook and the date-order plan read the table instead of the file.
-#}
{% macro snapshot_diff(table_name, read) -%}
    {%- set relation = snapshot_diff_relation() -%}
    {%- set prefix = this.identifier ~ '__snapshot_diff_' -%}
    {%- set existing = run_query("select table_name from duckdb_tables() where database_name = '" ~ this.database
        ~ "' and schema_name = '" ~ this.schema ~ "' and table_name like '" ~ prefix ~ "%'").columns[0].values() -%}
    {%- if relation.identifier in existing -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- for stale in existing -%}
        {%- do run_query('drop table if exists ' ~ this.database ~ '.' ~ this.schema ~ '."' ~ stale ~ '"') -%}
    {%- endfor -%}
    {%- set key_columns = state_tables()[table_name].key_columns -%}
    {%- set query -%}
        create table {{ relation }} as
        with

        file_keys as (

            select
                {{ raw_state_key(key_columns) }} as state_key,
                {{ raw_row_hash(table_name) }} as raw_hash,
                batch_row_id
            from {{ raw_relation(table_name, batches=read, with_batch=true) }} as read_rows

        ),

        stored_keys as (

            select
                {{ stored_state_key(table_name) }} as state_key,
                {{ raw_row_hash(table_name, 'raw_') }} as raw_hash,
                row_id
            from {{ this }}
            where not ({{ stored_keyless(table_name) }})

        ),

        multi_row_keys as (

            select state_key from file_keys group by state_key having count(*) > 1
            union
            select state_key from stored_keys group by state_key having count(*) > 1

        ),

        changed_keys as (

            select file_keys.state_key from file_keys
            where not exists (
                select 1 from stored_keys
                where stored_keys.state_key = file_keys.state_key and stored_keys.raw_hash = file_keys.raw_hash
            )
            union
            select stored_keys.state_key from stored_keys
            where not exists (
                select 1 from file_keys
                where file_keys.state_key = stored_keys.state_key and file_keys.raw_hash = stored_keys.raw_hash
            )
            union
            {# a key of several rows: also the order of its rows (which of two copies comes first decides which one a
                full build keeps) and their number (an anti-join does not count copies) #}
            select coalesce(in_file.state_key, in_store.state_key) as state_key
            from (
                select state_key, list(raw_hash order by batch_row_id) as raw_hashes from file_keys
                where state_key in (select multi_row_keys.state_key from multi_row_keys)
                group by state_key
            ) as in_file
            full join (
                select state_key, list(raw_hash order by row_id) as raw_hashes from stored_keys
                where state_key in (select multi_row_keys.state_key from multi_row_keys)
                group by state_key
            ) as in_store on in_file.state_key = in_store.state_key
            where in_file.raw_hashes is distinct from in_store.raw_hashes
            {%- if 'keyless' in state_tables()[table_name] %}
            union
            select hash(cast(null as {{ text_type() }})) as state_key
            {%- endif %}

        ),

        changed_rows as (

            select file_keys.batch_row_id, file_keys.state_key from file_keys
            where file_keys.state_key in (select changed_keys.state_key from changed_keys)

        )

        select
            read_rows.*,
            changed_rows.state_key,
            false as is_vanished
        from {{ raw_relation(table_name, batches=read, with_batch=true) }} as read_rows
        inner join changed_rows on read_rows.batch_row_id = changed_rows.batch_row_id
        union all by name
        select
            changed_keys.state_key,
            true as is_vanished
        from changed_keys
        where changed_keys.state_key not in (select file_keys.state_key from file_keys)
    {%- endset -%}
    {%- do run_query(query) -%}
    {{ return(relation) }}
{%- endmacro %}

{#- The table snapshot_diff writes for this model in this run (named by the run's start). -#}
{% macro snapshot_diff_relation() -%}
    {{ return(api.Relation.create(database=this.database, schema=this.schema,
        identifier=this.identifier ~ '__snapshot_diff_' ~ run_started_at.strftime('%Y%m%d%H%M%S%f'))) }}
{%- endmacro %}

{#- Post-hook of an incremental staging model: drops the table snapshot_diff wrote in this run, if any. -#}
{% macro drop_snapshot_diff() -%}
    drop table if exists {{ snapshot_diff_relation() }}
{%- endmacro %}

{#- The stored rows of the keys in `keys` (a query of state_key), as raw rows again: each contract column as read
    (raw_<column>, cast back to the type the input gives it), with the batch columns they were read with. -#}
{% macro stored_raw_rows(table_name, keys) -%}
    {%- set kinds = raw_column_kinds(table_name) -%}
    {%- set manifest = input_manifest() -%}
    {%- set types = (manifest.tables[table_name].get('column_types') or {}) if manifest is not none
        and table_name in manifest.tables else {} -%}
    select
    {%- for column in contract_columns(table_name) %}
        {%- if column in kinds and column in types %}
        cast(stored.raw_{{ column }} as {{ types[column] }}) as {{ column }},
        {%- else %}
        stored.raw_{{ column }} as {{ column }},
        {%- endif %}
    {%- endfor %}
        stored.batch_file,
        stored.row_id as batch_row_id,
        stored.state_key,
        stored.batch_read_at
    from {{ this }} as stored
    where stored.state_key in ({{ keys }})
{%- endmacro %}

{#-
    staged_source(table_name, plan, key_columns, rejudged): the raw rows an incremental staging model stages this
    run (the `source` CTE), each with batch_file, batch_row_id, state_key and batch_read_at:
      full build or rebuild  every row of every file;
      new batch files        their rows, and the stored rows of every key they touch or `rejudged` names;
      diff (snapshot file)   the file's rows of the keys whose rows changed, came or went (snapshot_diff), and the
                             stored rows of the other keys `rejudged` names.
    rejudged: a query of the state_key of stored rows whose verdict depends on something else that changed (another
    table, the reference date); none on a full build.
-#}
{% macro staged_source(table_name, plan, key_columns, rejudged=none) -%}
    {%- set read_rows -%}
        (
            select
                read_rows.*,
                {{ raw_state_key(key_columns) }} as state_key,
                {{ this_run_loaded_at() }} as batch_read_at
            from {{ raw_relation(table_name, batches=plan.read, with_batch=true) }} as read_rows
        )
    {%- endset -%}
    {%- if not plan.incremental %}
        select * from {{ read_rows }} as all_rows
    {%- elif plan.diff %}
        {#- the file's rows of the keys whose rows changed, came or went (snapshot_diff), and the stored rows of the
            other keys `rejudged` names (the same raw rows as the file's: their key's rows did not change) -#}
        select
            diff_rows.* exclude (is_vanished),
            {{ this_run_loaded_at() }} as batch_read_at
        from {{ plan.diff_relation }} as diff_rows
        where not diff_rows.is_vanished
        {%- if rejudged %}
        union all by name
        {{ stored_raw_rows(table_name, 'select rejudged_keys.state_key from (' ~ rejudged ~ ') as rejudged_keys'
            ~ ' where rejudged_keys.state_key not in (select diff_keys.state_key from ' ~ plan.diff_relation
            ~ ' as diff_keys)') }}
        {%- endif %}
    {%- else %}
        with

        new_rows as (

            select * from {{ read_rows }} as read_rows

        ),

        touched_keys as (

            select state_key from new_rows
            {%- if rejudged %}
            union
            {{ rejudged }}
            {%- endif %}

        )

        select * from new_rows
        union all by name
        {{ stored_raw_rows(table_name, 'select touched_keys.state_key from touched_keys') }}
    {%- endif %}
{%- endmacro %}

{#- The state columns every incremental staging model stores beside its rows (staged_source reads them back). -#}
{% macro staged_state_columns() -%}
    state_key,
        batch_file,
        batch_read_at,
        {{ this_run_loaded_at() }} as batch_loaded_at,
        row_id
{%- endmacro %}

{#- The day/month state of each date column a row was typed under and counts toward (date_orders_with_new_rows
    reads them back): in the typed CTE (stored=false, from the candidates) and in the output (stored=true). -#}
{% macro staged_date_columns(date_columns, stored=false) -%}
    {%- for column in date_columns %}
        {%- if stored %}
        {{ column }}__date_order,
        {{ column }}__reads_dmy,
        {{ column }}__reads_mdy{{ ',' if not loop.last }}
        {%- else %}
        date_orders.{{ column }}__date_order,
        {{ timestamp_reads(column, 'dmy') }} as {{ column }}__reads_dmy,
        {{ timestamp_reads(column, 'mdy') }} as {{ column }}__reads_mdy{{ ',' if not loop.last }}
        {%- endif %}
    {%- endfor %}
{%- endmacro %}

{#- The stored rows quarantined for a reason that moves with the reference date (a date in the future, a birth year
    after this year): judged again on every incremental run. -#}
{% macro reference_date_reasons() -%}
    ('ordered_at_in_future', 'updated_at_in_future', 'refunded_at_in_future', 'created_at_in_future',
        'loyalty_joined_at_in_future', 'birth_year_out_of_range')
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

{#- The load ledger (in it): the day/month orders the table's last load typed its rows under. -#}
{% macro ledger_last_date_orders(table_name) -%}
    (select max(date_orders) from {{ this }} where source_table = '{{ table_name }}' and loaded_at = (
        select max(loaded_at) from {{ this }} where source_table = '{{ table_name }}'))
{%- endmacro %}

{#- The load ledger: why this run staged the table in full (null for an incremental load or a first build): the
    file part of the plan, recomputed against the ledger before this run's rows are added, else the day/month order
    that the new rows changed (the ledger's last load against this one). -#}
{% macro ledger_load_note(table_name, load_mode, read_relation) -%}
    {%- if not is_incremental() -%}
        cast(null as {{ dbt.type_string() }})
    {%- else -%}
        {%- set plan = file_load_plan(table_name, this) -%}
        {%- set last_load = ledger_last_date_orders(table_name) -%}
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
