-- One row per as-of date the LTV layer is computed at: the as-of date itself ('current') and, for each entry of
-- var('ltv_previous_periods_months'), the same day that many calendar months earlier ('previous_<n>m'), so
-- dashboards can show the change against the previous period, and for each entry of var('ltv_backtest_months_before')
-- the backtest's as-of dates (is_published false when only the backtest needs them: the marts that publish snapshots
-- leave those out; fct_ltv_backtest reads them). Dates before the first order are left out.
{%- set published = [0] + var('ltv_previous_periods_months') | map('int') | list %}
{%- set offsets = (published + var('ltv_backtest_months_before') | map('int') | list) | unique | list %}
with

as_of as (

    select * from {{ ref('int_as_of_dates') }}

),

offsets as (

    {% for months in offsets -%}
        select {{ months | int }} as months_before_current
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

snapshots as (

    select
        offsets.months_before_current,
        case
            when offsets.months_before_current = 0 then 'current'
            else {{ dbt.concat(["'previous_'", "cast(offsets.months_before_current as " ~ dbt.type_string() ~ ")",
                "'m'"]) }}
        end as as_of_snapshot,
        cast({{ dbt.dateadd('month', '-1 * offsets.months_before_current', 'as_of.as_of_date') }} as date)
            as as_of_date,
        as_of.first_order_on
    from offsets
    cross join as_of

),

final as (

    select
        as_of_snapshot,
        months_before_current,
        as_of_date,
        months_before_current = 0 as is_current,
        months_before_current in ({{ published | join(', ') }}) as is_published,
        months_before_current in ({{ (var('ltv_backtest_months_before') | map('int') | list + [-1]) | join(', ') }})
            as is_backtest
    from snapshots
    where as_of_date >= first_order_on

)

select * from final
