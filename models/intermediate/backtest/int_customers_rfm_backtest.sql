-- One row per backtest as-of date x buyer: the RFM summary as of that date (macro rfm_summary, the one the
-- predictive models fit on) with the buyer's segment of every segment type and the margin actually made in each
-- backtest horizon after the date (int_customers_backtest_observed; null past the data's end). The input of
-- int_segments_backtest_predicted, which fits the chosen count model and Gamma-Gamma per date.
{%- set horizons = ltv_backtest_horizons() %}
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

backtest_dates as (

    select
        as_of.as_of_date as backtest_as_of_date,
        settings.days_per_time_unit
    from (select distinct as_of_date from observed) as as_of
    cross join settings

),

summaries as (

    {{ rfm_summary('purchase_days', 'backtest_dates', 'backtest_as_of_date') }}

),

final as (

    select
        {%- for segment_type in ltv_segment_types() %}
            observed.segment_{{ segment_type }},
        {%- endfor %}
        {%- for h in horizons %}
            observed.actual_margin_next_{{ h }}m,
        {%- endfor %}
        summaries.*
    from summaries
    inner join observed
        on summaries.as_of_date = observed.as_of_date and summaries.customer_id = observed.customer_id

)

select * from final
order by as_of_date, customer_id
