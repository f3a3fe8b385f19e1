{#-
    Input value rules (docs/input_contract.md). Every base_shop__* model applies them in the same order:
      1. clean_text      every raw value: whitespace and one pair of surrounding quotes stripped, null tokens -> null
      2. a typed parse   normalized_id, parse_number / amount_value, parse_integer, parse_flag, the timestamp macros
      3. checks          *_checks macros return [condition, reason] pairs for first_quarantine_reason
    Engine-specific pieces (regular expressions, time zones, strptime, JSON) go through the dispatched primitives
    of macros/portability/text.sql, so the same rules run on DuckDB and Spark.
-#}

{#- 1. The clean text of a raw value. Null-like tokens (var null_tokens, compared case-insensitively) are missing. -#}
{% macro clean_text(expression) -%}
    {%- set stripped = stripped_text('cast(' ~ expression ~ ' as ' ~ text_type() ~ ')') -%}
    (case when {{ is_null_token(stripped) }} then null else {{ stripped }} end)
{%- endmacro %}

{#- Whitespace and one pair of surrounding quotes stripped from a text expression. -#}
{% macro stripped_text(raw) -%}
    {#- the common case (first and last characters printable ASCII, no quote) costs two comparisons -#}
    (case
        when contains({{ raw }}, '"') or contains({{ raw }}, '''')
            then {{ trim_characters(regex_replace(raw,
                "^[\\s\\x{00A0}\\x{FEFF}]*(?:\"(.*)\"|''(.*)'')[\\s\\x{00A0}\\x{FEFF}]*$", '\\1\\2', 's'),
                whitespace_sql()) }}
        when left({{ raw }}, 1) between '!' and '~' and right({{ raw }}, 1) between '!' and '~' then {{ raw }}
        else {{ trim_characters(raw, whitespace_sql()) }}
    end)
{%- endmacro %}

{#- Whether a stripped text is one of var null_tokens (case-insensitive). The length guard skips lower() and the
    token list for every longer value (lower-casing never shortens a string): it decides sooner, never otherwise. -#}
{% macro is_null_token(stripped) -%}
    {%- set tokens = [] -%}
    {%- set longest = namespace(n=0) -%}
    {%- for token in var('null_tokens') -%}
        {%- do tokens.append("'" ~ (token | string | lower | replace("'", "''")) ~ "'") -%}
        {%- set longest.n = [longest.n, token | string | lower | length] | max -%}
    {%- endfor -%}
    (length({{ stripped }}) <= {{ longest.n }} and lower({{ stripped }}) in ({{ tokens | join(', ') }}))
{%- endmacro %}

{#-
    cleaned_rows(table_name, relation): the rows of a raw table with each contract column as clean text (same name)
    and the raw value as read (raw_<name>). Each value is cast to text once and stripped once (nested selects: an
    expression written twice in one CASE is evaluated twice for every row). A column the raw relation already holds
    typed (typed Parquet or seed columns: timestamps, dates, decimals, integers, booleans; raw_column_kinds) is typed
    once: its text is exactly what clean_text would return (no quotes, no surrounding whitespace, never a null
    token), so stripping is skipped, and the typed value is kept as <name>__typed for the parsers
    (timestamp_candidates) instead of being parsed back from its text. `carry`: columns of the relation passed
    through as they are (batch_file, batch_row_id).
-#}
{% macro cleaned_rows(table_name, relation, carry=[]) -%}
    {%- set kinds = raw_column_kinds(table_name) -%}
    {%- set columns = contract_columns(table_name) -%}
    {%- set typed = [] -%}
    {%- for column in columns if kinds.get(column) -%}
        {%- do typed.append(column) -%}
    {%- endfor -%}
    select
    {%- for column in columns %}
        {%- if column in typed %}
        raw_{{ column }} as {{ column }},
        {%- else %}
        (case when {{ is_null_token(column ~ '__stripped') }} then null else {{ column }}__stripped end)
            as {{ column }},
        {%- endif %}
        raw_{{ column }}{{ ',' if not loop.last or typed or carry }}
    {%- endfor %}
    {%- for column in typed %}
        {{ column }}__typed{{ ',' if not loop.last or carry }}
    {%- endfor %}
    {%- for column in carry %}
        {{ column }}{{ ',' if not loop.last }}
    {%- endfor %}
    from (
        select
            *
            {%- for column in columns if column not in typed %},
            {{ stripped_text('raw_' ~ column) }} as {{ column }}__stripped
            {%- endfor %}
        from (
            select
            {%- for column in columns %}
                cast({{ column }} as {{ text_type() }}) as raw_{{ column }}{{ ',' if not loop.last or typed or carry }}
            {%- endfor %}
            {%- for column in typed %}
                {{ column }} as {{ column }}__typed{{ ',' if not loop.last or carry }}
            {%- endfor %}
            {%- for column in carry %}
                {{ column }}{{ ',' if not loop.last }}
            {%- endfor %}
            from {{ relation }}
        ) as raw_text
    ) as stripped_values
{%- endmacro %}

{#- The raw_<name> columns of a raw table (carried from cleaned_rows to the model's output). -#}
{% macro raw_columns(table_name) -%}
    {%- for column in contract_columns(table_name) %}
        raw_{{ column }}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- The raw row as JSON ({"column": "value as read", ...}), for the quarantine report. -#}
{% macro raw_row_json(table_name) -%}
    {%- set fields = [] -%}
    {%- for column in contract_columns(table_name) -%}
        {%- do fields.append([column, 'raw_' ~ column]) -%}
    {%- endfor -%}
    {{ json_object(fields) }}
{%- endmacro %}

{% macro contract_columns(table_name) -%}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set node = graph.sources['source.' ~ project_name ~ '.shop.' ~ table_name] -%}
    {{ return(node.columns.values() | map(attribute='name') | list) }}
{%- endmacro %}

{#- 2. Ids: a whole number written with a zero fraction ("1014.0", "1014.00") is the integer ("1014"), in every
    table, so exports that wrote an id as a float still join. Nothing else changes (leading zeros are kept). -#}
{% macro normalized_id(clean) -%}
    (case
        when contains({{ clean }}, '.') and {{ regex_full_match(clean, '[+-]?[0-9]+\\.0+') }}
            then split_part({{ clean }}, '.', 1)
        else {{ clean }}
    end)
{%- endmacro %}

{#- A lower-case label. -#}
{% macro label(clean) -%}
    lower({{ clean }})
{%- endmacro %}

{#- Numbers: plain decimal notation (optional sign, '.' as decimal separator or var decimal_separator = ',',
    optional exponent). Thousands separators, '1_000', hex, 'NaN', 'inf' do not parse. Returns a double. -#}
{% macro number_text(clean) -%}
    {%- if var('decimal_separator') == ',' -%}
        (case when not contains({{ clean }}, '.') then replace({{ clean }}, ',', '.') end)
    {%- else -%}
        {{ clean }}
    {%- endif -%}
{%- endmacro %}

{% macro parse_number(clean) -%}
    (case
        when {{ regex_full_match(number_text(clean), '[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?') }}
            then try_cast({{ number_text(clean) }} as double)
    end)
{%- endmacro %}

{#- An amount as decimal(18, scale), or null when it does not parse or is beyond var max_amount (so no value can
    overflow the decimal). -#}
{% macro amount_value(clean, number, scale=2) -%}
    (case
        when {{ is_finite(number) }} and abs({{ number }}) <= {{ var('max_amount') }}
            then try_cast({{ number_text(clean) }} as decimal(18, {{ scale }}))
    end)
{%- endmacro %}

{#- Whole numbers: digits with an optional zero fraction ("2", "2.0"); "2.5" and "0x10" do not parse. -#}
{% macro parse_integer(clean) -%}
    (case
        when {{ regex_full_match(clean, '[+-]?[0-9]+(\\.0+)?') }}
            then try_cast(split_part({{ clean }}, '.', 1) as bigint)
    end)
{%- endmacro %}

{#- Booleans: true/t/1/yes/y and false/f/0/no/n, any case. -#}
{% macro parse_flag(clean) -%}
    (case
        when lower({{ clean }}) in ('true', 't', '1', 'yes', 'y') then true
        when lower({{ clean }}) in ('false', 'f', '0', 'no', 'n') then false
    end)
{%- endmacro %}

{#-
    Timestamps. Every value is stored as a UTC timestamp without time zone:
      * an offset (Z, +02:00, +0200, +02) or a zone name (Europe/Warsaw, EST, UTC, GMT+2) is honoured; an RFC 9557
        suffix ("...+01:00[Europe/Warsaw]") is accepted;
      * a value without one is in var input_time_zone (default UTC);
      * ISO-8601 and the year-first / month-name formats of var extra_timestamp_formats are unambiguous;
      * day-first (DMY) and month-first (MDY) formats are decided per file and column from all its values
        (timestamp_date_orders), never row by row: the order that parses more of the column's non-ISO values
        wins; a tie follows var date_order (DMY | MDY | reject = the values are quarantined as ambiguous_<column>).
    Values that are not finite ('infinity'), before var valid_from_date or after the reference date plus
    var future_tolerance_days are quarantined by timestamp_checks.
-#}
{% macro format_order(fmt) -%}
    {%- set day = fmt.find('%d') if '%d' in fmt else fmt.find('%e') -%}
    {%- set month = fmt.find('%m') -%}
    {%- if month < 0 or day < 0 or fmt.find('%Y') == 0 or (fmt.find('%Y') >= 0 and fmt.find('%Y') < month
        and fmt.find('%Y') < day) -%}
        {{ return('unambiguous') }}
    {%- elif day < month -%}
        {{ return('DMY') }}
    {%- else -%}
        {{ return('MDY') }}
    {%- endif -%}
{%- endmacro %}

{% macro naive_to_utc(timestamp_sql) -%}
    {%- set zone = var('input_time_zone') | trim -%}
    {%- if zone | upper in ('UTC', 'ETC/UTC', 'GMT', 'Z', '') -%}
        {{ timestamp_sql }}
    {%- else -%}
        {{ zone_to_utc(timestamp_sql, zone) }}
    {%- endif -%}
{%- endmacro %}

{#- A regular expression a value must fully match before strptime tries `fmt`: a failing strptime costs ten times
    a failing regular expression, and most values of a column fail most formats. In a format without separators
    (%Y%m%d) every field has its full width, or strptime would read '1997011' as 1997-01-01. -#}
{% macro strptime_guard(fmt) -%}
    {%- set directives = {'Y': '[0-9]{4}', 'y': '[0-9]{2}', 'm': '[0-9]{1,2}', 'd': '[0-9]{1,2}', 'e': ' ?[0-9]{1,2}',
        'H': '[0-9]{1,2}', 'I': '[0-9]{1,2}', 'M': '[0-9]{1,2}', 'S': '[0-9]{1,2}', 'f': '[0-9]{1,9}',
        'p': '[AaPp][Mm]', 'b': '[A-Za-z]+', 'B': '[A-Za-z]+', 'a': '[A-Za-z]+', 'A': '[A-Za-z]+', 'j': '[0-9]{1,3}',
        'z': '(Z|[+-][0-9]{2}:?[0-9]{2})', 'Z': '[A-Za-z_/+-]+', '%': '%'} -%}
    {%- set fixed = {'m': '[0-9]{2}', 'd': '[0-9]{2}', 'H': '[0-9]{2}', 'I': '[0-9]{2}', 'M': '[0-9]{2}',
        'S': '[0-9]{2}', 'j': '[0-9]{3}'} if not modules.re.search('[^%A-Za-z]', fmt) else {} -%}
    {%- set state = namespace(pattern='', directive=false) -%}
    {%- for character in fmt -%}
        {%- if state.directive -%}
            {%- set state.pattern = state.pattern ~ fixed.get(character, directives.get(character, '.+')) -%}
            {%- set state.directive = false -%}
        {%- elif character == '%' -%}
            {%- set state.directive = true -%}
        {%- elif character == ' ' -%}
            {%- set state.pattern = state.pattern ~ ' +' -%}
        {%- else -%}
            {%- set state.pattern = state.pattern ~ modules.re.escape(character) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(state.pattern | replace("'", "''")) }}
{%- endmacro %}

{#- One strptime format, as UTC, tried only on values of its shape. -#}
{% macro strptime_utc(clean, fmt) -%}
    {%- set parsed = try_strptime_sql(clean, fmt) -%}
    {%- if '%z' in fmt or '%Z' in fmt -%}
        {%- set value = instant_to_utc(parsed) -%}
    {%- else -%}
        {%- set value = naive_to_utc(parsed) -%}
    {%- endif -%}
    (case when {{ regex_full_match(clean, strptime_guard(fmt)) }} then {{ value }} end)
{%- endmacro %}

{#- A time followed by an offset (Z, +02:00, +0200, +02), a zone name or a UTC/GMT offset (UTC+02:00, GMT-3),
    optionally with an RFC 9557 [zone] suffix. -#}
{% macro timestamp_with_zone_pattern() -%}
    {%- set time = '[0-9]:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?' -%}
    {%- set zone = '([zZ]|[+-][0-9]{1,2}(:?[0-9]{2})?|[A-Za-z][A-Za-z0-9_/+:-]*)' -%}
    {{- time }}\s*{{ zone }}(\[[^\]]*\])?$
{%- endmacro %}

{#- Zone abbreviations the engine reads one way (Java/ICU legacy ids) while exports often mean another: BST is
    Bangladesh to ICU, British Summer Time to a UK shop; IST India/Ireland/Israel; CST US Central/China; AST
    Alaska to ICU, Atlantic or Arabia to people; ART, ECT, SST, NST, ... A value with one is not read (it is
    quarantined as unparseable, the fix says to use an offset or an IANA name), never silently shifted. -#}
{% macro ambiguous_zone_pattern() -%}
    {%- set ids = ['ACT', 'AET', 'AGT', 'ART', 'AST', 'BET', 'BST', 'CAT', 'CNT', 'CST', 'CTT', 'ECT', 'IET', 'IST',
        'MIT', 'NET', 'NST', 'PLT', 'PNT', 'PRT', 'SST', 'VST'] -%}
    [0-9]\s*({{ ids | join('|') }}|{{ ids | join('|') | lower }})(\[[^\]]*\])?$
{%- endmacro %}

{#- ISO-8601 without offset or zone: the only text the naive cast may read. The cast itself ignores trailing text it
    does not understand ('10:00 GMT-03:00' read as 10:00 local), so anything else goes to the formats or quarantine.
-#}
{% macro naive_iso_timestamp_pattern() -%}
    [0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([T ][0-9]{1,2}(:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?)?)?|[+-]?[Ii]nfinity
{%- endmacro %}

{% macro parse_timestamp_unambiguous(clean) -%}
    {%- set unambiguous = [] -%}
    {%- for fmt in var('extra_timestamp_formats') if format_order(fmt) == 'unambiguous' -%}
        {%- do unambiguous.append(strptime_utc(clean, fmt)) -%}
    {%- endfor -%}
    coalesce(
        case
            when {{ regex_contains(clean, ambiguous_zone_pattern() | trim) }} then null
            when {{ regex_contains(clean, timestamp_with_zone_pattern() | trim) }}
                then {{ instant_to_utc(try_cast_instant(regex_replace(clean, '\\[[^\\]]*\\]$', ''))) }}
            when {{ regex_full_match(clean, naive_iso_timestamp_pattern() | trim) }}
                then {{ naive_to_utc(try_cast_timestamp(clean)) }}
        end
        {%- for expression in unambiguous %},
        {{ expression }}
        {%- endfor %}
    )
{%- endmacro %}

{#- Day-first and month-first formats start with one or two digits and a separator: anything else (ISO values, the
    bulk of most columns) skips them after one cheap match. -#}
{% macro parse_timestamp_ordered(clean, order) -%}
    {%- set parsed = [] -%}
    {%- for fmt in var('extra_timestamp_formats') if format_order(fmt) == order -%}
        {%- do parsed.append(strptime_utc(clean, fmt)) -%}
    {%- endfor -%}
    {%- if parsed | length == 0 -%}
        cast(null as timestamp)
    {%- else -%}
        (case when {{ regex_contains(clean, '^ ?[0-9]{1,2}[^0-9]') }} then coalesce({{ parsed | join(', ') }}) end)
    {%- endif -%}
{%- endmacro %}

{#- Step 1 (over clean text): the candidate readings of a timestamp column, as <column>__unambiguous, __dmy, __mdy.
    The day-first and month-first readings are only tried when the value is not unambiguous. With `table_name`, a
    column the raw relation holds typed (raw_column_kinds) is read from its typed value (<column>__typed, see
    cleaned_rows): the same value its text would parse to, without parsing it. -#}
{% macro timestamp_candidates(column, table_name=none) -%}
    {%- set kind = raw_column_kinds(table_name).get(column) if table_name else none -%}
    {%- if kind in ('timestamp', 'date') -%}
        {{ naive_to_utc('cast(' ~ column ~ '__typed as timestamp)') }} as {{ column }}__unambiguous,
        cast(null as timestamp) as {{ column }}__dmy,
        cast(null as timestamp) as {{ column }}__mdy
    {%- elif kind == 'timestamptz' -%}
        {{ instant_to_utc(column ~ '__typed') }} as {{ column }}__unambiguous,
        cast(null as timestamp) as {{ column }}__dmy,
        cast(null as timestamp) as {{ column }}__mdy
    {%- else -%}
        {{ parse_timestamp_unambiguous(column) }} as {{ column }}__unambiguous,
        {{ parse_timestamp_ordered(column, 'DMY') }} as {{ column }}__dmy,
        {{ parse_timestamp_ordered(column, 'MDY') }} as {{ column }}__mdy
    {%- endif -%}
{%- endmacro %}

{#- Step 2 (an aggregate over the whole relation, one row): the day/month order of each column, decided from all
    its values: DMY, MDY or ambiguous. -#}
{% macro timestamp_date_orders(columns) -%}
    {%- for column in columns %}
        {{ date_order_decision(
            'count(case when ' ~ column ~ '__unambiguous is null then ' ~ column ~ '__dmy end)',
            'count(case when ' ~ column ~ '__unambiguous is null then ' ~ column ~ '__mdy end)') }}
            as {{ column }}__date_order{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- The rule of step 2, from the number of a column's non-ISO values that read day-first and month-first (also used
    by the incremental staging models, macros/staging/load_state.sql, with the counts kept as state). -#}
{% macro date_order_decision(dmy_count, mdy_count) -%}
    case
        when {{ dmy_count }} > {{ mdy_count }} then 'DMY'
        when {{ dmy_count }} < {{ mdy_count }} then 'MDY'
        {%- if var('date_order') | upper in ('DMY', 'MDY') %}
        else '{{ var("date_order") | upper }}'
        {%- else %}
        else 'ambiguous'
        {%- endif %}
    end
{%- endmacro %}

{#- Whether a value counts toward its column's day-first (order 'dmy') or month-first ('mdy') reading in step 2:
    kept per row by the incremental staging models, so the decision is updated from the new rows alone. -#}
{% macro timestamp_reads(column, order) -%}
    ({{ column }}__unambiguous is null and {{ column }}__{{ order }} is not null)
{%- endmacro %}

{#- Step 3: whether the value is quarantined as ambiguous (its column's order is a tie that var date_order leaves
    to quarantine, and the value reads only as day-first or month-first). -#}
{% macro timestamp_is_ambiguous(column) -%}
    ({{ column }}__date_order = 'ambiguous' and {{ column }}__unambiguous is null
        and ({{ column }}__dmy is not null or {{ column }}__mdy is not null))
{%- endmacro %}

{#- Step 3: the value, UTC. -#}
{% macro timestamp_value(column) -%}
    (case
        when {{ column }}__unambiguous is not null then {{ column }}__unambiguous
        when {{ column }}__date_order = 'DMY' then {{ column }}__dmy
        when {{ column }}__date_order = 'MDY' then {{ column }}__mdy
    end)
{%- endmacro %}

{#- Checks of a timestamp column, in priority order. `text` is its clean text, `value` its parsed value, `name` the
    column name used in the reasons (and <name>__ambiguous, from timestamp_is_ambiguous). -#}
{% macro timestamp_checks(name, text, value, required=false) -%}
    {%- set checks = [] -%}
    {%- if required -%}
        {%- do checks.append([text ~ ' is null', 'missing_' ~ name]) -%}
    {%- endif -%}
    {%- do checks.append([name ~ '__ambiguous', 'ambiguous_' ~ name]) -%}
    {%- do checks.append([text ~ ' is not null and ' ~ value ~ ' is null', 'unparseable_' ~ name]) -%}
    {%- do checks.append(['not ' ~ is_finite(value, 'timestamp') ~ ' or ' ~ value ~ ' < cast(\'' ~ var('valid_from_date')
        ~ '\' as timestamp)', name ~ '_out_of_range']) -%}
    {%- do checks.append([value ~ ' > ' ~ dbt.dateadd('day', var('future_tolerance_days'), reference_timestamp()),
        name ~ '_in_future']) -%}
    {{ return(checks) }}
{%- endmacro %}

{#- Checks of an amount column: missing (when required), unparseable, beyond var max_amount, negative. -#}
{% macro amount_checks(name, text, number, required=true, allow_negative=false) -%}
    {%- set checks = [] -%}
    {%- if required -%}
        {%- do checks.append([text ~ ' is null', 'missing_' ~ name]) -%}
    {%- endif -%}
    {%- do checks.append([text ~ ' is not null and ' ~ number ~ ' is null', 'unparseable_' ~ name]) -%}
    {%- do checks.append(['not ' ~ is_finite(number) ~ ' or abs(' ~ number ~ ') > ' ~ var('max_amount'),
        name ~ '_out_of_range']) -%}
    {%- if not allow_negative -%}
        {%- do checks.append([number ~ ' < 0', 'negative_' ~ name]) -%}
    {%- endif -%}
    {{ return(checks) }}
{%- endmacro %}
