{#- Order status normalisation (of clean text, see clean_text): synonyms map to the four contract statuses, a
    missing status means completed, anything else becomes null (and the order is quarantined as unknown_status,
    with the raw value kept). -#}
{% macro normalize_order_status(clean) -%}
    case
        when {{ clean }} is null then 'completed'
        when lower({{ clean }}) in ('completed', 'complete', 'paid', 'fulfilled', 'delivered', 'shipped')
            then 'completed'
        when lower({{ clean }}) in ('cancelled', 'canceled', 'void', 'voided')
            then 'cancelled'
        when lower({{ clean }}) in ('refunded', 'returned', 'fully_refunded')
            then 'refunded'
        when lower({{ clean }}) in ('partially_refunded', 'partially refunded', 'partial_refund',
            'partially_returned')
            then 'partially_refunded'
    end
{%- endmacro %}

{#- Rate converting an amount in `currency_expression` to the reporting currency; null for unknown currencies. -#}
{% macro rate_to_reporting(currency_expression) -%}
    case
        when {{ currency_expression }} = '{{ var("reporting_currency") | upper }}' then 1.0
        {%- for code, rate in var('fx_rates_to_reporting').items() %}
        when {{ currency_expression }} = '{{ code | upper }}' then {{ rate }}
        {%- endfor %}
    end
{%- endmacro %}
