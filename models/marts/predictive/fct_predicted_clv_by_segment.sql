-- One row per row of fct_ltv_by_segment (as-of snapshot x segment type x segment value, the same keys): the
-- predicted CLV of the segment's customers from the published BTYD fit - how many have a prediction, and the means
-- of their predicted CLV, P(alive) and model expected lifetime. The fit is made at the current as-of date only:
-- earlier snapshots carry no prediction (status current_as_of_date_only). It lives with the predictive marts, so a
-- fit that fails holds back only this mart, never fct_ltv_by_segment. Beside them: the 80% interval of the segment's
-- average predicted CLV (the library's segment sums, int_segments_clv_intervals) with the coverage the same kind of
-- interval had in the backtest, and the layer's best forward-value estimate of the segment - the value of the
-- estimator the backtest chose (fct_ltv_backtest_verdicts, question forward_value; formulas A and B stay in
-- fct_ltv_by_segment as the brief defines them). Definitions: docs/metrics.md ("Predictive CLV"), docs/backtest.md.
with

segments as (

    select * from {{ ref('fct_ltv_by_segment') }}

),

customers as (

    select * from {{ ref('int_customers_valued') }}

),

predictions as (

    select * from {{ ref('fct_customer_clv_predictions') }}

),

intervals as (

    select * from {{ ref('int_segments_clv_intervals') }}

),

backtest as (

    select * from {{ ref('fct_ltv_backtest') }}

),

verdicts as (

    select * from {{ ref('fct_ltv_backtest_verdicts') }}
    where question = 'forward_value' and is_verdict

),

backtest_coverage as (

    -- per segment type: the share of backtest cells whose predicted-CLV interval held the actual
    select
        segment_type,
        {{ mean_of("case when is_covered then 1.0 when not is_covered then 0.0 end") }} as interval_coverage
    from backtest
    where estimator = 'predicted_clv' and is_covered is not null
    group by segment_type

),

current_customers as (

    -- the customers as of the current as-of date (the one the models are fitted at), with their segment values
    select
        {{ segment_label_columns() }}
        customers.customer_id,
        customers.has_completed_order
    from customers
    where customers.is_current_as_of

),

customer_predictions as (

    select
        current_customers.*,
        predictions.predicted_clv,
        predictions.p_alive,
        predictions.own_model_expected_lifetime_months,
        predictions.prediction_status,
        case when predictions.is_predicted then 1 else 0 end as is_predicted
    from current_customers
    left join predictions on current_customers.customer_id = predictions.customer_id

),

customer_segments as (

    {{ segment_rows('customer_predictions') }}

),

segment_predictions as (

    select
        segment_type,
        segment_value,
        sum(is_predicted) as predicted_customers,
        avg(case when is_predicted = 1 then predicted_clv end) as average_predicted_clv,
        avg(case when is_predicted = 1 then p_alive end) as average_p_alive,
        avg(case when is_predicted = 1 then own_model_expected_lifetime_months end)
            as model_expected_lifetime_months,
        max(case when has_completed_order and is_predicted = 0 then prediction_status end) as prediction_failure
    from customer_segments
    group by segment_type, segment_value

),

with_predictions as (

    select
        segments.segment_key,
        segments.as_of_snapshot,
        segments.months_before_current,
        segments.as_of_date,
        segments.segment_type,
        segments.segment_value,
        segments.ltv_formula_a,
        segments.ltv_formula_b,
        coalesce(segment_predictions.predicted_customers, 0) as predicted_customers,
        segment_predictions.average_predicted_clv,
        segment_predictions.average_p_alive,
        segment_predictions.model_expected_lifetime_months,
        case
            when segments.months_before_current <> 0 then 'current_as_of_date_only'
            when segment_predictions.predicted_customers > 0 then 'ok'
            when segments.buyers = 0 then 'no_buyers'
            else coalesce(segment_predictions.prediction_failure, 'no_predictions')
        end as predicted_clv_status
    from segments
    left join segment_predictions
        on
            segments.months_before_current = 0
            and segments.segment_type = segment_predictions.segment_type
            and segments.segment_value = segment_predictions.segment_value

),

final as (

    select
        with_predictions.segment_key,
        with_predictions.as_of_snapshot,
        with_predictions.months_before_current,
        with_predictions.as_of_date,
        with_predictions.segment_type,
        with_predictions.segment_value,
        with_predictions.predicted_customers,
        with_predictions.average_predicted_clv,
        with_predictions.average_p_alive,
        with_predictions.model_expected_lifetime_months,
        with_predictions.predicted_clv_status,
        case
            when with_predictions.predicted_clv_status = 'ok'
                then {{ safe_divide('intervals.predicted_lower', 'intervals.customers') }}
        end as predicted_clv_lower,
        case
            when with_predictions.predicted_clv_status = 'ok'
                then {{ safe_divide('intervals.predicted_upper', 'intervals.customers') }}
        end as predicted_clv_upper,
        case
            when with_predictions.predicted_clv_status <> 'ok' then with_predictions.predicted_clv_status
            else coalesce(intervals.prediction_status, 'no_interval')
        end as predicted_clv_interval_status,
        backtest_coverage.interval_coverage as predicted_clv_interval_backtest_coverage,
        verdicts.estimator as best_forward_value_estimator,
        case verdicts.estimator
            when 'predicted_clv' then with_predictions.average_predicted_clv
            when 'formula_a' then with_predictions.ltv_formula_a
            when 'formula_b' then with_predictions.ltv_formula_b
        end as best_forward_value
    from with_predictions
    left join intervals
        on
            with_predictions.months_before_current = 0
            and with_predictions.segment_type = intervals.segment_type
            and with_predictions.segment_value = intervals.segment_value
    left join backtest_coverage on with_predictions.segment_type = backtest_coverage.segment_type
    -- the one verdict row (none when no estimator could be backtested: best_forward_value null)
    left join verdicts on 1 = 1

)

select * from final
