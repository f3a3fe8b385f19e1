-- One row per fit x model x stratum x parameter: the fitted BG/NBD and MBG/NBD (r, alpha, a, b), Pareto/NBD (r, alpha,
-- s, beta) and Gamma-Gamma (p, q, v) parameters with standard errors and the fit's log-likelihood, size, convergence,
-- time and status. stratum 'pooled' is the fit on every customer, else the acquisition channel a count model was also
-- fitted on; stratification says which scores the model's customers (the likelihood-ratio test of the calibration
-- fits, lr_statistic / lr_df / lr_p_value, at var clv_stratification_test_level). fit_name 'full' is fitted on
-- purchases up to as_of_date and scores fct_customer_clv_predictions;
-- 'calibration' on purchases up to the holdout split date and feeds fct_clv_holdout_validation and the model choice
-- (is_chosen_model). Null estimates with status_reason when a fit could not run. The fits are refitted on a cadence
-- (clvlayer.clv_refit): fitted_as_of_date, fit_reason and n_customers say when, why and on what each was made,
-- reused_this_run whether this run scored with the stored fit, decision_detail the figures the rule measured.
with

fits as (

    select * from {{ ref('int_clv_models_fitted') }}

),

settings as (

    select * from {{ ref('int_clv_settings_resolved') }}

),

selection as (

    select * from {{ ref('int_clv_model_selected') }}

),

final as (

    select
        fits.fit_name,
        fits.model,
        fits.stratum,
        -- the count model fct_customer_clv_predictions publishes; Gamma-Gamma (spend) goes with every count model
        coalesce(
            selection.chosen_model is not null and fits.model in (selection.chosen_model, 'gamma_gamma'), false
        ) as is_chosen_model,
        fits.parameter,
        fits.estimate,
        fits.standard_error,
        fits.log_likelihood,
        fits.n_customers,
        fits.n_patterns,
        fits.converged,
        fits.status,
        nullif(fits.status_reason, '') as status_reason,
        fits.fit_seconds,
        fits.freq_monetary_correlation,
        fits.penalizer,
        fits.stratification,
        fits.lr_statistic,
        fits.lr_df,
        fits.lr_p_value,
        case
            when fits.fit_name = 'calibration' then cast(fits.fitted_holdout_split_date as date)
            else cast(fits.fitted_as_of_date as date)
        end as fitted_through_date,
        cast(fits.fitted_as_of_date as date) as fitted_as_of_date,
        fits.fit_reason,
        fits.reused_this_run,
        settings.as_of_date as scored_as_of_date,
        fits.decision_detail,
        settings.time_unit
    from fits
    cross join settings
    cross join selection

)

select * from final
