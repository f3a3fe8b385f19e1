{#- Data tests sized to the change (docs/benchmarks.md "Tests sized to the change"; DECISIONLOG).

    A data test's `where` config may use these placeholders, replaced when the test runs (dbt renders `where` at parse
    time, when run_started_at is not the run's) in dbt's own hook for `where`, default__get_where_subquery:

      __rewritten_rows__             the rows this run (re)wrote: batch_loaded_at = the run's start. On a staging
                                     view (stg_shop__<table>, no batch_loaded_at) the rows of the keys its base table
                                     (base_shop__<table>) rewrote: delete+insert replaces every row of a key.
      __same_key_as_rewritten__(c)   the rows whose column c has a value a rewritten row has: on a uniqueness test,
                                     every row of every key a rewritten row carries, the stored ones included.
      __rewritten_keys_of__(parent)  (select key from the parent's base table where the run rewrote it): the keys of
                                     a staging parent whose rows this run wrote, quarantined ones included.

    Why that is exact on an incremental run: the run starts from a copy of the published warehouse, whose every test
    passed; a row this run did not write is that warehouse's row (incremental models replace rows by delete+insert and
    stamp what they write; the one in-place update, restamp_snapshot_dates, sets as_of_date only, which no scoped test
    reads). So a row-level test needs only the rewritten rows; a duplicate needs a rewritten row in its group (deleting
    rows makes none); a child row without a parent is a rewritten child, or a stored child whose parent this run
    rewrote (quarantined it, moved it) or deleted. Deleted parents leave no row, so a parent is scoped only when its
    table cannot lose a key without writing it: a staging table without `diff` in state_tables (none today: orders, the
    only parent, is read by difference, and a night can delete an order key, so relationships to it read every row).
    Otherwise, and whenever the tested relation or a parent was rebuilt in full (no stored row left: a full build),
    with CLV_FULL_TESTS=1 (`clv build --full-tests`), outside an incremental `clv build` that vouches for its start
    (CLV_SCOPED_TESTS, set by scripts/clvlayer/build.py: the published run ran the same data tests; so `dbt test`,
    `clv dbt -- build` and `dbt retry` on a built warehouse read every row), or on another adapter than DuckDB, every
    placeholder is `1 = 1`: the test reads the whole table, as it is written.

    Grain and reconciliation tests across tables (sums_reconcile, equal_row_count) are not scoped: they prove the
    whole. -#}

{% macro default__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- set where = scoped_where(where, relation) -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{#- `where` with its placeholders replaced (above): by the scoped filters, or every one by 1 = 1. -#}
{% macro scoped_where(where, relation) -%}
    {%- set re = modules.re -%}
    {%- if '__rewritten' not in where and '__same_key_as_rewritten__' not in where -%}
        {{ return(where) }}
    {%- endif -%}
    {%- set parents = re.findall('__rewritten_keys_of__\\((\\w+)\\)', where) -%}
    {%- set scoped = execute and tests_sized_to_the_change(relation, parents) -%}
    {%- if not scoped -%}
        {%- set where = re.sub('__rewritten_keys_of__\\(\\w+\\)', '(null)', where) -%}
        {%- set where = re.sub('__same_key_as_rewritten__\\(\\w+\\)', '1 = 1', where) -%}
        {{ return(where | replace('__rewritten_rows__', '1 = 1')) }}
    {%- endif -%}
    {#- a namespace: a set inside a for loop is local to the loop -#}
    {%- set filled = namespace(sql=where) -%}
    {%- for parent in parents -%}
        {%- set filled.sql = filled.sql | replace('__rewritten_keys_of__(' ~ parent ~ ')',
            rewritten_keys_of(parent)) -%}
    {%- endfor -%}
    {%- for column in re.findall('__same_key_as_rewritten__\\((\\w+)\\)', where) -%}
        {%- set same_key -%}
            {{ column }} in (
                select rewritten_rows.{{ column }} from {{ relation }} as rewritten_rows
                where {{ rewritten_rows_filter(relation, 'rewritten_rows') }}
            )
        {%- endset -%}
        {%- set filled.sql = filled.sql | replace('__same_key_as_rewritten__(' ~ column ~ ')', same_key) -%}
    {%- endfor -%}
    {{ return(filled.sql | replace('__rewritten_rows__', rewritten_rows_filter(relation, relation.identifier))) }}
{%- endmacro %}

{#- Whether this run's scoped tests check only what it wrote (see the top): an incremental run on DuckDB without
    CLV_FULL_TESTS, the tested relation and every parent (`parents`: staging model names) keeping stored rows, and no
    parent that can lose a key without writing it. -#}
{% macro tests_sized_to_the_change(relation, parents) -%}
    {#- only `clv build --incremental` vouches that the run started from a copy of a published warehouse that ran
        every data test (scripts/clvlayer/build.py, scoped_tests): `dbt test`, `clv dbt -- build` or `dbt retry` on a
        built warehouse read every row -#}
    {%- if env_var('CLV_SCOPED_TESTS', '') != '1' or env_var('CLV_FULL_TESTS', '') in ('1', 'true')
        or target.type != 'duckdb' -%}
        {{ return(false) }}
    {%- endif -%}
    {%- for parent in parents -%}
        {%- if state_tables()[staging_table_of(parent)].diff -%}
            {{ return(false) }}
        {%- endif -%}
        {%- if staging_relation(parent) is none or not has_stored_rows(stamped_relation(staging_relation(parent))) -%}
            {{ return(false) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(has_stored_rows(stamped_relation(relation))) }}
{%- endmacro %}

{#- Whether `relation` (with batch_loaded_at) has a row this run did not write. -#}
{% macro has_stored_rows(relation) -%}
    {%- set found = run_query("select count(*) from (select 1 from " ~ relation ~ " where batch_loaded_at <> "
        ~ this_run_loaded_at() ~ " or batch_loaded_at is null limit 1) as stored_rows") -%}
    {{ return(found.columns[0].values()[0] > 0) }}
{%- endmacro %}

{#- The rows of `relation` (referenced in the query as `alias`) this run wrote: its batch_loaded_at, or on a staging
    view the keys its base table rewrote. -#}
{% macro rewritten_rows_filter(relation, alias) -%}
    {%- set stamped = stamped_relation(relation) -%}
    {%- if stamped.identifier == relation.identifier -%}
        {{ alias }}.batch_loaded_at = {{ this_run_loaded_at() }}
    {%- else -%}
        exists (
            select 1 from {{ stamped }} as rewritten
            where rewritten.batch_loaded_at = {{ this_run_loaded_at() }}
            {%- for column in state_tables()[staging_table_of(relation.identifier)].key_columns %}
                and rewritten.{{ column }} is not distinct from {{ alias }}.{{ column }}
            {%- endfor %}
        )
    {%- endif -%}
{%- endmacro %}

{#- (select key from the base table of the staging model `parent` where this run wrote the row) -#}
{% macro rewritten_keys_of(parent) -%}
    {%- set key_columns = state_tables()[staging_table_of(parent)].key_columns -%}
    {%- if key_columns | length != 1 -%}
        {{ exceptions.raise_compiler_error("__rewritten_keys_of__(" ~ parent ~ "): a parent with one key column only") }}
    {%- endif -%}
    (select {{ key_columns[0] }} from {{ stamped_relation(staging_relation(parent)) }}
        where batch_loaded_at = {{ this_run_loaded_at() }})
{%- endmacro %}

{#- The relation carrying batch_loaded_at for `relation`: itself, or for a staging view its base table. -#}
{% macro stamped_relation(relation) -%}
    {%- if relation.identifier.startswith('stg_shop__') -%}
        {%- set base = adapter.get_relation(database=relation.database, schema=relation.schema,
            identifier='base_shop__' ~ staging_table_of(relation.identifier)) -%}
        {%- if base is none -%}
            {{ exceptions.raise_compiler_error("scoped test on " ~ relation ~ ": its base table is not built") }}
        {%- endif -%}
        {{ return(base) }}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}

{#- stg_shop__order_items -> order_items (a table of state_tables(); an error for another staging model). -#}
{% macro staging_table_of(model_name) -%}
    {%- set table_name = model_name | replace('stg_shop__', '') -%}
    {%- if not model_name.startswith('stg_shop__') or table_name not in state_tables() -%}
        {{ exceptions.raise_compiler_error("scoped test: " ~ model_name ~ " is not a staging model kept as state ("
            ~ state_tables().keys() | join(', ') ~ ")") }}
    {%- endif -%}
    {{ return(table_name) }}
{%- endmacro %}

{#- The relation of the staging model `model_name` in this warehouse. -#}
{% macro staging_relation(model_name) -%}
    {{ return(adapter.get_relation(database=target.database, schema=generate_schema_name('staging', none) | trim,
        identifier=model_name)) }}
{%- endmacro %}
