-- One row per backtest as-of date x sampled buyer: the RFM summary as of that date (macro rfm_summary, the one the
-- predictive models fit on) with the buyer's segment of every segment type (int_customers_backtest_observed). The
-- input of int_segments_backtest_predicted, which fits the chosen count model and Gamma-Gamma per date: nothing
-- after the date is in it (the actuals are joined after the prediction, int_segments_backtest_scored), so its rows
-- of a date change only when the data up to the date does. At most var ltv_backtest_max_buyers buyers per date
-- (0 = all): those whose md5 of the customer id is lowest, the same buyers on every run and engine.
-- With each buyer, the date's own holdout (clvlayer.interval_calibration; null calibration_* for a buyer whose first
-- purchase is after the split): the RFM summary as of var clv_holdout_days before the date (calibration_*) and the
-- gross margin the buyer made after that split up to the date (holdout_margin), over holdout_length time units, and
-- the buyer's value tier at the split among every buyer by then (calibration_value_tier: macro value_tier on the
-- spend up to the split, the tier the build would have labelled then) - the model error of a fit at the date is
-- estimated on it, per segment type, with data up to the date only.
with

purchase_days as (

    select * from {{ ref('int_orders_merged_to_purchase_days') }}

),

settings as (

    select * from {{ ref('int_clv_settings_resolved') }}

),

observed as (

    select * from {{ ref('int_customers_backtest_observed') }}

),

ranked as (

    select
        as_of_date,
        customer_id,
        row_number() over (
            partition by as_of_date
            order by md5(cast(customer_id as {{ dbt.type_string() }})), customer_id
        ) as sample_rank
    from observed

),

sampled as (

    select
        as_of_date,
        customer_id
    from ranked
    {%- if var('ltv_backtest_max_buyers') | int > 0 %}
        where sample_rank <= {{ var('ltv_backtest_max_buyers') | int }}
    {%- endif %}

),

backtest_dates as (

    select
        as_of.as_of_date as backtest_as_of_date,
        settings.days_per_time_unit
    from (select distinct sampled.as_of_date from sampled) as as_of
    cross join settings

),

summaries as (

    {{ rfm_summary('purchase_days', 'backtest_dates', 'backtest_as_of_date') }}

),

holdout_splits as (

    -- per backtest date: the start of its own holdout, var clv_holdout_days before it
    select
        backtest_as_of_date,
        days_per_time_unit,
        {{ add_days('backtest_as_of_date', -1 * var('clv_holdout_days') | int) }} as holdout_split_date
    from backtest_dates

),

calibration_summaries as (

    {{ rfm_summary('purchase_days', 'holdout_splits', 'holdout_split_date') }}

),

calibration_tiers as (

    -- the value tier at the split, among every buyer by then
    select
        *,
        {{ value_tier('total_spend', 'as_of_date') }} as value_tier
    from calibration_summaries

),

calibration as (

    -- the RFM summary as of the split, keyed by the backtest date it belongs to
    select
        holdout_splits.backtest_as_of_date as as_of_date,
        calibration_tiers.customer_id,
        calibration_tiers.frequency as calibration_frequency,
        calibration_tiers.recency as calibration_recency,
        calibration_tiers.T as calibration_t,  -- noqa: CP02
        calibration_tiers.monetary_value as calibration_monetary_value,
        calibration_tiers.total_spend as calibration_total_spend,
        calibration_tiers.total_margin as calibration_total_margin,
        calibration_tiers.value_tier as calibration_value_tier,
        cast({{ days_between('holdout_splits.holdout_split_date', 'holdout_splits.backtest_as_of_date') }} as double)
        / holdout_splits.days_per_time_unit as holdout_length
    from calibration_tiers
    inner join holdout_splits on calibration_tiers.as_of_date = holdout_splits.holdout_split_date

),

holdout as (

    -- the gross margin each buyer made after the split, up to the backtest date
    select
        holdout_splits.backtest_as_of_date as as_of_date,
        purchase_days.customer_id,
        sum(purchase_days.gross_margin) as holdout_margin
    from purchase_days
    inner join holdout_splits
        on
            purchase_days.purchased_on > holdout_splits.holdout_split_date
            and purchase_days.purchased_on <= holdout_splits.backtest_as_of_date
    group by holdout_splits.backtest_as_of_date, purchase_days.customer_id

),

final as (

    select
        {%- for segment_type in ltv_segment_types() %}
            observed.segment_{{ segment_type }},
        {%- endfor %}
        summaries.*,
        calibration.calibration_frequency,
        calibration.calibration_recency,
        calibration.calibration_t,
        calibration.calibration_monetary_value,
        calibration.calibration_total_spend,
        calibration.calibration_total_margin,
        calibration.calibration_value_tier,
        calibration.holdout_length,
        case
            when calibration.customer_id is not null then coalesce(holdout.holdout_margin, 0)
        end as holdout_margin
    from summaries
    inner join sampled
        on summaries.as_of_date = sampled.as_of_date and summaries.customer_id = sampled.customer_id
    inner join observed
        on summaries.as_of_date = observed.as_of_date and summaries.customer_id = observed.customer_id
    left join calibration
        on summaries.as_of_date = calibration.as_of_date and summaries.customer_id = calibration.customer_id
    left join holdout
        on summaries.as_of_date = holdout.as_of_date and summaries.customer_id = holdout.customer_id

)

select * from final
order by as_of_date, customer_id
