-- Spark only: the rows the predictive step wrote (scripts/clvlayer/spark.py runs clvlayer.clv_models on the RFM
-- summaries read through the Spark session, between two dbt invocations), published under the Python model's name
-- so every ref and test works unchanged. DuckDB builds the Python model of the same name
-- (..int_customers_clv_predicted.py).
{{ config(enabled=target.type == 'spark') }}
-- the step's inputs, so dbt orders this model after them:
-- depends_on: {{ ref('int_clv_settings_resolved') }}, {{ ref('int_customers_rfm_summarised') }}
-- depends_on: {{ ref('int_customers_rfm_calibrated') }}

select * from {{ predictive_step_output('int_customers_clv_predicted') }}
