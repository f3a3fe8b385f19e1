-- Spark only: the rows the backtest step wrote (scripts/clvlayer/spark.py runs clvlayer.backtest's
-- current_segment_intervals on the tables below read through the Spark session, between two dbt invocations),
-- published under the Python model's name so every ref and test works unchanged. DuckDB builds the Python model of
-- the same name (../int_segments_clv_intervals.py).
{{ config(enabled=target.type == 'spark') }}
-- the step's inputs, so dbt orders this model after them:
-- depends_on: {{ ref('int_customers_rfm_labelled') }}, {{ ref('int_clv_models_fitted') }}
-- depends_on: {{ ref('int_clv_settings_resolved') }}, {{ ref('int_clv_model_selected') }}
-- depends_on: {{ ref('int_customers_rfm_calibrated') }}, {{ ref('int_customers_holdout_tiered') }}

select * from {{ predictive_step_output('int_segments_clv_intervals') }}
