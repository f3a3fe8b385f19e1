-- One row per customer x purchase day: the transactions the BG/NBD and Gamma-Gamma models fit and the days the
-- next-purchase intervals are measured between (days_since_previous_purchase). As in the BG/NBD literature, all of
-- a customer's completed orders on the same calendar day merge into one purchase whose spend is the day's net
-- revenue (refunds netted, cancelled and fully refunded orders excluded: fct_orders). Not filtered by the as-of
-- date: each reader applies its own.
-- Incremental (docs/operations.md "Incremental runs"): a run recomputes the purchase days of the customers whose orders
-- int_orders_enriched rewrote in this run and replaces their rows; the post-hook removes customers left without a
-- completed order.
{{ config(
    materialized=('incremental' if target.type == 'duckdb' else 'table'),
    incremental_strategy='delete+insert',
    unique_key='customer_id',
    on_schema_change='fail',
    post_hook="{{ delete_rows_gone_from(['customer_id'], ref('int_orders_enriched'), where='is_completed') }}"
) }}
with

orders as (

    select * from {{ ref('int_orders_enriched') }}

),

completed_orders as (

    select
        customer_id,
        ordered_on,
        net_revenue,
        gross_margin
    from orders
    -- an incremental run: only the customers whose orders this run rewrote (all of a customer's orders are)
    where is_completed and {{ rewritten_in_this_run('customer_id', 'orders') }}

),

merged as (

    select
        customer_id,
        ordered_on as purchased_on,
        count(*) as orders_merged,
        sum(net_revenue) as spend,
        sum(gross_margin) as gross_margin
    from completed_orders
    group by customer_id, ordered_on

),

final as (

    select
        customer_id,
        purchased_on,
        orders_merged,
        spend,
        gross_margin,
        row_number() over (partition by customer_id order by purchased_on) as purchase_number,
        -- the gap to the customer's previous purchase day (null on the first): the next-purchase intervals
        {{ days_between('lag(purchased_on) over (partition by customer_id order by purchased_on)', 'purchased_on') }}
            as days_since_previous_purchase,
        -- when the row was (re)computed: the incremental run that wrote it, or the full build
        {{ this_run_loaded_at() }} as batch_loaded_at
    from merged

)

select * from final
