-- One row per backtest as-of date x horizon x segment (every segment type): the stored prediction of
-- int_segments_backtest_predicted (the margin sum of the segment's sampled buyers over the horizon, with its
-- interval) joined after the fact with what those buyers actually made (int_customers_backtest_observed) and
-- whether the interval covered it. The actuals grow every night; the predictions do not, so keeping them apart
-- lets the predictions be reused. A horizon that ends after the data's end has no actual: actual_total and
-- is_covered null, prediction_status horizon_past_data_end (a failed fit keeps its reason).
{%- set horizons = ltv_backtest_horizons() %}
with

predicted as (

    select * from {{ ref('int_segments_backtest_predicted') }}

),

sample as (

    select * from {{ ref('int_customers_rfm_backtest') }}

),

observed as (

    select * from {{ ref('int_customers_backtest_observed') }}

),

sampled_actuals as (

    -- the sampled buyers (the ones predicted), their segments and what they made after the date
    select
        {%- for segment_type in ltv_segment_types() %}
            sample.segment_{{ segment_type }},
        {%- endfor %}
        {%- for h in horizons %}
            observed.is_observed_{{ h }}m,
            observed.actual_margin_next_{{ h }}m,
        {%- endfor %}
        sample.as_of_date
    from sample
    inner join observed
        on sample.as_of_date = observed.as_of_date and sample.customer_id = observed.customer_id

),

buyer_segments as (

    {{ segment_rows('sampled_actuals') }}

),

segment_actuals as (

    -- per date x horizon x segment: the actual margin sum (a missing label reads 'unknown', as in the prediction)
    {%- for h in horizons %}
        select
            as_of_date,
            segment_type,
            coalesce(segment_value, 'unknown') as segment_value,
            {{ h }} as horizon_months,
            bool_and(is_observed_{{ h }}m) as is_observed,
            sum(actual_margin_next_{{ h }}m) as actual_total
        from buyer_segments
        group by as_of_date, segment_type, coalesce(segment_value, 'unknown')
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

final as (

    select
        cast(predicted.as_of_date as date) as as_of_date,
        predicted.horizon_months,
        predicted.model,
        predicted.segment_type,
        predicted.segment_value,
        predicted.customers,
        predicted.predicted_total,
        predicted.predicted_lower,
        predicted.predicted_upper,
        case when segment_actuals.is_observed then segment_actuals.actual_total end as actual_total,
        case
            when segment_actuals.is_observed
                then
                    predicted.predicted_lower <= segment_actuals.actual_total
                    and segment_actuals.actual_total <= predicted.predicted_upper
        end as is_covered,
        predicted.fit_seconds,
        case
            when predicted.prediction_status = 'ok' and not segment_actuals.is_observed
                then 'horizon_past_data_end'
            else predicted.prediction_status
        end as prediction_status
    from predicted
    left join segment_actuals
        on
            cast(predicted.as_of_date as date) = segment_actuals.as_of_date
            and predicted.horizon_months = segment_actuals.horizon_months
            and predicted.segment_type = segment_actuals.segment_type
            and predicted.segment_value = segment_actuals.segment_value

)

select * from final
