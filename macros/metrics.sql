{#- Metric formulas used in more than one place. Each formula is defined once here and documented in the docs blocks
    under docs/ (rendered into dbt docs and docs/metrics.md); the models call these macros. -#}

{#- Days -> months with the documented average month length. -#}
{% macro days_to_months(days_expression) -%}
    {{- adapter.dispatch('days_to_months', 'customer_value')(days_expression) -}}
{%- endmacro %}

{% macro default__days_to_months(days_expression) -%}
    ({{ days_expression }}) / {{ var('days_per_month') }}
{%- endmacro %}

{#- Spark divides by a decimal literal in decimal arithmetic (rounded to a few places); DuckDB in double. -#}
{% macro spark__days_to_months(days_expression) -%}
    ({{ days_expression }}) / cast({{ var('days_per_month') }} as double)
{%- endmacro %}

{#- Safe ratio: null (not infinity, not an error) when the denominator is zero or null. -#}
{% macro safe_divide(numerator, denominator) -%}
    cast({{ numerator }} as double) / nullif(cast({{ denominator }} as double), 0)
{%- endmacro %}

{#- Formula A (business brief #1): monthly revenue per customer x expected lifetime in months. -#}
{% macro ltv_formula_a(monthly_revenue, lifetime_months) -%}
    (cast({{ monthly_revenue }} as double) * cast({{ lifetime_months }} as double))
{%- endmacro %}

{#- Formula B (business brief #2): average check x orders per month x lifetime (months) x margin rate. -#}
{% macro ltv_formula_b(average_check, orders_per_month, lifetime_months, margin_rate) -%}
    (cast({{ average_check }} as double) * cast({{ orders_per_month }} as double)
        * cast({{ lifetime_months }} as double) * cast({{ margin_rate }} as double))
{%- endmacro %}

{#- Discounted CLV: margin per month of lifetime x the discounted expected lifetime (each month of expected
    lifetime discounted at var clv_monthly_discount_rate; discounted_lifetime_months). -#}
{% macro discounted_clv(monthly_margin, discounted_lifetime_months) -%}
    (cast({{ monthly_margin }} as double) * cast({{ discounted_lifetime_months }} as double))
{%- endmacro %}

{#- Continuous daily discount rate delta = ln(1 + monthly rate) / days per month. -#}
{% macro daily_discount_rate() -%}
    (ln(1 + cast({{ var('clv_monthly_discount_rate') }} as double)) / {{ var('days_per_month') }})
{%- endmacro %}

{#- Present value (in days) of one unit per day over `days` days starting now: the integral of exp(-delta t) from 0
    to days; `days` itself when the discount rate is 0. -#}
{% macro discounted_days(days_expression) -%}
    {%- if var('clv_monthly_discount_rate') | float == 0 -%}
        cast({{ days_expression }} as double)
    {%- else -%}
        ((1 - exp(-{{ daily_discount_rate() }} * cast({{ days_expression }} as double))) / {{ daily_discount_rate() }})
    {%- endif -%}
{%- endmacro %}

{#- Discount factor exp(-delta x days) of a day `days` days after the first purchase. -#}
{% macro discount_factor(days_expression) -%}
    exp(-{{ daily_discount_rate() }} * cast({{ days_expression }} as double))
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

{#- Quantile score 1..buckets by rank: floor(buckets x (rank - 1) / n) + 1 over the rows of the query (per
    partition_by when given), ascending in order_by (the highest score goes to the highest values). Ties share the
    score of their first position, so equal values never land in different buckets and the result does not depend
    on row order; buckets can be unequal (a score can be skipped when one value holds more than a bucket). -#}
{% macro tied_ntile(buckets, order_by, partition_by=none) -%}
    {%- set over_partition = 'partition by ' ~ partition_by ~ ' ' if partition_by else '' -%}
    {{ tied_ntile_of_rank(buckets, 'rank() over (' ~ over_partition ~ 'order by ' ~ order_by ~ ')',
        'count(*) over (' ~ over_partition | trim ~ ')') }}
{%- endmacro %}

{#- tied_ntile from a rank computed elsewhere (what rank() gives the row: 1 + the rows before its value) and the
    number of rows ranked, e.g. from value_ranks. -#}
{% macro tied_ntile_of_rank(buckets, rank_expression, rows_expression) -%}
    (cast(floor({{ buckets }} * ({{ rank_expression }} - 1)
        / ({{ rows_expression }})) as integer) + 1)
{%- endmacro %}

{#- rank() of each distinct value of `value_column` among the rows of `rows` (per partition_by), ascending
    (rank_ascending) and descending (rank_descending), without ranking every row: one row per partition and value
    and the rank = the rows of the values before it + 1, so ties share the rank of their first position and nulls
    come where rank() puts them (the same orderings). Join it back on the partition and value (is not distinct
    from). -#}
{% macro value_ranks(rows, value_column, partition_by) -%}
    {%- set ordered = 'partition by ' ~ partition_by ~ ' order by ' ~ value_column -%}
    {%- set preceding = ' rows between unbounded preceding and current row' -%}
    select
        {{ partition_by }},
        {{ value_column }},
        cast(sum(count(*)) over ({{ ordered }}{{ preceding }}) - count(*) + 1 as bigint) as rank_ascending,
        cast(sum(count(*)) over ({{ ordered }} desc{{ preceding }}) - count(*) + 1 as bigint) as rank_descending
    from {{ rows }}
    group by {{ partition_by }}, {{ value_column }}
{%- endmacro %}

{#- The one tiering rule (value tiers by realised LTV, predicted-CLV tiers): rank the rows by `order_by_desc`
    (best first; tied values share the rank of their first position), rank share = rank / rows (per partition_by),
    and the first tier of var('value_tier_shares') (cumulative shares, best tier first) whose share is not
    exceeded. -#}
{% macro value_tier(order_by_desc, partition_by=none) -%}
    {%- set over_partition = 'partition by ' ~ partition_by ~ ' ' if partition_by else '' -%}
    {{ value_tier_of_rank('rank() over (' ~ over_partition ~ 'order by ' ~ order_by_desc ~ ' desc)',
        'count(*) over (' ~ over_partition | trim ~ ')') }}
{%- endmacro %}

{#- value_tier from a rank computed elsewhere (best first, e.g. value_ranks' rank_descending) and the number of rows
    ranked. -#}
{% macro value_tier_of_rank(rank_descending, rows_expression) -%}
    {%- set share = 'cast(' ~ rank_descending ~ ' as double) / ' ~ rows_expression -%}
    case
        {%- for tier, cumulative_share in var('value_tier_shares').items() | sort(attribute='1') %}
            when {{ share }} <= {{ cumulative_share }} then '{{ tier }}'
        {%- endfor %}
    end
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
    the as-of date. `orders` and `as_of` are the aliases of int_orders_enriched and a relation with as_of_date. -#}
{% macro is_completed_by_as_of(orders='orders', as_of='as_of') -%}
    ({{ orders }}.is_completed and {{ orders }}.ordered_on <= {{ as_of }}.as_of_date)
{%- endmacro %}

{#- An acquisition cohort (calendar month of the first completed order) is mature at h months when every customer
    it can hold, up to one acquired on the month's last day, is h months old by the as-of date: the last day of the
    cohort month plus h calendar months is on or before the day after the as-of date. -#}
{% macro is_cohort_mature(cohort_month, horizon_months, as_of_date) -%}
    (cast({{ dbt.dateadd('month', horizon_months,
        add_days(dbt.dateadd('month', 1, cohort_month), -1)) }} as date)
        <= cast({{ dbt.dateadd('day', 1, as_of_date) }} as date))
{%- endmacro %}

{#- The segment-level ratios, from the additive sums of a set of buyers (the columns named by `prefix` + the
    component name, e.g. prefix 'rest_'). One definition for fct_ltv_by_segment (a segment) and
    fct_segment_comparison (the rest of the segment type). -#}
{% macro segment_ratio(name, prefix='') -%}
    {%- set ratios = {
        'average_realised_ltv': ('realised_ltv_total', 'buyers'),
        'average_check': ('realised_ltv_total', 'orders_to_date'),
        'ltv_margin_rate': ('realised_margin_ltv_total', 'realised_ltv_total'),
        'orders_per_month': ('orders_to_date', 'lifetime_exposure_months'),
        'monthly_revenue_per_customer': ('realised_ltv_total', 'lifetime_exposure_months'),
        'monthly_margin_per_customer': ('realised_margin_ltv_total', 'lifetime_exposure_months'),
        'orders_per_year': ('frequency_eligible_orders', 'frequency_eligible_tenure_years'),
        'expected_lifetime_months': ('expected_lifetime_months_total', 'buyers_with_expected_lifetime'),
        'discounted_lifetime_months': ('discounted_lifetime_months_total', 'buyers_with_expected_lifetime'),
    } -%}
    {%- if name not in ratios -%}
        {{ exceptions.raise_compiler_error("segment_ratio: unknown ratio '" ~ name ~ "'") }}
    {%- endif -%}
    {{ safe_divide(prefix ~ ratios[name][0], prefix ~ ratios[name][1]) }}
{%- endmacro %}

{#- LTV/CAC at `horizon` months (docs block metric_ltv_to_cac_horizon), one formula at every grain: a chain over the
    horizons of ltv_cac_horizons_months() up to `horizon`, each term the margin gained from the previous horizon
    to k (macro ltv_to_cac_margin_gain) / the spend, both over the paid cohorts (CAC > 0) mature at k. `margin_gain`
    and `spend` are the per-horizon expressions with `{h}` where the horizon goes: one cohort's own values in
    fct_channel_economics (the chain is then its margin per customer to h / its CAC), sums over cohorts in
    fct_ltv_by_segment (a ratio of sums per term: what MetricFlow's ltv_to_cac_<h>m returns at any grouping). -#}
{% macro ltv_to_cac(horizon, margin_gain, spend) -%}
    {%- set terms = [] -%}
    {%- for h in ltv_cac_horizons_months() | sort if h <= horizon -%}
        {%- set k = h | string -%}
        {%- do terms.append(safe_divide(margin_gain | replace('{h}', k), spend | replace('{h}', k))) -%}
    {%- endfor -%}
    {{ terms | join(' + ') }}
{%- endmacro %}

{#- The margin a cohort gains from the previous horizon of ltv_cac_horizons_months() to `horizon` (the first
    horizon: all of it), from the columns <prefix><h>m (e.g. margin_first_12m - margin_first_6m). -#}
{% macro ltv_to_cac_margin_gain(horizon, prefix='margin_first_') -%}
    {%- set earlier = ltv_cac_horizons_months() | sort | select('lt', horizon) | list -%}
    {{ prefix ~ horizon ~ 'm' }}{{ ' - ' ~ prefix ~ earlier[-1] ~ 'm' if earlier else '' }}
{%- endmacro %}

{#- The category with the largest amount per key (an order's main category, a customer's preferred category): a
    query over `lines` (columns key_column, category, amount_column) returning key_column, category and
    category_amount = sum(amount_column) of that category; ties go to the first category by name. Extra grouping
    columns (e.g. an as-of date) go in `partition_columns`. -#}
{% macro top_category_by_amount(lines, key_column, amount_column, partition_columns=[]) -%}
    {%- set keys = partition_columns + [key_column] -%}
    select
        {{ keys | join(',\n        ') }},
        category,
        category_amount
    from (
        select
            {{ keys | join(',\n            ') }},
            category,
            category_amount,
            row_number() over (
                partition by {{ keys | join(', ') }} order by category_amount desc, category asc
            ) as category_rank
        from (
            select
                {{ keys | join(',\n                ') }},
                category,
                sum({{ amount_column }}) as category_amount
            from {{ lines }}
            group by {{ keys | join(', ') }}, category
        ) as category_amounts
    ) as ranked
    where category_rank = 1
{%- endmacro %}

{#- The rates of a cohort-month row (fct_cohort_retention, fct_cohort_retention_by_channel): retention and the
    cumulative net revenue / gross margin per cohort customer (the cohort's LTV curve). -#}
{% macro cohort_rates() -%}
    {{ safe_divide('active_customers', 'cohort_size') }} as retention_rate,
    orders,
    net_revenue,
    gross_margin,
    cumulative_net_revenue,
    cumulative_gross_margin,
    {{ safe_divide('cumulative_net_revenue', 'cohort_size') }} as cumulative_net_revenue_per_customer,
    {{ safe_divide('cumulative_gross_margin', 'cohort_size') }} as cumulative_gross_margin_per_customer
{%- endmacro %}
