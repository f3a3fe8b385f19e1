-- One row per fit x model x parameter: the fitted BG/NBD (r, alpha, a, b) and Gamma-Gamma (p, q, v) parameters
-- with the fit's log-likelihood, size, convergence, time and status. fit_name 'full' is fitted on purchases up
-- to as_of_date and scores fct_customer_clv_predictions; 'calibration' on purchases up to the holdout split date
-- and feeds fct_clv_holdout_validation. Null estimates with status_reason when a fit could not run.
with

fits as (

    select * from {{ ref('int_clv_models_fitted') }}

),

settings as (

    select * from {{ ref('int_clv_settings_resolved') }}

),

final as (

    select
        fits.fit_name,
        fits.model,
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
        case
            when fits.fit_name = 'calibration' then settings.holdout_split_date else settings.as_of_date
        end as fitted_through_date,
        settings.time_unit
    from fits
    cross join settings

)

select * from final
