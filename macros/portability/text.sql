{#- Text, regular-expression, time-zone and JSON primitives of the staging macros, dispatched. The duckdb__ versions
    render exactly the SQL the staging macros always wrote; the spark__ versions say the same in Spark SQL (Java
    regular expressions; string literals with backslash escapes, so a pattern's backslashes are doubled). Patterns
    are passed as the text between the quotes (single quotes already doubled). -#}

{#- The text type of casts. -#}
{% macro text_type() -%}
    {{- adapter.dispatch('text_type', 'customer_value')() | trim -}}
{%- endmacro %}
{% macro default__text_type() -%} varchar {%- endmacro %}
{% macro spark__text_type() -%} string {%- endmacro %}

{#- A string literal holding `pattern` (a regular expression, its quotes already doubled). -#}
{% macro regex_literal(pattern) -%}
    {{- adapter.dispatch('regex_literal', 'customer_value')(pattern) -}}
{%- endmacro %}
{% macro default__regex_literal(pattern) -%} '{{ pattern }}' {%- endmacro %}
{% macro spark__regex_literal(pattern) -%} '{{ pattern | replace("\\", "\\\\") }}' {%- endmacro %}

{#- Whether the whole of `expression` matches `pattern`. -#}
{% macro regex_full_match(expression, pattern) -%}
    {{- adapter.dispatch('regex_full_match', 'customer_value')(expression, pattern) -}}
{%- endmacro %}
{% macro duckdb__regex_full_match(expression, pattern) -%}
    regexp_full_match({{ expression }}, {{ regex_literal(pattern) }})
{%- endmacro %}
{% macro spark__regex_full_match(expression, pattern) -%}
    ({{ expression }} rlike {{ regex_literal('^(?:' ~ pattern ~ ')$') }})
{%- endmacro %}

{#- Whether `pattern` matches somewhere in `expression`. -#}
{% macro regex_contains(expression, pattern) -%}
    {{- adapter.dispatch('regex_contains', 'customer_value')(expression, pattern) -}}
{%- endmacro %}
{% macro duckdb__regex_contains(expression, pattern) -%}
    regexp_matches({{ expression }}, {{ regex_literal(pattern) }})
{%- endmacro %}
{% macro spark__regex_contains(expression, pattern) -%}
    ({{ expression }} rlike {{ regex_literal(pattern) }})
{%- endmacro %}

{#- `expression` with the first match of `pattern` replaced (replacement groups written \1, \2; flags: 's' = dot
    matches line breaks). -#}
{% macro regex_replace(expression, pattern, replacement, flags='') -%}
    {{- adapter.dispatch('regex_replace', 'customer_value')(expression, pattern, replacement, flags) -}}
{%- endmacro %}
{% macro duckdb__regex_replace(expression, pattern, replacement, flags) -%}
    regexp_replace({{ expression }}, {{ regex_literal(pattern) }}, '{{ replacement }}'
        {%- if flags %}, '{{ flags }}'{% endif %})
{%- endmacro %}
{% macro spark__regex_replace(expression, pattern, replacement, flags) -%}
    {%- set inline = '(?' ~ flags ~ ')' if flags else '' -%}
    regexp_replace({{ expression }}, {{ regex_literal(inline ~ pattern) }},
        '{{ modules.re.sub("\\\\([0-9])", "$\\1", replacement) }}')
{%- endmacro %}

{#- `expression` with the characters of `characters` (a text expression) trimmed from both ends. -#}
{% macro trim_characters(expression, characters) -%}
    {{- adapter.dispatch('trim_characters', 'customer_value')(expression, characters) -}}
{%- endmacro %}
{% macro duckdb__trim_characters(expression, characters) -%}
    trim({{ expression }}, {{ characters }})
{%- endmacro %}
{% macro spark__trim_characters(expression, characters) -%}
    trim(both {{ characters }} from {{ expression }})
{%- endmacro %}

{#- Characters trimmed around every value: space, tab, line breaks, no-break space, byte-order mark. -#}
{% macro whitespace_sql() -%}
    {{- adapter.dispatch('whitespace_sql', 'customer_value')() -}}
{%- endmacro %}
{% macro default__whitespace_sql() -%}
    (' ' || chr(9) || chr(10) || chr(13) || chr(160) || chr(65279))
{%- endmacro %}
{% macro spark__whitespace_sql() -%}
    {#- Spark's chr() covers 0-255 only: U+FEFF as a literal escape -#}
    (' ' || chr(9) || chr(10) || chr(13) || chr(160) || '\uFEFF')
{%- endmacro %}

{#- Whether a number (kind 'number') or a timestamp (kind 'timestamp') is finite (null for null). -#}
{% macro is_finite(expression, kind='number') -%}
    {{- adapter.dispatch('is_finite', 'customer_value')(expression, kind) -}}
{%- endmacro %}
{% macro duckdb__is_finite(expression, kind) -%}
    isfinite({{ expression }})
{%- endmacro %}
{% macro spark__is_finite(expression, kind) -%}
    {%- if kind == 'timestamp' -%}
        {#- Spark has no infinite timestamps -#}
        ({{ expression }} = {{ expression }})
    {%- else -%}
        (not isnan({{ expression }}) and abs({{ expression }}) < double('Infinity'))
    {%- endif -%}
{%- endmacro %}

{#- A naive timestamp read as wall-clock time in `zone`, as a naive UTC timestamp. -#}
{% macro zone_to_utc(timestamp_sql, zone) -%}
    {{- adapter.dispatch('zone_to_utc', 'customer_value')(timestamp_sql, zone) -}}
{%- endmacro %}
{% macro duckdb__zone_to_utc(timestamp_sql, zone) -%}
    timezone('UTC', timezone('{{ zone }}', {{ timestamp_sql }}))
{%- endmacro %}
{% macro spark__zone_to_utc(timestamp_sql, zone) -%}
    to_utc_timestamp({{ timestamp_sql }}, '{{ zone }}')
{%- endmacro %}

{#- An instant (timestamp with time zone) as a naive UTC timestamp. Spark's timestamps are instants shown in the
    session time zone, which the profile pins to UTC. -#}
{% macro instant_to_utc(expression) -%}
    {{- adapter.dispatch('instant_to_utc', 'customer_value')(expression) -}}
{%- endmacro %}
{% macro duckdb__instant_to_utc(expression) -%}
    timezone('UTC', {{ expression }})
{%- endmacro %}
{% macro spark__instant_to_utc(expression) -%}
    {{ expression }}
{%- endmacro %}

{#- Text with an offset or zone name, as an instant (null when it does not parse). -#}
{% macro try_cast_instant(expression) -%}
    {{- adapter.dispatch('try_cast_instant', 'customer_value')(expression) -}}
{%- endmacro %}
{% macro duckdb__try_cast_instant(expression) -%}
    try_cast({{ expression }} as timestamptz)
{%- endmacro %}
{% macro spark__try_cast_instant(expression) -%}
    try_cast({{ expression }} as timestamp)
{%- endmacro %}

{#- Text without a zone, as a naive timestamp (null when it does not parse). Spark's cast also reads '2024',
    '2024-1' and '2024-01-5' as timestamps: only the ISO shapes DuckDB reads are cast. -#}
{% macro try_cast_timestamp(expression) -%}
    {{- adapter.dispatch('try_cast_timestamp', 'customer_value')(expression) -}}
{%- endmacro %}
{% macro duckdb__try_cast_timestamp(expression) -%}
    try_cast({{ expression }} as timestamp)
{%- endmacro %}
{% macro spark__try_cast_timestamp(expression) -%}
    (case when {{ expression }} rlike '^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9].*)?$'
        then try_cast({{ expression }} as timestamp) end)
{%- endmacro %}

{#- strptime with a C format (%Y, %m, ...), null when the text does not parse. -#}
{% macro try_strptime_sql(expression, fmt) -%}
    {{- adapter.dispatch('try_strptime_sql', 'customer_value')(expression, fmt) -}}
{%- endmacro %}
{% macro duckdb__try_strptime_sql(expression, fmt) -%}
    try_strptime({{ expression }}, '{{ fmt }}')
{%- endmacro %}
{% macro spark__try_strptime_sql(expression, fmt) -%}
    try_to_timestamp({{ expression }}, '{{ java_datetime_pattern(fmt) }}')
{%- endmacro %}

{#- A C strptime format as a Java (Spark) datetime pattern. Spark reads a one-letter numeric field with one or two
    digits; a format without separators (%Y%m%d) keeps fixed widths, as its guard pattern does. -#}
{% macro java_datetime_pattern(fmt) -%}
    {%- set fixed = not modules.re.search('[^%A-Za-z]', fmt) -%}
    {%- set letters = {'Y': 'yyyy', 'y': 'yy', 'm': 'MM' if fixed else 'M', 'd': 'dd' if fixed else 'd', 'e': 'd',
        'H': 'HH' if fixed else 'H', 'I': 'hh' if fixed else 'h', 'M': 'mm' if fixed else 'm',
        'S': 'ss' if fixed else 's', 'f': 'SSSSSS', 'p': 'a', 'b': 'MMM', 'B': 'MMMM', 'a': 'EEE', 'A': 'EEEE',
        'j': 'DDD', 'z': 'XXX', 'Z': 'VV'} -%}
    {%- set state = namespace(pattern='', directive=false, literal='') -%}
    {%- for character in fmt -%}
        {%- if state.directive -%}
            {%- if state.literal -%}
                {%- set state.pattern = state.pattern ~ "''" ~ state.literal ~ "''" -%}
                {%- set state.literal = '' -%}
            {%- endif -%}
            {%- if character not in letters -%}
                {{ exceptions.raise_compiler_error("extra_timestamp_formats: %" ~ character ~ " has no Spark "
                    ~ "equivalent (format '" ~ fmt ~ "')") }}
            {%- endif -%}
            {%- set state.pattern = state.pattern ~ letters[character] -%}
            {%- set state.directive = false -%}
        {%- elif character == '%' -%}
            {%- set state.directive = true -%}
        {%- elif character in ' -/:.,' -%}
            {%- if state.literal -%}
                {%- set state.pattern = state.pattern ~ "''" ~ state.literal ~ "''" -%}
                {%- set state.literal = '' -%}
            {%- endif -%}
            {%- set state.pattern = state.pattern ~ character -%}
        {%- else -%}
            {%- set state.literal = state.literal ~ character -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if state.literal -%}
        {%- set state.pattern = state.pattern ~ "''" ~ state.literal ~ "''" -%}
    {%- endif -%}
    {{- state.pattern -}}
{%- endmacro %}

{#- The raw row as JSON ({"column": "value as read", ...}, nulls written as null). `fields` are [name, expression]. -#}
{% macro json_object(fields) -%}
    {{- adapter.dispatch('json_object', 'customer_value')(fields) -}}
{%- endmacro %}
{% macro duckdb__json_object(fields) -%}
    {%- set parts = [] -%}
    {%- for field in fields -%}
        {%- do parts.append(field[0] ~ ' := ' ~ field[1]) -%}
    {%- endfor -%}
    cast(to_json(struct_pack({{ parts | join(', ') }})) as varchar)
{%- endmacro %}
{% macro spark__json_object(fields) -%}
    {%- set parts = [] -%}
    {%- for field in fields -%}
        {%- do parts.append("'" ~ field[0] ~ "', " ~ field[1]) -%}
    {%- endfor -%}
    to_json(named_struct({{ parts | join(', ') }}), map('ignoreNullFields', 'false'))
{%- endmacro %}

{#- A row id in the order rows are read (unique; the lowest is the first row of the input). -#}
{% macro scan_row_id() -%}
    {{- adapter.dispatch('scan_row_id', 'customer_value')() -}}
{%- endmacro %}
{% macro default__scan_row_id() -%}
    row_number() over ()
{%- endmacro %}
{% macro spark__scan_row_id() -%}
    {#- unique and increasing in read order (partition index in the upper bits), not consecutive -#}
    monotonically_increasing_id()
{%- endmacro %}

{#- An identifier quoted for the adapter. -#}
{% macro quoted_identifier(name) -%}
    {{- adapter.dispatch('quoted_identifier', 'customer_value')(name) -}}
{%- endmacro %}
{% macro default__quoted_identifier(name) -%}
    "{{ name | replace('"', '""') }}"
{%- endmacro %}
{% macro spark__quoted_identifier(name) -%}
    `{{ name | replace('`', '``') }}`
{%- endmacro %}
