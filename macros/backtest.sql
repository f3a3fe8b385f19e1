{#- The backtest's horizons (var ltv_backtest_horizons_months), sorted, as integers. -#}
{% macro ltv_backtest_horizons() -%}
    {{ return(var('ltv_backtest_horizons_months') | map('int') | unique | sort | list) }}
{%- endmacro %}

{#- Months of a buyer's expected remaining lifetime that fall in the `horizon` months after the as-of date: the part
    of the formula-A/B lifetime not yet realised (expected minus observed lifetime), its first `horizon` months; 0
    for a churned buyer, null when not estimable. A segment's mean of it, in place of the expected lifetime in
    formula A (B), gives formula A's (B's) forward value over the horizon. -#}
{% macro forward_lifetime_months(remaining_lifetime_months, horizon) -%}
    least(cast({{ remaining_lifetime_months }} as double), cast({{ horizon }} as double))
{%- endmacro %}

{#- Whether the `horizon` months after the backtest date `as_of_date` (macro backtest_horizon_end) end on or before
    `data_end` (the truth is observed). -#}
{% macro is_horizon_observed(as_of_date, horizon, data_end) -%}
    ({{ backtest_horizon_end(as_of_date, horizon) }} <= {{ data_end }})
{%- endmacro %}

{#- Backtest error figures of an estimate against the actual value (both per buyer): signed bias, absolute error,
    and both relative to the actual (null when the actual is 0). -#}
{% macro backtest_bias(estimate, actual) -%}
    (cast({{ estimate }} as double) - cast({{ actual }} as double))
{%- endmacro %}

{% macro backtest_absolute_error(estimate, actual) -%}
    abs({{ backtest_bias(estimate, actual) }})
{%- endmacro %}

{% macro backtest_relative(error, actual) -%}
    {{ safe_divide(error, 'abs(' ~ actual ~ ')') }}
{%- endmacro %}

{#- A backtest as-of date: the last day of the month `months_before` months before the last complete month of
    `as_of_date` (the as-of date's own month when it is the month's last day). It moves once a month, so the
    backtest's fits and predictions are reused from night to night (docs/backtest.md). -#}
{% macro backtest_as_of_date(as_of_date, months_before) -%}
    cast(
        {{ dbt.dateadd('day', -1, dbt.dateadd('month', '-1 * ' ~ months_before,
            dbt.date_trunc('month', dbt.dateadd('day', 1, as_of_date)))) }} as date
    )
{%- endmacro %}

{#- The last day of the `horizon` months after a backtest date (a month end): the end of the horizon-th calendar
    month after the date's month. -#}
{% macro backtest_horizon_end(as_of_date, horizon) -%}
    cast({{ dbt.last_day(dbt.dateadd('month', horizon, as_of_date), 'month') }} as date)
{%- endmacro %}
