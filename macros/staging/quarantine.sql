{#- Helpers for the quarantine pattern used by every base_shop__* model:
    each raw row lands in exactly one of stg_shop__<table> (reason is null) or quarantine_shop__<table>
    (reason is not null), so raw rows = clean rows + quarantined rows, always (see row accounting). -#}

{#- The first failing check wins: checks is a list of [condition_sql, reason] pairs, in priority order. -#}
{% macro first_quarantine_reason(checks) -%}
    case
        {%- for check in checks %}
            when {{ check[0] }} then '{{ check[1] }}'
        {%- endfor %}
    end
{%- endmacro %}

{#- A fingerprint of a row's raw content, used to tell exact duplicates from conflicting ones. -#}
{% macro row_fingerprint(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- if not loop.first -%}{%- do parts.append("'|'") -%}{%- endif -%}
        {%- do parts.append("coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '<null>')") -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}

{#-
    classify_duplicates(relation, key_columns, version_column=none)
    A subquery over `relation` (which must have a `row_fingerprint` column) adding:
      is_exact_copy            - a second or later identical copy of a row (the first copy is kept)
      is_superseded            - an older version of a key when a newer `version_column` value exists
      is_conflicting_duplicate - several different rows share the key at its latest version (or, without a
                                 version column, at all): none can be chosen, all are quarantined
    Portable SQL (window min/max rather than count(distinct) over a window, which Spark lacks).
-#}
{% macro classify_duplicates(relation, key_columns, version_column=none) -%}
    {%- set key = key_columns | join(', ') -%}
    {%- set version = version_column if version_column else 'cast(null as ' ~ dbt.type_timestamp() ~ ')' -%}
    (
        select
            with_latest.*,
            with_latest.copy_number > 1 as is_exact_copy,
            coalesce(with_latest.row_version < with_latest.latest_version, false)
            or (with_latest.row_version is null and with_latest.latest_version is not null) as is_superseded,
            with_latest.min_latest_fingerprint <> with_latest.max_latest_fingerprint as is_conflicting_duplicate
        from (
            select
                with_versions.*,
                min(case when with_versions.is_latest_version then with_versions.row_fingerprint end)
                    over (partition by {{ key }}) as min_latest_fingerprint,
                max(case when with_versions.is_latest_version then with_versions.row_fingerprint end)
                    over (partition by {{ key }}) as max_latest_fingerprint
            from (
                select
                    with_copies.*,
                    (
                        with_copies.row_version = with_copies.latest_version
                        or (with_copies.row_version is null and with_copies.latest_version is null)
                    ) as is_latest_version
                from (
                    select
                        base_rows.*,
                        {{ version }} as row_version,
                        max({{ version }}) over (partition by {{ key }}) as latest_version,
                        row_number() over (
                            partition by {{ key }}, base_rows.row_fingerprint order by base_rows.row_fingerprint
                        ) as copy_number
                    from {{ relation }} as base_rows
                ) as with_copies
            ) as with_versions
        ) as with_latest
    )
{%- endmacro %}

{#- The body of every quarantine_shop__* model. -#}
{% macro quarantined_rows(base_model) -%}
    select * from {{ ref(base_model) }}
    where quarantine_reason is not null
{%- endmacro %}
