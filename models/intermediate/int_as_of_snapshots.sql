-- One row per as-of date the LTV layer is computed at: the as-of date itself ('current') and, for each entry of
-- var('ltv_previous_periods_months'), the same day that many calendar months earlier ('previous_<n>m'), so
-- dashboards can show the change against the previous period, and for each entry n of var('ltv_backtest_months_before')
-- the backtest's as-of date: the last day of the month n months before the as-of date's last complete month
-- ('backtest_<n>m'; anchored to month ends so it moves once a month, not every night: docs/backtest.md). A backtest
-- date that is also a published date is one row (the published name, is_backtest true). is_published is false when
-- only the backtest needs the date: the marts that publish snapshots leave those out; fct_ltv_backtest reads them.
-- Dates before the first order are left out.
{%- set published = [0] + var('ltv_previous_periods_months') | map('int') | list %}
{%- set backtest = var('ltv_backtest_months_before') | map('int') | unique | list %}
{%- set offset_rows = [] %}
{%- for months in published | unique %}{% do offset_rows.append((months, true)) %}{% endfor %}
{%- for months in backtest %}{% do offset_rows.append((months, false)) %}{% endfor %}
{%- set published_date = 'cast(' ~ dbt.dateadd('month', '-1 * offsets.months_before_current', 'as_of.as_of_date')
    ~ ' as date)' %}
with

as_of as (

    select * from {{ ref('int_as_of_dates') }}

),

offsets as (

    {% for months, is_published in offset_rows -%}
        select
            {{ months }} as months_before_current,
            {{ 'true' if is_published else 'false' }} as is_published
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

dated as (

    select
        offsets.months_before_current,
        offsets.is_published,
        case
            when offsets.months_before_current = 0 then 'current'
            when offsets.is_published
                then {{ dbt.concat(["'previous_'", "cast(offsets.months_before_current as " ~ dbt.type_string()
                    ~ ")", "'m'"]) }}
            else {{ dbt.concat(["'backtest_'", "cast(offsets.months_before_current as " ~ dbt.type_string()
                ~ ")", "'m'"]) }}
        end as as_of_snapshot,
        case
            when offsets.is_published then {{ published_date }}
            else {{ backtest_as_of_date('as_of.as_of_date', 'offsets.months_before_current') }}
        end as as_of_date,
        as_of.first_order_on
    from offsets
    cross join as_of

),

snapshots as (

    -- one row per date: a backtest date that is also a published date keeps the published name and offset
    select
        as_of_date,
        bool_or(is_published) as is_published,
        bool_or(not is_published) as is_backtest,
        coalesce(max(case when is_published then as_of_snapshot end), max(as_of_snapshot)) as as_of_snapshot,
        coalesce(
            max(case when is_published then months_before_current end), max(months_before_current)
        ) as months_before_current,
        max(case when not is_published then months_before_current end) as backtest_months_before,
        min(first_order_on) as first_order_on
    from dated
    group by as_of_date

),

final as (

    select
        as_of_snapshot,
        months_before_current,
        as_of_date,
        months_before_current = 0 and is_published as is_current,
        is_published,
        is_backtest,
        backtest_months_before
    from snapshots
    where as_of_date >= first_order_on

)

select * from final
