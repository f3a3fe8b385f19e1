-- One row per backtest as-of date (var ltv_backtest_months_before) x horizon (var ltv_backtest_horizons_months) x
-- segment type x segment value x estimator: the forward value per buyer the layer would have published as of that
-- date over the next h months, what the same buyers actually spent (net revenue) or made (gross margin) in those
-- months, and the error: bias (estimate - actual), absolute error, both relative to the actual, and for predicted
-- CLV the 80% interval of the segment sum and whether it covered the actual. Estimators, each on its own scale:
--   formula_a      revenue  formula A with the expected lifetime replaced by the buyers' mean expected remaining
--                           lifetime within h (macro forward_lifetime_months): formula A's not yet realised part
--   formula_b      margin   formula B, the same way
--   predicted_clv  margin   the chosen count model + Gamma-Gamma fitted as of the date, undiscounted, over h
-- The inputs are the build's own models as of the date (int_customers_valued at the backtest snapshots of
-- int_as_of_snapshots), the formulas the macros of fct_ltv_by_segment. A horizon ending after the data's end has
-- no truth: its cells are null with backtest_status horizon_past_data_end. Definitions: docs/backtest.md.
{%- set horizons = ltv_backtest_horizons() %}
{%- set segment_types = ltv_segment_types() %}
{#- the formula estimators: the formula macro, its ratio arguments (the segment's columns) and the actual's scale -#}
{%- set formula_estimators = [
    {'estimator': 'formula_a', 'compared_with': 'revenue', 'macro': ltv_formula_a,
        'ratios': {'monthly_revenue': 'monthly_revenue_per_customer'}},
    {'estimator': 'formula_b', 'compared_with': 'margin', 'macro': ltv_formula_b,
        'ratios': {'average_check': 'average_check', 'orders_per_month': 'orders_per_month',
            'margin_rate': 'ltv_margin_rate'}},
] %}
with

observed as (

    select * from {{ ref('int_customers_backtest_observed') }}

),

predicted as (

    select * from {{ ref('int_segments_backtest_scored') }}

),

customer_segments as (

    {{ segment_rows('observed') }}

),

segment_sums as (

    select
        {%- for h in horizons %}
            {{ mean_of('forward_lifetime_months_' ~ h ~ 'm') }} as forward_lifetime_months_{{ h }}m,
            bool_and(is_observed_{{ h }}m) as is_observed_{{ h }}m,
            sum(actual_revenue_next_{{ h }}m) as actual_revenue_next_{{ h }}m,
            sum(actual_margin_next_{{ h }}m) as actual_margin_next_{{ h }}m,
        {%- endfor %}
        as_of_snapshot,
        months_before_current,
        as_of_date,
        segment_type,
        segment_value,
        count(*) as buyers,
        count(own_expected_lifetime_months) as buyers_with_expected_lifetime,
        sum(realised_ltv) as realised_ltv_total,
        sum(realised_margin_ltv) as realised_margin_ltv_total,
        sum(completed_orders) as orders_to_date,
        sum(observed_alive_months) as lifetime_exposure_months,
        sum(own_expected_lifetime_months) as expected_lifetime_months_total
    from customer_segments
    group by as_of_snapshot, months_before_current, as_of_date, segment_type, segment_value

),

ratios as (

    select
        {%- for ratio in ['average_check', 'ltv_margin_rate', 'orders_per_month', 'monthly_revenue_per_customer',
            'expected_lifetime_months'] %}
            {{ segment_ratio(ratio) }} as {{ ratio }},
        {%- endfor %}
        segment_sums.*
    from segment_sums

),

estimates as (

    -- one row per horizon and estimator (formula A and B from the segment's ratios as of the date, each compared
    -- with the actual on its own scale)
    {%- for h in horizons %}
        {%- for formula in formula_estimators %}
            select
                as_of_snapshot,
                months_before_current,
                as_of_date,
                segment_type,
                segment_value,
                buyers,
                buyers_with_expected_lifetime,
                {{ h }} as horizon_months,
                '{{ formula.estimator }}' as estimator,
                '{{ formula.compared_with }}' as compared_with,
                is_observed_{{ h }}m as is_observed,
                {{ formula.macro(lifetime_months='expected_lifetime_months', **formula.ratios) }} as value_as_of,
                {{ formula.macro(lifetime_months='forward_lifetime_months_' ~ h ~ 'm', **formula.ratios) }}
                    as estimated_forward_value,
                {{ safe_divide('actual_' ~ formula.compared_with ~ '_next_' ~ h ~ 'm', 'buyers') }}
                    as actual_forward_value
            from ratios
            union all
        {%- endfor %}
        select
            ratios.as_of_snapshot,
            ratios.months_before_current,
            ratios.as_of_date,
            ratios.segment_type,
            ratios.segment_value,
            ratios.buyers,
            predicted.customers as buyers_with_expected_lifetime,
            {{ h }} as horizon_months,
            'predicted_clv' as estimator,
            'margin' as compared_with,
            ratios.is_observed_{{ h }}m as is_observed,
            cast(null as double) as value_as_of,
            {{ safe_divide('predicted.predicted_total', 'predicted.customers') }} as estimated_forward_value,
            {{ safe_divide('ratios.actual_margin_next_' ~ h ~ 'm', 'ratios.buyers') }} as actual_forward_value
        from ratios
        left join predicted
            on
                ratios.as_of_date = cast(predicted.as_of_date as date)
                and predicted.horizon_months = {{ h }}
                and ratios.segment_type = predicted.segment_type
                and ratios.segment_value = predicted.segment_value
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

with_intervals as (

    select
        estimates.*,
        {{ safe_divide('predicted.predicted_lower', 'predicted.customers') }} as interval_lower,
        {{ safe_divide('predicted.predicted_upper', 'predicted.customers') }} as interval_upper,
        predicted.is_covered,
        predicted.prediction_status
    from estimates
    left join predicted
        on
            estimates.estimator = 'predicted_clv'
            and estimates.as_of_date = cast(predicted.as_of_date as date)
            and estimates.horizon_months = predicted.horizon_months
            and estimates.segment_type = predicted.segment_type
            and estimates.segment_value = predicted.segment_value

),

statused as (

    select
        *,
        case
            when not is_observed then 'horizon_past_data_end'
            when estimated_forward_value is null and estimator = 'predicted_clv'
                then coalesce(prediction_status, 'not_predicted')
            when estimated_forward_value is null then 'not_estimable'
            when buyers_with_expected_lifetime < buyers then 'partly_estimated'
            else 'ok'
        end as backtest_status
    from with_intervals

),

final as (

    select
        {{ dbt.concat(["as_of_snapshot", "'|'", "cast(horizon_months as " ~ dbt.type_string() ~ ")", "'m|'",
            "segment_type", "':'", "segment_value", "'|'", "estimator"]) }} as backtest_key,
        as_of_snapshot,
        months_before_current,
        as_of_date,
        horizon_months,
        segment_type,
        segment_value,
        estimator,
        compared_with,
        buyers,
        value_as_of,
        estimated_forward_value,
        case when is_observed then actual_forward_value end as actual_forward_value,
        case when is_observed then {{ backtest_bias('estimated_forward_value', 'actual_forward_value') }} end
            as bias,
        case when is_observed then {{ backtest_absolute_error('estimated_forward_value', 'actual_forward_value') }}
        end as absolute_error,
        case when is_observed then {{ backtest_relative(backtest_bias('estimated_forward_value',
            'actual_forward_value'), 'actual_forward_value') }} end as relative_bias,
        case when is_observed then {{ backtest_relative(backtest_absolute_error('estimated_forward_value',
            'actual_forward_value'), 'actual_forward_value') }} end as relative_absolute_error,
        interval_lower,
        interval_upper,
        case when is_observed then is_covered end as is_covered,
        backtest_status
    from statused

)

select * from final
