-- One row per question x estimator: how well each forward-looking value answered the question in the backtest on
-- this data (fct_ltv_backtest, the cells with an actual), and which one the layer says to trust (is_verdict, the
-- rule in DECISIONLOG.md "Which value to trust"):
--   compare_channels  channel segments; the mean over backtest dates and horizons of the rank correlation between
--                     estimate and actual across channels (higher is better; ties: lower relative error)
--   forecast_cohort   cohort-month segments; mean relative absolute error (lower is better)
--   cac_ceiling       channel segments, margin estimators only, the longest horizon with an actual; mean relative
--                     absolute error (lower is better)
--   forward_value     every segment type; mean relative absolute error: the estimator fct_predicted_clv_by_segment
--                     publishes as the best forward-value estimate
with

backtest as (

    select * from {{ ref('fct_ltv_backtest') }}
    where backtest_status in ('ok', 'partly_estimated')

),

longest_channel_horizon as (

    select max(horizon_months) as horizon_months
    from backtest
    where segment_type = 'acquisition_channel'

),

cells as (

    select
        'compare_channels' as question,
        backtest.*
    from backtest
    where backtest.segment_type = 'acquisition_channel'
    union all
    select
        'forecast_cohort' as question,
        backtest.*
    from backtest
    where backtest.segment_type = 'cohort_month'
    union all
    select
        'cac_ceiling' as question,
        backtest.*
    from backtest
    where
        backtest.segment_type = 'acquisition_channel'
        and backtest.compared_with = 'margin'
        and backtest.horizon_months = (select longest_channel_horizon.horizon_months from longest_channel_horizon)
    union all
    select
        'forward_value' as question,
        backtest.*
    from backtest

),

ranked as (

    select
        *,
        rank() over (
            partition by question, as_of_date, horizon_months, estimator order by estimated_forward_value
        ) as estimate_rank,
        rank() over (
            partition by question, as_of_date, horizon_months, estimator order by actual_forward_value
        ) as actual_rank
    from cells

),

rank_correlations as (

    select
        question,
        estimator,
        as_of_date,
        horizon_months,
        corr(estimate_rank, actual_rank) as rank_correlation
    from ranked
    group by question, estimator, as_of_date, horizon_months

),

scores as (

    select
        cells.question,
        cells.estimator,
        min(cells.compared_with) as compared_with,
        count(*) as cells,
        avg(cells.relative_absolute_error) as mean_relative_absolute_error,
        avg(cells.relative_bias) as mean_relative_bias,
        {{ mean_of("case when cells.is_covered then 1.0 when not cells.is_covered then 0.0 end") }} as interval_coverage
    from cells
    group by cells.question, cells.estimator

),

mean_rank_correlations as (

    select
        question,
        estimator,
        avg(rank_correlation) as rank_correlation
    from rank_correlations
    group by question, estimator

),

with_correlations as (

    select
        scores.*,
        mean_rank_correlations.rank_correlation
    from scores
    left join mean_rank_correlations
        on scores.question = mean_rank_correlations.question and scores.estimator = mean_rank_correlations.estimator

),

final as (

    select
        question,
        estimator,
        compared_with,
        cells,
        mean_relative_absolute_error,
        mean_relative_bias,
        rank_correlation,
        interval_coverage,
        row_number() over (
            partition by question
            order by
                case when question = 'compare_channels' then -coalesce(rank_correlation, -2) else 0 end,
                mean_relative_absolute_error,
                estimator
        ) = 1 as is_verdict
    from with_correlations

)

select * from final
