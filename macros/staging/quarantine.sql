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

{#- A fingerprint of a row's content, used to tell exact duplicates from conflicting ones. Each item is a column, or
    a [parsed value, clean text] pair: rows whose values parse alike are alike however they were written ('1014.0'
    and '1014', '10:00+02:00' and '08:00Z'), and the text only counts where the value did not parse. -#}
{% macro row_fingerprint(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- if column is string -%}
            {%- do parts.append(column) -%}
        {%- else -%}
            {%- do parts.append(column[0]) -%}
            {%- do parts.append('case when ' ~ column[0] ~ ' is null then ' ~ column[1] ~ ' end') -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(adapter.dispatch('row_fingerprint', 'customer_value')(parts)) }}
{%- endmacro %}

{% macro default__row_fingerprint(parts) -%}
    {%- set texts = [] -%}
    {%- for part in parts -%}
        {%- if not loop.first -%}{%- do texts.append("'|'") -%}{%- endif -%}
        {%- do texts.append("coalesce(cast(" ~ part ~ " as " ~ dbt.type_string() ~ "), '<null>')") -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(texts)) }}
{%- endmacro %}

{#- DuckDB: a 64-bit hash of the typed values (no casts to text). Fingerprints are only compared between rows that
    share an id, so a collision would need two different rows of one id to hash alike (odds about 1 in 2^64). -#}
{% macro duckdb__row_fingerprint(parts) -%}
    hash({{ parts | join(', ') }})
{%- endmacro %}

{#-
    classify_duplicates(relation, key_columns, version_column=none)
    A subquery over `relation` (which must have `row_id`, unique within a key, and `row_fingerprint` columns) adding:
      is_exact_copy            - a second or later identical copy of a row (the first copy is kept)
      is_superseded            - an older version of a key when a newer `version_column` value exists
      is_conflicting_duplicate - several different rows share the key at its latest version (or, without a
                                 version column, at all): none can be chosen, all are quarantined
    Only rows whose key occurs more than once go through the windows (a hash aggregate finds those keys), on a
    narrow projection (row id, key, version, fingerprint) joined back by row id: sorting every wide row three times
    cost more than the rest of staging. The first copy is the one with the lowest row id. The flags join back by row
    id and key: an incremental run classifies re-read rows beside stored rows of other keys, whose row ids come from
    an earlier read of the same file and may equal a new row's (tests/dbt/assert_duplicate_flags_stay_with_their_key).
    Portable SQL (window min/max rather than count(distinct) over a window, which Spark lacks).
    candidates: a boolean column of `relation` true for every row whose key may occur more than once (found on the
    raw rows, before typing: base_shop__orders); only those rows are read for the classification, so a model whose
    typed rows are a chain of projections over a materialized raw relation types the other rows once, for the output
    only, and never materializes them (docs/benchmarks.md, "Order chain at 10M").
-#}
{% macro classify_duplicates(relation, key_columns, version_column=none, candidates=none) -%}
    {%- set key = key_columns | join(', ') -%}
    {%- set version = version_column if version_column else 'cast(null as ' ~ dbt.type_timestamp() ~ ')' -%}
    {%- set join_keys = [] -%}
    {%- set flag_keys = ['base_rows.row_id = flags.row_id'] -%}
    {%- for column in key_columns -%}
        {%- do join_keys.append('keyed_rows.' ~ column ~ ' = duplicated_keys.' ~ column) -%}
        {%- do flag_keys.append('base_rows.' ~ column ~ ' = flags.' ~ column) -%}
    {%- endfor -%}
    (
        select
            base_rows.*,
            coalesce(flags.is_exact_copy, false) as is_exact_copy,
            coalesce(flags.is_superseded, false) as is_superseded,
            coalesce(flags.is_conflicting_duplicate, false) as is_conflicting_duplicate
        from {{ relation }} as base_rows
        left join (
            select
                with_latest.row_id,
                {%- for column in key_columns %}
                with_latest.{{ column }},
                {%- endfor %}
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
                            keyed.*,
                            max(keyed.row_version) over (partition by {{ key }}) as latest_version,
                            row_number() over (
                                partition by {{ key }}, keyed.row_fingerprint order by keyed.row_id
                            ) as copy_number
                        from (
                            select
                                keyed_rows.row_id,
                                {%- for column in key_columns %}
                                keyed_rows.{{ column }},
                                {%- endfor %}
                                keyed_rows.row_fingerprint,
                                {{ 'keyed_rows.' ~ version_column if version_column else version }} as row_version
                            from {{ relation }} as keyed_rows
                            inner join (
                                select {{ key }} from {{ relation }}
                                {%- if candidates %}
                                where {{ candidates }}
                                {%- endif %}
                                group by {{ key }} having count(*) > 1
                            ) as duplicated_keys on {{ join_keys | join(' and ') }}
                            {%- if candidates %}
                            where keyed_rows.{{ candidates }}
                            {%- endif %}
                        ) as keyed
                    ) as with_copies
                ) as with_versions
            ) as with_latest
        ) as flags on {{ flag_keys | join(' and ') }}
    )
{%- endmacro %}

{#- The body of every quarantine_shop__* model. -#}
{% macro quarantined_rows(base_model) -%}
    select * from {{ ref(base_model) }}
    where quarantine_reason is not null
{%- endmacro %}

{#- How to fix the input behind a quarantine reason: one sentence per reason family, shown by the audit summary
    and by a refused build. -#}
{% macro quarantine_fix(reason) -%}
    case
        when {{ reason }} = 'undecodable_line' then 'The line has bytes that are not valid in the file''s encoding: '
            || 'set var input_encoding (auto, utf-8, utf-16, latin-1, cp1252, ...) or re-export the file as UTF-8.'
        when {{ reason }} = 'malformed_line' then 'The line does not split into the header''s columns (a wrong number '
            || 'of fields or a broken quote): quote fields that contain the delimiter, double quotes inside quoted '
            || 'fields, and re-export.'
        when {{ reason }} = 'line_too_long' then 'The line is longer than 8 MB: check for a runaway quoted field.'
        when {{ reason }} = 'exact_duplicate' then 'An identical copy of a row that is kept: nothing to fix unless '
            || 'the export doubled rows.'
        when {{ reason }} = 'superseded_by_newer_version' then 'An older version of a row whose newer updated_at '
            || 'is kept: expected for change-log exports.'
        when {{ reason }} like 'conflicting_duplicate_%' then 'Several different rows share this id (and version): '
            || 'make ids unique or add updated_at so the latest version wins.'
        when {{ reason }} like 'missing_%' then 'The value is empty or a null token (var null_tokens): export the '
            || 'column filled.'
        when {{ reason }} like 'ambiguous_%' then 'The column''s dates read both day-first and month-first: set var '
            || 'date_order to DMY or MDY (or export ISO-8601 dates).'
        when {{ reason }} in ('unparseable_amount', 'unparseable_unit_price', 'unparseable_unit_cost',
            'unparseable_discount_amount') then 'Not a plain number: use digits with var decimal_separator '
            || '(default ".", set "," for decimal commas), no thousands separators or currency signs.'
        when {{ reason }} in ('unparseable_quantity', 'unparseable_birth_year') then 'Not a whole number: export '
            || 'digits only.'
        when {{ reason }} like 'unparseable_is_%' then 'Not a boolean: use true/false, yes/no, 1/0.'
        when {{ reason }} like 'unparseable_%' then 'Not a date or timestamp: use ISO-8601 (offsets and zone names '
            || 'are honoured; text after the time that is neither, and abbreviations with several meanings such as '
            || 'BST, IST, CST, are not) or add the format to var extra_timestamp_formats.'
        when {{ reason }} like '%_out_of_range' then 'Outside the valid range: dates from var valid_from_date to the '
            || 'reference date plus var future_tolerance_days, amounts up to var max_amount, quantities up to var '
            || 'max_quantity; raise the var if the value is real.'
        when {{ reason }} like '%_in_future' then 'Later than the build''s reference date plus var '
            || 'future_tolerance_days: check the time zone, or set var reference_date for a historical rebuild.'
        when {{ reason }} like 'negative_%' or {{ reason }} like 'non_positive_%' then 'A negative (or zero) value '
            || 'where only positive ones make sense: export refunds in the refunds table.'
        when {{ reason }} = 'unknown_customer' then 'The customer_id is not in customers: export the customer, or '
            || 'check that ids are spelled the same in both files.'
        when {{ reason }} in ('unknown_order', 'order_quarantined') then 'The order_id is not a clean order: fix '
            || 'the order row first (see the orders reasons), or check the ids match.'
        when {{ reason }} = 'unknown_product' then 'The product_id is not in products: export the product.'
        when {{ reason }} = 'unknown_status' then 'Status is not one of completed / cancelled / refunded / '
            || 'partially_refunded or their synonyms: map it in the export.'
        when {{ reason }} = 'unknown_currency' then 'The currency is neither var reporting_currency nor in var '
            || 'fx_rates_to_reporting: add its rate.'
        when {{ reason }} = 'discount_exceeds_line_amount' then 'The discount is larger than quantity x unit price.'
        when {{ reason }} = 'refunded_before_ordered' then 'The refund is dated before its order: check both '
            || 'timestamps and their time zones.'
        else 'See docs/input_contract.md.'
    end
{%- endmacro %}
