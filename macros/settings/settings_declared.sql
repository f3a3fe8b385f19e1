{#- Generated from settings.yml by `python -m clvlayer.settings --write`: do not edit. The declarations of every var,
    read by check_settings (macros/settings/check_settings.sql). -#}
{% macro settings_declared() -%}
{%- set text -%}{% raw %}{
 "order": [
  "raw_data_dir",
  "input_manifest",
  "input_encoding",
  "csv_delimiter",
  "csv_quote",
  "csv_escape",
  "decimal_separator",
  "null_tokens",
  "input_time_zone",
  "date_order",
  "extra_timestamp_formats",
  "valid_from_date",
  "future_tolerance_days",
  "max_amount",
  "max_quantity",
  "reporting_currency",
  "fx_rates_to_reporting",
  "max_quarantined_share",
  "quarantine_threshold_severity",
  "as_of_date",
  "clv_as_of_date",
  "clv_holdout_split_date",
  "reference_date",
  "gross_margin_rate",
  "ltv_previous_periods_months",
  "days_per_month",
  "clv_horizon_months",
  "clv_monthly_discount_rate",
  "frequency_min_tenure_days",
  "lifetime_min_at_risk",
  "lifetime_min_curve_buyers",
  "lifetime_fit_step_days",
  "lifetime_fit_grid_steps",
  "lifetime_fit_shape_range",
  "lifetime_fit_scale_range_days",
  "lifetime_return_max_order_bucket",
  "ltv_young_tenure_months",
  "clv_model",
  "clv_interval_level",
  "clv_interval_draws",
  "clv_time_unit",
  "clv_holdout_days",
  "clv_margin_rate",
  "clv_min_customers",
  "clv_min_repeat_customers",
  "clv_penalizer",
  "clv_stratify_by_channel",
  "clv_stratum_min_customers",
  "clv_stratum_min_repeat_customers",
  "clv_stratification_test_level",
  "churn_risk_days",
  "churn_risk_medium_from",
  "churn_risk_high_from",
  "clv_refit_every_days",
  "clv_refit_new_customer_share",
  "clv_refit_holdout_error_increase",
  "clv_refit",
  "clv_parameters_from",
  "rfm_segment_rules",
  "value_tier_shares",
  "cvm_new_days",
  "cvm_active_days",
  "cvm_lapsed_days",
  "cvm_vip_value_tier",
  "cvm_stage_actions",
  "next_purchase_min_segment_customers",
  "reorder_lead_days",
  "reorder_grace_days",
  "launch_penetration_window_days",
  "first_product_top_n",
  "first_order_value_bands",
  "analysis_top_n",
  "reorder_segment_column",
  "reorder_segment_value",
  "ltv_backtest_months_before",
  "ltv_backtest_horizons_months",
  "ltv_backtest_max_buyers",
  "audiences",
  "custom_audiences",
  "audience_holdout_share",
  "audience_wave",
  "lift_window_days"
 ],
 "vars": {
  "raw_data_dir": {
   "type": "string",
   "default": "",
   "env": "RAW_DATA_DIR",
   "cli_only": true,
   "meaning": "Folder of your own files (<table>.parquet or <table>.csv); empty = the embedded sample (seeds).",
   "group": "input",
   "requirement": "a string"
  },
  "input_manifest": {
   "type": "string",
   "default": "",
   "env": "CLV_INPUT_MANIFEST",
   "cli_only": true,
   "meaning": "The resolved-input manifest (JSON) for the folder: passed by the clv CLI, else made by the profile's plugin (clvlayer.dbt_plugin) for plain dbt; dbt reads files only through it.",
   "group": "input",
   "requirement": "a string"
  },
  "input_encoding": {
   "type": "string",
   "default": "auto",
   "meaning": "CSV encoding: auto (byte-order mark, else UTF-8 when valid, else cp1252) or a Python codec name.",
   "test_value": "utf-8",
   "group": "input",
   "requirement": "a string"
  },
  "csv_delimiter": {
   "type": "string",
   "default": "auto",
   "meaning": "CSV delimiter: auto = the one of , ; tab | that splits the header into the contract's column names.",
   "test_value": ";",
   "group": "input",
   "requirement": "a string"
  },
  "csv_quote": {
   "type": "string",
   "default": "\"",
   "meaning": "CSV quote character (fixed, never sniffed).",
   "test_value": "'",
   "group": "input",
   "requirement": "a string"
  },
  "csv_escape": {
   "type": "string",
   "default": "\"",
   "meaning": "CSV escape character (fixed, never sniffed).",
   "test_value": "\\",
   "group": "input",
   "requirement": "a string"
  },
  "decimal_separator": {
   "type": "string",
   "allowed": [
    ".",
    ","
   ],
   "default": ".",
   "meaning": "Decimal separator of amounts (\",\" reads \"12,50\" as 12.50); thousands separators never parse.",
   "group": "input",
   "requirement": "one of \".\", \",\""
  },
  "null_tokens": {
   "type": "list",
   "items": {
    "type": "string"
   },
   "default": [
    "",
    "null",
    "none",
    "nan",
    "n/a",
    "#n/a",
    "\\N",
    "nil",
    "undefined"
   ],
   "meaning": "Values meaning missing in every column (case-insensitive, after trimming spaces and quotes).",
   "test_value": [
    "",
    "null",
    "-"
   ],
   "group": "input",
   "requirement": "a list, each item a string"
  },
  "input_time_zone": {
   "type": "string",
   "default": "UTC",
   "meaning": "Time zone of timestamps written without an offset (those with one are honoured); all stored in UTC.",
   "check": "time_zone",
   "test_value": "Europe/Warsaw",
   "group": "input",
   "requirement": "a string"
  },
  "date_order": {
   "type": "string",
   "allowed": [
    "DMY",
    "MDY",
    "reject"
   ],
   "case_insensitive": true,
   "default": "reject",
   "meaning": "Day/month order of a date column that reads both ways; reject quarantines them as ambiguous_<column>.",
   "group": "input",
   "requirement": "one of DMY, MDY, reject (any case)"
  },
  "extra_timestamp_formats": {
   "type": "list",
   "items": {
    "type": "string"
   },
   "default": [
    "%Y%m%d",
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y.%m.%d",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y",
    "%m-%d-%Y",
    "%d %b %Y",
    "%b %d, %Y"
   ],
   "meaning": "Non-ISO timestamp formats tried (strptime); day-first and month-first ones are chosen per column.",
   "test_value": [
    "%Y%m%d",
    "%d/%m/%Y"
   ],
   "group": "input",
   "requirement": "a list, each item a string"
  },
  "valid_from_date": {
   "type": "date",
   "default": "1990-01-01",
   "meaning": "Timestamps before this date are quarantined.",
   "test_value": "2000-01-01",
   "group": "input",
   "requirement": "a date (YYYY-MM-DD)"
  },
  "future_tolerance_days": {
   "type": "integer",
   "min": 0,
   "default": 2,
   "meaning": "Timestamps later than reference_date plus this many days are quarantined.",
   "group": "input",
   "requirement": "a whole number >= 0"
  },
  "max_amount": {
   "type": "number",
   "above": 0,
   "default": 1000000000,
   "meaning": "Amounts above this are quarantined.",
   "group": "input",
   "requirement": "a number > 0"
  },
  "max_quantity": {
   "type": "number",
   "above": 0,
   "default": 100000,
   "meaning": "Quantities above this are quarantined.",
   "group": "input",
   "requirement": "a number > 0"
  },
  "reporting_currency": {
   "type": "string",
   "default": "USD",
   "meaning": "Currency every amount is reported in; orders without a currency are assumed to be in it.",
   "test_value": "EUR",
   "group": "input",
   "requirement": "a string"
  },
  "fx_rates_to_reporting": {
   "type": "mapping",
   "values": {
    "type": "number",
    "above": 0
   },
   "default": {},
   "meaning": "Rates to the reporting currency of other accepted currencies (e.g. {EUR 1.08}); others are quarantined.",
   "test_value": {
    "GBP": 1.25
   },
   "group": "input",
   "requirement": "a mapping (each value a number > 0)"
  },
  "max_quarantined_share": {
   "type": "number",
   "min": 0,
   "max": 1,
   "default": 0.05,
   "meaning": "Share of a table's raw rows that may be quarantined before the audit complains.",
   "group": "input",
   "requirement": "a number from 0 to 1"
  },
  "quarantine_threshold_severity": {
   "type": "string",
   "allowed": [
    "error",
    "warn"
   ],
   "default": "error",
   "meaning": "How the audit complains above max_quarantined_share (error = the build is not published).",
   "group": "input",
   "requirement": "one of error, warn"
  },
  "as_of_date": {
   "type": "date",
   "optional": true,
   "empty": "the date of the last clean order",
   "default": "",
   "meaning": "Customer as-of date: customer metrics count orders up to it (refunds are netted whenever they arrive).",
   "test_value": "2024-06-30",
   "group": "dates",
   "requirement": "empty (the date of the last clean order) or a date (YYYY-MM-DD)"
  },
  "clv_as_of_date": {
   "type": "date",
   "optional": true,
   "empty": "as_of_date",
   "default": "",
   "meaning": "Calibration end of the predictive models: they are fitted on purchases up to it; not after as_of_date.",
   "test_value": "2024-06-30",
   "group": "dates",
   "requirement": "empty (as_of_date) or a date (YYYY-MM-DD)"
  },
  "clv_holdout_split_date": {
   "type": "date",
   "optional": true,
   "empty": "the calibration end minus clv_holdout_days",
   "default": "",
   "meaning": "Holdout start: the holdout refit uses purchases before it; must be before the calibration end.",
   "test_value": "2024-01-31",
   "group": "dates",
   "requirement": "empty (the calibration end minus clv_holdout_days) or a date (YYYY-MM-DD)"
  },
  "reference_date": {
   "type": "date",
   "optional": true,
   "empty": "the date of the build",
   "default": "",
   "meaning": "Input check's today: timestamps after it + future_tolerance_days are quarantined (no metric uses it).",
   "test_value": "2030-01-01",
   "group": "dates",
   "requirement": "empty (the date of the build) or a date (YYYY-MM-DD)"
  },
  "gross_margin_rate": {
   "type": "number",
   "min": 0,
   "max": 1,
   "default": 0.3,
   "meaning": "Gross margin rate assumed where no item costs exist.",
   "group": "metrics",
   "requirement": "a number from 0 to 1"
  },
  "ltv_previous_periods_months": {
   "type": "list",
   "items": {
    "type": "integer",
    "min": 1
   },
   "default": [
    3
   ],
   "meaning": "The LTV layer is also computed as of these many months before the as-of date ([] = the as-of date only).",
   "group": "metrics",
   "requirement": "a list, each item a whole number >= 1"
  },
  "days_per_month": {
   "type": "number",
   "min": 28,
   "max": 31,
   "default": 30.4375,
   "meaning": "Days in the average month, to turn day counts into months (365.25 / 12).",
   "group": "metrics",
   "requirement": "a number from 28 to 31"
  },
  "clv_horizon_months": {
   "type": "integer",
   "min": 1,
   "default": 36,
   "meaning": "Horizon of every forward-looking value (expected lifetime cap, discounted CLV, predicted CLV), months.",
   "group": "metrics",
   "requirement": "a whole number >= 1"
  },
  "clv_monthly_discount_rate": {
   "type": "number",
   "min": 0,
   "default": 0.01,
   "meaning": "Discount rate per month for discounted and predicted CLV.",
   "group": "metrics",
   "requirement": "a number >= 0"
  },
  "frequency_min_tenure_days": {
   "type": "integer",
   "min": 1,
   "default": 90,
   "meaning": "Orders per year is annualised only for buyers with at least this many days of tenure (else null).",
   "group": "metrics",
   "requirement": "a whole number >= 1"
  },
  "lifetime_min_at_risk": {
   "type": "integer",
   "min": 1,
   "default": 30,
   "meaning": "The survival curve is read from the data up to the last day with at least this many buyers at risk.",
   "group": "lifetime",
   "requirement": "a whole number >= 1"
  },
  "lifetime_min_curve_buyers": {
   "type": "integer",
   "min": 1,
   "default": 200,
   "meaning": "An acquisition channel with fewer buyers than this uses the all-channel survival curve.",
   "group": "lifetime",
   "requirement": "a whole number >= 1"
  },
  "lifetime_fit_step_days": {
   "type": "integer",
   "min": 1,
   "default": 7,
   "meaning": "The cure-Lomax fits of the return gaps and of the survival tail read every this-many-th day.",
   "group": "lifetime",
   "requirement": "a whole number >= 1"
  },
  "lifetime_fit_grid_steps": {
   "type": "integer",
   "min": 1,
   "default": 50,
   "meaning": "Grid values per parameter (log-spaced over each range) of the cure-Lomax fits' shape and scale.",
   "group": "lifetime",
   "requirement": "a whole number >= 1"
  },
  "lifetime_fit_shape_range": {
   "type": "list",
   "items": {
    "type": "number",
    "above": 0
   },
   "default": [
    0.1,
    5.0
   ],
   "meaning": "Lowest and highest Lomax shape of the fit grid.",
   "test_value": [
    0.2,
    4.0
   ],
   "group": "lifetime",
   "requirement": "a list, each item a number > 0"
  },
  "lifetime_fit_scale_range_days": {
   "type": "list",
   "items": {
    "type": "number",
    "above": 0
   },
   "default": [
    1.0,
    5000.0
   ],
   "meaning": "Lowest and highest Lomax scale (days) of the fit grid.",
   "test_value": [
    2.0,
    4000.0
   ],
   "group": "lifetime",
   "requirement": "a list, each item a number > 0"
  },
  "lifetime_return_max_order_bucket": {
   "type": "integer",
   "min": 1,
   "default": 3,
   "meaning": "Orders so far above this share one bucket of the return probability (int_return_rates_estimated).",
   "group": "lifetime",
   "requirement": "a whole number >= 1"
  },
  "ltv_young_tenure_months": {
   "type": "integer",
   "min": 1,
   "default": 9,
   "meaning": "A segment most of whose buyers have less tenure than this is published as too young to compare.",
   "group": "lifetime",
   "requirement": "a whole number >= 1"
  },
  "clv_model": {
   "type": "string",
   "allowed": [
    "bgnbd",
    "mbgnbd",
    "paretonbd"
   ],
   "optional": true,
   "empty": "chosen on the holdout",
   "default": "",
   "meaning": "The count model published in fct_customer_clv_predictions; empty = the best holdout log-likelihood.",
   "group": "predictive",
   "requirement": "empty (chosen on the holdout) or one of bgnbd, mbgnbd, paretonbd"
  },
  "clv_interval_level": {
   "type": "number",
   "above": 0,
   "below": 1,
   "default": 0.8,
   "meaning": "Central level of the per-customer prediction intervals.",
   "group": "predictive",
   "requirement": "a number strictly between 0 and 1"
  },
  "clv_interval_draws": {
   "type": "integer",
   "min": 1,
   "default": 30,
   "meaning": "Parameter draws from the fit's asymptotic normal that carry parameter uncertainty into the intervals.",
   "group": "predictive",
   "requirement": "a whole number >= 1"
  },
  "clv_time_unit": {
   "type": "string",
   "allowed": [
    "day",
    "week"
   ],
   "default": "day",
   "meaning": "Time unit of frequency / recency / T (week = 7 days, fractional); same-day orders merge.",
   "group": "predictive",
   "requirement": "one of day, week"
  },
  "clv_holdout_days": {
   "type": "integer",
   "min": 1,
   "default": 182,
   "meaning": "Holdout length in days before the calibration end, unless clv_holdout_split_date is set.",
   "group": "predictive",
   "requirement": "a whole number >= 1"
  },
  "clv_margin_rate": {
   "type": "number",
   "min": 0,
   "max": 1,
   "optional": true,
   "empty": "the observed margin rate of the calibration orders",
   "default": "",
   "meaning": "Margin rate of predicted CLV.",
   "group": "predictive",
   "requirement": "empty (the observed margin rate of the calibration orders) or a number from 0 to 1"
  },
  "clv_min_customers": {
   "type": "integer",
   "min": 1,
   "default": 100,
   "meaning": "A count-model fit needs at least this many customers (else null parameters with the reason).",
   "group": "predictive",
   "requirement": "a whole number >= 1"
  },
  "clv_min_repeat_customers": {
   "type": "integer",
   "min": 1,
   "default": 20,
   "meaning": "A Gamma-Gamma fit needs at least this many repeat customers (else null parameters with the reason).",
   "group": "predictive",
   "requirement": "a whole number >= 1"
  },
  "clv_penalizer": {
   "type": "number",
   "min": 0,
   "default": 0.0,
   "meaning": "L2 penalty on the parameters (lifetimes' penalizer_coef); 0 = plain maximum likelihood.",
   "group": "predictive",
   "requirement": "a number >= 0"
  },
  "clv_stratify_by_channel": {
   "type": "boolean",
   "default": false,
   "meaning": "Fit each count model per acquisition channel too, and score a channel's customers with its own fit when the likelihood-ratio test of the calibration fits rejects the pooled fit (false = the pooled fit only). Off by default until the segment intervals and the backtest's refits follow the channel's fit (docs/predictive.md).",
   "test_value": true,
   "group": "predictive",
   "requirement": "true or false"
  },
  "clv_stratum_min_customers": {
   "type": "integer",
   "min": 1,
   "default": 500,
   "meaning": "An acquisition channel gets its own count-model fits with at least this many customers (else its customers are scored by the pooled fit).",
   "group": "predictive",
   "requirement": "a whole number >= 1"
  },
  "clv_stratum_min_repeat_customers": {
   "type": "integer",
   "min": 0,
   "default": 100,
   "meaning": "An acquisition channel gets its own count-model fits only when at least this many of its customers bought again (frequency > 0).",
   "group": "predictive",
   "requirement": "a whole number >= 0"
  },
  "clv_stratification_test_level": {
   "type": "number",
   "above": 0,
   "below": 1,
   "default": 0.01,
   "meaning": "Level of the likelihood-ratio test of the per-channel fits against the pooled fit: stratified when its p-value is below it.",
   "group": "predictive",
   "requirement": "a number strictly between 0 and 1"
  },
  "churn_risk_days": {
   "type": "integer",
   "min": 1,
   "default": 90,
   "meaning": "Churn risk = P(no purchase in the next this many days) from the chosen count model (closed form).",
   "group": "predictive",
   "requirement": "a whole number >= 1"
  },
  "churn_risk_medium_from": {
   "type": "number",
   "min": 0,
   "max": 1,
   "default": 0.5,
   "meaning": "Churn risk band medium from this probability (low below it); at most churn_risk_high_from.",
   "test_value": 0.4,
   "group": "predictive",
   "requirement": "a number from 0 to 1"
  },
  "churn_risk_high_from": {
   "type": "number",
   "min": 0,
   "max": 1,
   "default": 0.8,
   "meaning": "Churn risk band high from this probability of no purchase in the next churn_risk_days days.",
   "test_value": 0.9,
   "group": "predictive",
   "requirement": "a number from 0 to 1"
  },
  "clv_refit_every_days": {
   "type": "integer",
   "min": 0,
   "default": 7,
   "meaning": "Refit the models when this many days passed since the stored fit's as-of date (0 = every run); between refits each run scores with the stored parameters (docs/predictive.md).",
   "group": "predictive",
   "requirement": "a whole number >= 0"
  },
  "clv_refit_new_customer_share": {
   "type": "number",
   "min": 0,
   "max": 1,
   "default": 0.05,
   "meaning": "Refit when more than this share of the customers first bought after the stored fit's as-of date.",
   "group": "predictive",
   "requirement": "a number from 0 to 1"
  },
  "clv_refit_holdout_error_increase": {
   "type": "number",
   "min": 0,
   "default": 0.05,
   "meaning": "Refit when the stored calibration fits' |relative error| on this run's holdout window grew by more than this (0.05 = 5 points) since the fit (best count model).",
   "group": "predictive",
   "requirement": "a number >= 0"
  },
  "clv_refit": {
   "type": "string",
   "default": "false",
   "env": "CLV_REFIT",
   "meaning": "true = refit on this run whatever the cadence (clv build --refit sets it; the environment variable keeps an incremental run incremental).",
   "test_value": "true",
   "group": "predictive",
   "requirement": "a string"
  },
  "clv_parameters_from": {
   "type": "string",
   "optional": true,
   "empty": "fitted (or reused) in the warehouse",
   "default": "",
   "meaning": "A parquet or CSV file of int_clv_models_fitted rows to score with instead of fitting (a full build given the parameters a reusing run used).",
   "test_value": "parameters.parquet",
   "group": "predictive",
   "requirement": "empty (fitted (or reused) in the warehouse) or a string"
  },
  "rfm_segment_rules": {
   "type": "list",
   "items": {
    "type": "mapping",
    "keys": [
     "segment",
     "r_min",
     "r_max",
     "f_min",
     "f_max",
     "m_min",
     "m_max"
    ],
    "required_keys": [
     "segment"
    ]
   },
   "default": [
    {
     "segment": "champions",
     "r_min": 4,
     "f_min": 4,
     "m_min": 4
    },
    {
     "segment": "loyal",
     "r_min": 3,
     "f_min": 4
    },
    {
     "segment": "new",
     "r_min": 4,
     "f_max": 1
    },
    {
     "segment": "potential_loyalists",
     "r_min": 4,
     "f_min": 2,
     "f_max": 3
    },
    {
     "segment": "needs_attention",
     "r_min": 3,
     "r_max": 3
    },
    {
     "segment": "at_risk",
     "r_max": 2,
     "f_min": 3
    },
    {
     "segment": "hibernating",
     "r_min": 2,
     "r_max": 2
    },
    {
     "segment": "lost",
     "r_max": 1
    }
   ],
   "meaning": "RFM segments on the 1-5 scores: the first rule a customer matches names it (bounds inclusive).",
   "test_value": [
    {
     "segment": "best",
     "r_min": 4,
     "f_min": 4
    },
    {
     "segment": "rest"
    }
   ],
   "group": "segments",
   "requirement": "a list, each item a mapping (keys segment; keys among segment, r_min, r_max, f_min, f_max, m_min, m_max)"
  },
  "value_tier_shares": {
   "type": "mapping",
   "values": {
    "type": "number",
    "above": 0,
    "max": 1
   },
   "default": {
    "top": 0.1,
    "high": 0.3,
    "medium": 0.6,
    "low": 1.0
   },
   "meaning": "Value tiers (realised LTV, predicted CLV, and the spend up to the holdout split for the interval calibration) as cumulative shares of the ranked customers, best first; the largest share is 1 (every customer gets a tier).",
   "test_value": {
    "top": 0.2,
    "high": 0.5,
    "medium": 0.8,
    "low": 1.0
   },
   "group": "segments",
   "requirement": "a mapping (each value a number > 0 and <= 1)"
  },
  "cvm_new_days": {
   "type": "integer",
   "min": 0,
   "default": 60,
   "meaning": "CVM stage new: first completed order at most this many days ago.",
   "group": "segments",
   "requirement": "a whole number >= 0"
  },
  "cvm_active_days": {
   "type": "integer",
   "min": 0,
   "default": 90,
   "meaning": "CVM stage active: last completed order at most this many days ago.",
   "group": "segments",
   "requirement": "a whole number >= 0"
  },
  "cvm_lapsed_days": {
   "type": "integer",
   "min": 1,
   "default": 180,
   "meaning": "CVM stage lapsed beyond this many days (at_risk up to it). The expected lifetime uses no threshold.",
   "group": "segments",
   "requirement": "a whole number >= 1"
  },
  "cvm_vip_value_tier": {
   "type": "string",
   "default": "top",
   "meaning": "The value tier (a key of value_tier_shares) whose customers are VIP unless lapsed.",
   "test_value": "high",
   "group": "segments",
   "requirement": "a string"
  },
  "cvm_stage_actions": {
   "type": "mapping",
   "keys": [
    "no_purchases",
    "new",
    "active",
    "at_risk",
    "lapsed",
    "vip"
   ],
   "required_keys": [
    "no_purchases",
    "new",
    "active",
    "at_risk",
    "lapsed",
    "vip"
   ],
   "values": {
    "type": "string"
   },
   "default": {
    "no_purchases": "first-purchase incentive",
    "new": "welcome series and second-purchase offer",
    "active": "early access to new products",
    "at_risk": "reminder and time-limited offer",
    "lapsed": "win-back discount",
    "vip": "personal offers and priority service"
   },
   "meaning": "Recommended action per CVM stage (business brief).",
   "test_value": {
    "no_purchases": "a",
    "new": "b",
    "active": "c",
    "at_risk": "d",
    "lapsed": "e",
    "vip": "f"
   },
   "group": "segments",
   "requirement": "a mapping (keys no_purchases, new, active, at_risk, lapsed, vip; each value a string)"
  },
  "next_purchase_min_segment_customers": {
   "type": "integer",
   "min": 1,
   "default": 20,
   "meaning": "One-purchase-day customers borrow their channel x loyalty segment's median interval from this many.",
   "group": "segments",
   "requirement": "a whole number >= 1"
  },
  "reorder_lead_days": {
   "type": "integer",
   "min": 0,
   "default": 7,
   "meaning": "A customer is due for a reorder reminder from this many days before the expected date.",
   "group": "segments",
   "requirement": "a whole number >= 0"
  },
  "reorder_grace_days": {
   "type": "integer",
   "min": 0,
   "default": 30,
   "meaning": "A customer is past due (win-back territory) this many days after the expected date.",
   "group": "segments",
   "requirement": "a whole number >= 0"
  },
  "launch_penetration_window_days": {
   "type": "integer",
   "min": 1,
   "default": 60,
   "meaning": "A launch's penetration window is its first this many days (launch day included).",
   "group": "segments",
   "requirement": "a whole number >= 1"
  },
  "first_product_top_n": {
   "type": "integer",
   "min": 1,
   "default": 10,
   "meaning": "Segment type first_product: the N products most often leading a first order keep their id; the rest read other.",
   "group": "segments",
   "requirement": "a whole number >= 1"
  },
  "first_order_value_bands": {
   "type": "list",
   "items": {
    "type": "number",
    "above": 0
   },
   "default": [
    25,
    50,
    100,
    250
   ],
   "meaning": "Segment type first_order_value_band: ascending bounds (reporting currency) of the first order's gross revenue.",
   "test_value": [
    40,
    400
   ],
   "group": "segments",
   "requirement": "a list, each item a number > 0"
  },
  "analysis_top_n": {
   "type": "integer",
   "min": 1,
   "default": 100,
   "meaning": "Rows of analyses/top_customers_by_predicted_clv.sql.",
   "group": "analyses",
   "requirement": "a whole number >= 1"
  },
  "reorder_segment_column": {
   "type": "string",
   "allowed": [
    "cvm_stage",
    "rfm_segment",
    "value_tier",
    "region",
    "age_band",
    "acquisition_channel",
    "preferred_category"
   ],
   "default": "cvm_stage",
   "meaning": "The fct_customer_segments column analyses/customers_due_for_reorder_in_segment.sql filters on.",
   "group": "analyses",
   "requirement": "one of cvm_stage, rfm_segment, value_tier, region, age_band, acquisition_channel, preferred_category"
  },
  "reorder_segment_value": {
   "type": "string",
   "default": "active",
   "meaning": "The value of reorder_segment_column that analysis keeps.",
   "test_value": "lapsed",
   "group": "analyses",
   "requirement": "a string"
  },
  "ltv_backtest_months_before": {
   "type": "list",
   "items": {
    "type": "integer",
    "min": 1
   },
   "default": [
    6,
    12,
    18
   ],
   "meaning": "Backtest as-of dates: the last day of the month this many months before the as-of date's last complete month ([] = no backtest).",
   "test_value": [
    6
   ],
   "group": "backtest",
   "requirement": "a list, each item a whole number >= 1"
  },
  "ltv_backtest_horizons_months": {
   "type": "list",
   "items": {
    "type": "integer",
    "min": 1,
    "max": 36
   },
   "default": [
    3,
    6,
    12
   ],
   "meaning": "Months after each backtest date over which the forward values are compared with actual spend.",
   "test_value": [
    3
   ],
   "group": "backtest",
   "requirement": "a list, each item a whole number from 1 to 36"
  },
  "ltv_backtest_max_buyers": {
   "type": "integer",
   "min": 0,
   "default": 50000,
   "meaning": "Predicted CLV's backtest fits and scores at most this many buyers per date, a fixed hash sample (0 = all).",
   "test_value": 1000,
   "group": "backtest",
   "requirement": "a whole number >= 0"
  },
  "audiences": {
   "type": "list",
   "items": {
    "type": "mapping",
    "keys": [
     "name",
     "where",
     "reason",
     "due_date"
    ],
    "required_keys": [
     "name",
     "where",
     "reason"
    ]
   },
   "default": [
    {
     "name": "win_back_high_value",
     "where": "cvm_stage = 'lapsed' and value_tier in ('top', 'high')",
     "reason": "lapsed high-value customer (win-back discount)"
    },
    {
     "name": "due_for_reorder",
     "where": "due_for_reorder",
     "reason": "next purchase due (reminder before the regular purchase)",
     "due_date": "expected_next_purchase_on"
    },
    {
     "name": "vip",
     "where": "cvm_stage = 'vip'",
     "reason": "VIP (personal offers and priority service)"
    },
    {
     "name": "loyal_early_access",
     "where": "rfm_segment in ('champions', 'loyal') and cvm_stage in ('active', 'vip')",
     "reason": "loyal buyer (early access to a new line)"
    },
    {
     "name": "second_order",
     "where": "completed_orders = 1 and cvm_stage in ('new', 'active', 'at_risk')",
     "reason": "one-time buyer not yet lapsed (second-order offer)",
     "due_date": "expected_next_purchase_on"
    }
   ],
   "meaning": "The built-in audiences: name, where (SQL over the customer marts), reason, optional due_date column.",
   "test_value": [
    {
     "name": "everyone",
     "where": "has_completed_order",
     "reason": "every buyer"
    }
   ],
   "group": "audiences",
   "requirement": "a list, each item a mapping (keys name, where, reason; keys among name, where, reason, due_date)"
  },
  "custom_audiences": {
   "type": "list",
   "items": {
    "type": "mapping",
    "keys": [
     "name",
     "where",
     "reason",
     "due_date"
    ],
    "required_keys": [
     "name",
     "where",
     "reason"
    ]
   },
   "default": [],
   "meaning": "Your own audiences, published beside the built-in ones (same keys as audiences).",
   "test_value": [
    {
     "name": "north_buyers",
     "where": "region = 'north'",
     "reason": "buyer in the north region"
    }
   ],
   "group": "audiences",
   "requirement": "a list, each item a mapping (keys name, where, reason; keys among name, where, reason, due_date)"
  },
  "audience_holdout_share": {
   "type": "number",
   "min": 0,
   "below": 1,
   "default": 0.1,
   "meaning": "Share of each audience held out (no contact), per value tier, chosen by a hash of customer, audience and wave.",
   "group": "audiences",
   "requirement": "a number >= 0 and < 1"
  },
  "audience_wave": {
   "type": "string",
   "optional": true,
   "empty": "the as-of date (YYYY-MM-DD)",
   "default": "",
   "meaning": "The campaign wave the audiences are published for: with the audience and customer it fixes the holdout.",
   "test_value": "2024-q3",
   "group": "audiences",
   "requirement": "empty (the as-of date (YYYY-MM-DD)) or a string"
  },
  "lift_window_days": {
   "type": "integer",
   "min": 1,
   "default": 90,
   "meaning": "fct_audience_lift counts a contacted customer's orders in this many days after the contact.",
   "group": "audiences",
   "requirement": "a whole number >= 1"
  }
 }
}{% endraw %}{%- endset -%}
{{ return(fromjson(text)) }}
{%- endmacro %}
