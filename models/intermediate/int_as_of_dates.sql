-- One row: the as-of date every customer metric is computed at (var('as_of_date'), default the last clean order
-- date), and the first order date in the data. Customer metrics read it from here so they all agree.
with

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

bounds as (

    select
        min(ordered_on) as first_order_on,
        max(ordered_on) as last_order_on
    from orders

),

final as (

    select
        first_order_on,
        last_order_on,
        {%- if var('as_of_date') %}
        cast('{{ var("as_of_date") }}' as date) as as_of_date
        {%- else %}
            last_order_on as as_of_date
        {%- endif %}
    from bounds

)

select * from final
