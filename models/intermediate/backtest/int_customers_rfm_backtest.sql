-- One row per backtest as-of date x sampled buyer: the RFM summary as of that date (macro rfm_summary, the one the
-- predictive models fit on) with the buyer's segment of every segment type (int_customers_backtest_observed). The
-- input of int_segments_backtest_predicted, which fits the chosen count model and Gamma-Gamma per date: nothing
-- after the date is in it (the actuals are joined after the prediction, int_segments_backtest_scored), so its rows
-- of a date change only when the data up to the date does. At most var ltv_backtest_max_buyers buyers per date
-- (0 = all): those whose md5 of the customer id is lowest, the same buyers on every run and engine.
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

final as (

    select
        {%- for segment_type in ltv_segment_types() %}
            observed.segment_{{ segment_type }},
        {%- endfor %}
        summaries.*
    from summaries
    inner join sampled
        on summaries.as_of_date = sampled.as_of_date and summaries.customer_id = sampled.customer_id
    inner join observed
        on summaries.as_of_date = observed.as_of_date and summaries.customer_id = observed.customer_id

)

select * from final
order by as_of_date, customer_id
