-- One row: every setting the predictive CLV models use, resolved from vars and the data, so the SQL summaries and
-- the Python fitting models read the same values from one place.
--   as_of_date          var clv_as_of_date, else the customer as-of date (int_as_of_dates)
--   holdout_split_date  var clv_holdout_split_date, else as_of_date - clv_holdout_days
--   margin_rate         var clv_margin_rate, else gross margin / net revenue of purchases up to as_of_date
--   churn_risk_days     var churn_risk_days; churn_window_days: it, or the holdout length in days when shorter
--   forced_model        var clv_model (empty = the holdout rule chooses, docs block predictive_model_choice)
--   refit_*             when int_clv_models_fitted refits instead of reusing the stored fit (clvlayer.clv_refit)
--   parameters_from     var clv_parameters_from: a file of parameters to score with instead of fitting
--   stratify_by_channel, stratum_*, stratification_test_level: the per-channel count-model fits (clvlayer.clv_strata)
{{- check_settings(['clv_time_unit', 'clv_model', 'clv_interval_level', 'clv_interval_draws']) -}}
{%- set time_unit = var('clv_time_unit') -%}
{%- set as_of_date = "cast('" ~ var('clv_as_of_date') ~ "' as date)" if var('clv_as_of_date') else 'as_of_date' -%}
{%- set forced_model = var('clv_model') or '' -%}
{%- set interval_level = var('clv_interval_level') | float -%}
{%- set interval_draws = var('clv_interval_draws') | int %}
with

as_of_dates as (

    select * from {{ ref('int_as_of_dates') }}

),

purchase_days as (

    select * from {{ ref('int_orders_merged_to_purchase_days') }}

),

dates as (

    select {{ as_of_date }} as as_of_date
    from as_of_dates

),

split as (

    select
        as_of_date,
        {%- if var('clv_holdout_split_date') %}
            cast('{{ var("clv_holdout_split_date") }}' as date) as holdout_split_date
        {%- else %}
            cast({{ dbt.dateadd('day', -1 * var('clv_holdout_days') | int, 'as_of_date') }} as date)
                as holdout_split_date
        {%- endif %}
    from dates

),

holdout_window as (

    select
        as_of_date,
        holdout_split_date,
        {{ days_between('holdout_split_date', 'as_of_date') }} as holdout_days
    from split

),

observed_margin as (

    select {{ safe_divide('sum(purchase_days.gross_margin)', 'sum(purchase_days.spend)') }} as margin_rate
    from purchase_days
    cross join dates
    where purchase_days.purchased_on <= dates.as_of_date

),

final as (

    select
        holdout_window.as_of_date,
        holdout_window.holdout_split_date,
        '{{ time_unit }}' as time_unit,
        {{ days_per_time_unit() }} as days_per_time_unit,
        cast({{ var('days_per_month') }} as double) / {{ days_per_time_unit() }} as time_units_per_month,
        cast(holdout_window.holdout_days as double) / {{ days_per_time_unit() }} as holdout_length,
        cast({{ var('clv_horizon_months') }} as integer) as horizon_months,
        cast({{ var('churn_risk_days') }} as integer) as churn_risk_days,
        -- the holdout's churn-risk window: churn_risk_days, or the holdout when it is shorter
        cast(least({{ var('churn_risk_days') }}, holdout_window.holdout_days) as integer) as churn_window_days,
        cast({{ var('clv_monthly_discount_rate') }} as double) as monthly_discount_rate,
        {%- if var('clv_margin_rate') != '' %}
            cast({{ var('clv_margin_rate') }} as double) as margin_rate,
            'var clv_margin_rate' as margin_rate_source,
        {%- else %}
            coalesce(observed_margin.margin_rate, cast({{ var('gross_margin_rate') }} as double)) as margin_rate,
            case
                when observed_margin.margin_rate is null then 'var gross_margin_rate (no purchases)'
                else 'observed margin of purchases up to as_of_date'
            end as margin_rate_source,
        {%- endif %}
        cast({{ var('clv_min_customers') }} as integer) as min_customers,
        cast({{ var('clv_min_repeat_customers') }} as integer) as min_repeat_customers,
        cast({{ var('clv_penalizer') }} as double) as penalizer,
        {{ 'true' if var('clv_stratify_by_channel') else 'false' }} as stratify_by_channel,
        cast({{ var('clv_stratum_min_customers') }} as integer) as stratum_min_customers,
        cast({{ var('clv_stratum_min_repeat_customers') }} as integer) as stratum_min_repeat_customers,
        cast({{ var('clv_stratification_test_level') }} as double) as stratification_test_level,
        cast({{ interval_level }} as double) as interval_level,
        cast({{ interval_draws }} as integer) as interval_draws,
        cast(nullif('{{ forced_model }}', '') as {{ dbt.type_string() }}) as forced_model,
        cast({{ var('clv_refit_every_days') }} as integer) as refit_every_days,
        cast({{ var('clv_refit_new_customer_share') }} as double) as refit_new_customer_share,
        cast({{ var('clv_refit_holdout_error_increase') }} as double) as refit_holdout_error_increase,
        lower('{{ var("clv_refit") }}') = 'true' as refit_requested,
        cast(
            nullif('{{ var("clv_parameters_from") }}', '') as {{ dbt.type_string() }}
        ) as parameters_from
    from holdout_window
    cross join observed_margin

)

select * from final
