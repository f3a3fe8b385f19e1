{#- The rule of macro top_category_by_amount (the category with the largest amount per key, ties to the first
    category by name; a null amount never beats a number) over amounts already summed: `amounts` has the
    partition_columns, key_column, category and category_amount, one row per category. Aggregates instead of a
    window ranking every category (int_customers_segmented: ~19M customer x snapshot x category rows at 10M orders,
    where the window's sort took longer than the sums): the largest amount per key, then the first category by name
    among the categories with that amount. DuckDB: one aggregate, the least (-amount, category) pair (structs compare
    field by field, nulls last, as the window orders them). -#}
{% macro top_category_of_amounts(amounts, key_column, partition_columns=[]) -%}
    {{- adapter.dispatch('top_category_of_amounts', 'customer_value')(amounts, key_column, partition_columns) -}}
{%- endmacro %}

{% macro duckdb__top_category_of_amounts(amounts, key_column, partition_columns) -%}
    {%- set keys = partition_columns + [key_column] -%}
    select
        {{ keys | join(',\n        ') }},
        top_category.category,
        -top_category.negative_amount as category_amount
    from (
        select
            {{ keys | join(',\n            ') }},
            min({'negative_amount': -category_amount, 'category': category}) as top_category
        from {{ amounts }}
        group by {{ keys | join(', ') }}
    ) as top_categories
{%- endmacro %}

{% macro default__top_category_of_amounts(amounts, key_column, partition_columns) -%}
    {%- set keys = partition_columns + [key_column] -%}
    select
        {%- for key in keys %}
            category_amounts.{{ key }},
        {%- endfor %}
        min(category_amounts.category) as category,
        category_amounts.category_amount
    from {{ amounts }} as category_amounts
    inner join (
        select
            {{ keys | join(',\n            ') }},
            max(category_amount) as category_amount
        from {{ amounts }}
        group by {{ keys | join(', ') }}
    ) as top_amounts
        on
            {%- for key in keys %}
                category_amounts.{{ key }} = top_amounts.{{ key }} and
            {%- endfor %}
            category_amounts.category_amount is not distinct from top_amounts.category_amount
    group by
        {%- for key in keys %}
            category_amounts.{{ key }},
        {%- endfor %}
        category_amounts.category_amount
{%- endmacro %}
