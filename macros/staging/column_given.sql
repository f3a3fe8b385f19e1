{#- Whether an optional column of a raw table was given (compile time, from the resolved-input manifest; the embedded
    sample has every column). An absent optional column reads as its default in staging (e.g. discount_amount 0),
    so a value that tells the column's content apart from its default asks this first. -#}
{% macro column_given(table_name, column) -%}
    {%- set manifest = given_inputs_manifest() -%}
    {{ return(input_given(table_name) and (manifest is none or (table_name in manifest.tables
        and column in manifest.tables[table_name].columns))) }}
{%- endmacro %}
