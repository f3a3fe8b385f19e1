-- Holdout validation input: one row per customer with a completed order on or before the holdout split date,
-- with the RFM summary as of the split date (the calibration period) and the purchase days they actually made
-- after it, up to the as-of date (the holdout period), and those in its first churn_window_days days (churn risk),
-- and the customer's acquisition channel (the stratum of the per-channel fits; 'unknown' without a customers record).
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

calibration as (

    {{ rfm_summary('purchase_days', 'settings', 'holdout_split_date') }}

),

holdout as (

    select
        purchase_days.customer_id,
        count(*) as holdout_purchases,
        sum(purchase_days.spend) as holdout_spend,
        sum(case
            when {{ days_between('settings.holdout_split_date', 'purchase_days.purchased_on') }}
                <= settings.churn_window_days
                then 1
            else 0
        end) as churn_window_purchases
    from purchase_days
    cross join settings
    where
        purchase_days.purchased_on > settings.holdout_split_date
        and purchase_days.purchased_on <= settings.as_of_date
    group by purchase_days.customer_id

),

final as (

    select
        calibration.*,
        coalesce(holdout.holdout_purchases, 0) as holdout_purchases,
        coalesce(holdout.holdout_spend, 0) as holdout_spend,
        cast(coalesce(holdout.churn_window_purchases, 0) as bigint) as churn_window_purchases,
        coalesce(customers.acquisition_channel, 'unknown') as acquisition_channel
    from calibration
    left join holdout on calibration.customer_id = holdout.customer_id
    left join customers on calibration.customer_id = customers.customer_id

)

-- in customer order, the order the fits and scores read the rows in (clv_models sorts its input as well, for engines
-- that do not keep a table's write order, such as Spark; on rows already sorted that sort is one linear pass)
select * from final
order by customer_id
