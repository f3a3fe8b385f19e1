-- One row per customer with a completed order on or before the predictive-CLV as-of date: the RFM summary
-- (frequency, recency, T, monetary_value) the BG/NBD and Gamma-Gamma models are fitted on and score, and the
-- customer's acquisition channel (the stratum of the per-channel fits; 'unknown' without a customers record).
with

purchase_days as (

    select * from {{ ref('int_orders_merged_to_purchase_days') }}

),

settings as (

    select * from {{ ref('int_clv_settings_resolved') }}

),

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

summarised as (

    {{ rfm_summary('purchase_days', 'settings', 'as_of_date') }}

),

final as (

    select
        summarised.*,
        coalesce(customers.acquisition_channel, 'unknown') as acquisition_channel
    from summarised
    left join customers on summarised.customer_id = customers.customer_id

)

-- in customer order, the order the fits and scores read the rows in (clv_models sorts its input as well, for engines
-- that do not keep a table's write order, such as Spark; on rows already sorted that sort is one linear pass)
select * from final
order by customer_id
