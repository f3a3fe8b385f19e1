{#-
    Which optional raw tables were given, decided at compile time from the resolved-input manifest (raw_relation.sql):
    the embedded sample has every table; with a manifest, a table it does not list is absent and raw_relation reads
    it as an empty relation. A value built on an absent table must not read like a value (docs/input_contract.md,
    "Optional tables that are absent"): an empty relation sums to 0 and joins to nothing, so the models that publish
    such values ask these macros.
-#}
{% macro input_given(table_name) -%}
    {%- if table_name not in raw_tables() -%}
        {{ exceptions.raise_compiler_error("input_given: '" ~ table_name ~ "' is not a raw table of the contract ("
            ~ raw_tables() | join(', ') ~ ")") }}
    {%- endif -%}
    {%- set manifest = given_inputs_manifest() -%}
    {{ return(manifest is none or table_name in manifest.tables) }}
{%- endmacro %}

{#- `expression` when every table of `tables` (a name or a list) was given, else `otherwise`; by default a null of
    the expression's own type (`case when 1 = 0 then expression end`), so the column keeps its type. -#}
{% macro if_input(tables, expression, otherwise=none) -%}
    {%- set names = [tables] if tables is string else tables -%}
    {%- set given = [] -%}
    {%- for name in names if input_given(name) -%}
        {%- do given.append(name) -%}
    {%- endfor -%}
    {%- if given | length == names | length -%}
        {{ expression }}
    {%- elif otherwise is none -%}
        case when 1 = 0 then {{ expression }} end
    {%- else -%}
        {{ otherwise }}
    {%- endif -%}
{%- endmacro %}

{#- The status of a CAC, spend or ratio that is null because no spend was recorded: 'no_spend_table' when the
    marketing_spend table was not given at all, 'no_spend_recorded' when it was and has no row for the channel. -#}
{% macro no_spend_status() -%}
    {{ "'no_spend_recorded'" if input_given('marketing_spend') else "'no_spend_table'" }}
{%- endmacro %}

{#- The category of a product: from the products table ('uncategorised' for a product it does not list or without a
    category), 'unknown' when no products table was given. -#}
{% macro product_category(category) -%}
    {{ if_input('products', "coalesce(" ~ category ~ ", 'uncategorised')", "'unknown'") }}
{%- endmacro %}

{#- Why a customer's attributes (channel, region, birth year, loyalty) are known or read 'unknown':
    'ok' (a row of the customers table), 'not_in_customers_table' (the table was given, without this customer), or
    'no_customers_table'. `customer_id` is the customers table's id after a left join (null when no row). -#}
{% macro customer_attributes_status(customer_id) -%}
    {%- if input_given('customers') -%}
        case when {{ customer_id }} is null then 'not_in_customers_table' else 'ok' end
    {%- else -%}
        'no_customers_table'
    {%- endif -%}
{%- endmacro %}
