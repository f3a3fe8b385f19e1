{#- The lifespan cap in days: a lifetime restricted to var clv_horizon_months is the first month plus at most this
    much lifespan ((horizon - 1) months of var days_per_month days). One definition for the return rates, the
    survival curves and the projection, whose joins on the day grid must agree. -#}
{% macro lifespan_cap_days() -%}
    {{ return((var('clv_horizon_months') | float - 1) * var('days_per_month') | float) }}
{%- endmacro %}

{#- The last whole day of the lifespan grid (the cap, rounded down). -#}
{% macro lifespan_last_day() -%}
    {{ return(lifespan_cap_days() | round(0, 'floor') | int) }}
{%- endmacro %}

{#- The survival family the lifetime models extrapolate with (issue 23): a share `cure` that never has the event
    plus a Lomax (Pareto II) law for the others, S(t) = cure + (1 - cure) x (1 + t / scale)^(-shape) - the law of
    the waiting time of customers whose event rates are exponential with Gamma-distributed rates (the NBD's
    heterogeneity), so its tail is as heavy as a mixed population's, not the thin tail of one constant hazard. -#}
{% macro cure_lomax_survival(days, shape, scale, cure) -%}
    ({{ cure }} + (1 - {{ cure }}) * power(1 + cast({{ days }} as double) / {{ scale }}, -{{ shape }}))
{%- endmacro %}

{#- The fit grid: var lifetime_fit_grid_steps values spread evenly on a log scale over each range (the range's lower
    bound alone for one step), as a relation of (shape, scale). -#}
{% macro cure_lomax_grid() -%}
    {%- set steps = var('lifetime_fit_grid_steps') | int -%}
    {%- set shapes = var('lifetime_fit_shape_range') -%}
    {%- set scales = var('lifetime_fit_scale_range_days') -%}
    {%- set denominator = [steps - 1, 1] | max -%}
    (
        select
            {{ shapes[0] }} * power(cast({{ shapes[1] }} as double) / {{ shapes[0] }}, cast(shape_steps.n as double) / {{ denominator }}) as shape,
            {{ scales[0] }} * power(cast({{ scales[1] }} as double) / {{ scales[0] }}, cast(scale_steps.n as double) / {{ denominator }}) as scale
        from {{ integer_series(steps) }} as shape_steps
        cross join {{ integer_series(steps) }} as scale_steps
    )
{%- endmacro %}

{#- Weighted least-squares fit of the cure-Lomax survival to an observed survival curve: `points` is a relation with
    the columns of `keys`, `fit_day`, `survival` and `weight` (the number at risk); one row per key with shape, scale
    and cure. Shape and scale by grid search (cure_lomax_grid), the cure share in closed form for each grid point
    (the least-squares share given the Lomax part L: sum w (S - L)(1 - L) / sum w (1 - L)^2, clipped to [0, 1]);
    the point with the smallest weighted squared error wins (ties to the smaller shape, then scale). -#}
{% macro cure_lomax_fit(points, keys) -%}
    {%- set key_list = keys | join(', ') -%}
    {%- set lomax = 'power(1 + cast(fit_points.fit_day as double) / grid.scale, -grid.shape)' -%}
    select
        {{ key_list }},
        shape,
        scale,
        cure,
        fit_points
    from (
        select
            *,
            row_number() over (partition by {{ key_list }} order by squared_error, shape, scale) as fit_rank
        from (
            select
                *,
                cross_product - 2 * cure * survival_dot + cure * cure * lomax_norm as squared_error
            from (
                select
                    *,
                    least(greatest({{ safe_divide('survival_dot', 'lomax_norm') }}, 0), 1) as cure
                from (
                    select
                        {%- for key in keys %}
                            fit_points.{{ key }},
                        {%- endfor %}
                        grid.shape,
                        grid.scale,
                        count(*) as fit_points,
                        sum(fit_points.weight * (fit_points.survival - {{ lomax }}) * (1 - {{ lomax }})) as survival_dot,
                        sum(fit_points.weight * (1 - {{ lomax }}) * (1 - {{ lomax }})) as lomax_norm,
                        sum(fit_points.weight * (fit_points.survival - {{ lomax }}) * (fit_points.survival - {{ lomax }}))
                            as cross_product
                    from {{ points }} as fit_points
                    cross join {{ cure_lomax_grid() }} as grid
                    group by {% for key in keys %}fit_points.{{ key }}, {% endfor %}grid.shape, grid.scale
                ) as sums
            ) as with_cure
        ) as scored
    ) as ranked
    where fit_rank = 1
{%- endmacro %}

{#- The return-probability row of a buyer (int_return_rates_estimated): same snapshot, their completed orders in the
    order bucket, their days since the last order on the grid (a silence past the horizon reads its last day). -#}
{% macro return_rate_of_buyer(rates, buyers) -%}
    {%- set last_day = lifespan_last_day() -%}
    {{ rates }}.as_of_date = {{ buyers }}.as_of_date
    and {{ rates }}.order_bucket = least({{ buyers }}.completed_orders, {{ var('lifetime_return_max_order_bucket') }})
    and {{ rates }}.silence_day = least({{ buyers }}.recency_days, {{ last_day }})
{%- endmacro %}

{#- Kaplan-Meier, shared by the return rates (orders silent d days, ended by a return) and the lifespan curves
    (weighted buyers, ended by churn). `at_risk`: `total` minus what left before this day. `survival`: the running
    product of (1 - ended / at risk), summed in logs, and 0 from the first day on which everyone at risk ends
    (`tolerance`: the weight below which the two count as equal, for weighted counts). -#}
{% macro kaplan_meier_at_risk(total, leaving, partition_by, order_by) -%}
    {{ total }} - coalesce(sum({{ leaving }}) over (
        partition by {{ partition_by }} order by {{ order_by }} rows between unbounded preceding and 1 preceding
    ), 0)
{%- endmacro %}

{% macro kaplan_meier_survival(ended, at_risk, partition_by, order_by, tolerance=none) -%}
    {%- set at_risk_less = at_risk ~ (' - ' ~ tolerance if tolerance else '') -%}
    {%- set running = 'partition by ' ~ partition_by ~ ' order by ' ~ order_by ~ ' rows unbounded preceding' -%}
    case
        when sum(case when {{ ended }} > 0 and {{ ended }} >= {{ at_risk_less }} then 1 else 0 end)
            over ({{ running }}) > 0 then 0
        else exp(sum(
            case
                when {{ ended }} > 0 and {{ ended }} < {{ at_risk_less }}
                    then ln(1 - cast({{ ended }} as double) / {{ at_risk }})
                else 0
            end
        ) over ({{ running }}))
    end
{%- endmacro %}
