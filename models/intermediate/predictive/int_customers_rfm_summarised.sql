-- One row per customer with a completed order on or before the predictive-CLV as-of date: the RFM summary
-- (frequency, recency, T, monetary_value) the BG/NBD and Gamma-Gamma models are fitted on and score.
with

purchase_days as (

    select * from {{ ref('int_orders_merged_to_purchase_days') }}

),

settings as (

    select * from {{ ref('int_clv_settings_resolved') }}

),

final as (

    {{ rfm_summary('purchase_days', 'settings', 'as_of_date') }}

)

select * from final
