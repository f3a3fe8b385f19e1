{#- Metric formulas used in more than one place. Each formula is defined once here and documented in
    docs/metrics.md; the models call these macros for customer-level and segment-level values alike. -#}

{#- Days -> months with the documented average month length. -#}
{% macro days_to_months(days_expression) -%}
    ({{ days_expression }}) / {{ var('days_per_month') }}
{%- endmacro %}

{#- Safe ratio: null (not infinity, not an error) when the denominator is zero or null. -#}
{% macro safe_divide(numerator, denominator) -%}
    cast({{ numerator }} as double) / nullif(cast({{ denominator }} as double), 0)
{%- endmacro %}

{#- Formula A (business brief #1): average monthly revenue per customer x average lifetime in months. -#}
{% macro ltv_formula_a(monthly_revenue, lifetime_months) -%}
    (cast({{ monthly_revenue }} as double) * cast({{ lifetime_months }} as double))
{%- endmacro %}

{#- Formula B (business brief #2): average check x purchase frequency (orders per month) x lifetime (months)
    x margin rate. -#}
{% macro ltv_formula_b(average_check, orders_per_month, lifetime_months, margin_rate) -%}
    (cast({{ average_check }} as double) * cast({{ orders_per_month }} as double)
        * cast({{ lifetime_months }} as double) * cast({{ margin_rate }} as double))
{%- endmacro %}

{#- Monthly retention implied by an average lifetime L (months) under a geometric lifetime: 1 - 1/L. -#}
{% macro monthly_retention_from_lifetime(lifetime_months) -%}
    greatest(1 - 1 / nullif(cast({{ lifetime_months }} as double), 0), 0)
{%- endmacro %}

{#- Discounted CLV: sum over t = 1..H of m * rho^t / (1 + d)^t, in closed form with x = rho / (1 + d):
    m * x * (1 - x^H) / (1 - x)   (and m * H when x = 1). -#}
{% macro discounted_clv(monthly_margin, monthly_retention, monthly_discount_rate, horizon_months) -%}
    {%- set x = '(cast(' ~ monthly_retention ~ ' as double) / (1 + ' ~ monthly_discount_rate ~ '))' -%}
    (cast({{ monthly_margin }} as double) * case
        when {{ x }} = 1 then {{ horizon_months }}
        else {{ x }} * (1 - power({{ x }}, {{ horizon_months }})) / (1 - {{ x }})
    end)
{%- endmacro %}

{#- Age band from a birth year at a date: <25, 25-34, 35-44, 45-54, 55-64, 65+, unknown. -#}
{% macro age_band(birth_year, at_date) -%}
    case
        when {{ birth_year }} is null then 'unknown'
        when extract(year from {{ at_date }}) - {{ birth_year }} < 25 then '<25'
        when extract(year from {{ at_date }}) - {{ birth_year }} < 35 then '25-34'
        when extract(year from {{ at_date }}) - {{ birth_year }} < 45 then '35-44'
        when extract(year from {{ at_date }}) - {{ birth_year }} < 55 then '45-54'
        when extract(year from {{ at_date }}) - {{ birth_year }} < 65 then '55-64'
        else '65+'
    end
{%- endmacro %}

{#- Quantile score 1..buckets by rank: floor(buckets x (rank - 1) / n) + 1 over the rows of the query, ascending in
    order_by (the highest score goes to the highest values). Ties share the score of their first position, so equal
    values never land in different buckets and the result does not depend on row order; buckets can be unequal
    (a score can be skipped when one value holds more than a bucket). -#}
{% macro tied_ntile(buckets, order_by) -%}
    (cast(floor({{ buckets }} * (rank() over (order by {{ order_by }}) - 1) / (count(*) over ())) as integer) + 1)
{%- endmacro %}

{#- Relative lift of a value over a baseline: value / baseline - 1 (null when the baseline is 0 or null). -#}
{% macro relative_lift(value, baseline) -%}
    ({{ safe_divide(value, baseline) }} - 1)
{%- endmacro %}

{#- RFM segment name from the 1-5 scores by var('rfm_segment_rules'): the first rule whose bounds hold. -#}
{% macro rfm_segment(recency_score, frequency_score, monetary_score) -%}
    {%- set scores = {'r': recency_score, 'f': frequency_score, 'm': monetary_score} -%}
    case
        {%- for rule in var('rfm_segment_rules') %}
            {%- set conditions = [] -%}
            {%- for key, score in scores.items() -%}
                {%- if rule.get(key ~ '_min') is not none -%}
                    {%- do conditions.append(score ~ ' >= ' ~ rule[key ~ '_min']) -%}
                {%- endif -%}
                {%- if rule.get(key ~ '_max') is not none -%}
                    {%- do conditions.append(score ~ ' <= ' ~ rule[key ~ '_max']) -%}
                {%- endif -%}
            {%- endfor %}
        when {{ conditions | join(' and ') if conditions else 'true' }} then '{{ rule.segment }}'
        {%- endfor %}
        else 'unmatched'
    end
{%- endmacro %}

{#- The orders every customer metric counts: completed (not cancelled, not fully refunded) and placed on or before
    the as-of date (int_as_of_dates). `orders` and `as_of` are the aliases of fct_orders and int_as_of_dates. -#}
{% macro is_completed_by_as_of(orders='orders', as_of='as_of') -%}
    ({{ orders }}.is_completed and {{ orders }}.ordered_on <= {{ as_of }}.as_of_date)
{%- endmacro %}

{#- The category with the largest amount per key (an order's main category, a customer's preferred category): a
    query over `lines` (columns key_column, category, amount_column) returning key_column, category and
    category_amount = sum(amount_column) of that category; ties go to the first category by name. -#}
{% macro top_category_by_amount(lines, key_column, amount_column) -%}
    select
        {{ key_column }},
        category,
        category_amount
    from (
        select
            {{ key_column }},
            category,
            category_amount,
            row_number() over (
                partition by {{ key_column }} order by category_amount desc, category asc
            ) as category_rank
        from (
            select
                {{ key_column }},
                category,
                sum({{ amount_column }}) as category_amount
            from {{ lines }}
            group by {{ key_column }}, category
        ) as category_amounts
    ) as ranked
    where category_rank = 1
{%- endmacro %}
