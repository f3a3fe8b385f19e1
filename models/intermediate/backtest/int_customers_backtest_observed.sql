-- One row per backtest as-of date (int_as_of_snapshots.is_backtest) x buyer at that date: the buyer's segment of
-- every segment type and the inputs of the forward values as the build computed them then (int_customers_valued at
-- that date), and for each horizon h of var ltv_backtest_horizons_months what the buyer actually spent (net revenue
-- and gross margin of the purchase days, the spend the predictive models fit) in the h months after the date (the
-- date is a month end: up to the end of the h-th month after it, macro backtest_horizon_end). as_of_snapshot is
-- 'backtest_<n>m' and months_before_current n, the entry of var ltv_backtest_months_before. A
-- horizon that ends after the data's end (the as-of date) has no truth: its actuals are null (is_observed false).
{%- set horizons = ltv_backtest_horizons() %}
{#- what a buyer spent and made after the date: the purchase days' column, its forward sum, the actual it gives -#}
{%- set forward_measures = [
    {'column': 'spend', 'forward': 'spend', 'actual': 'revenue'},
    {'column': 'gross_margin', 'forward': 'margin', 'actual': 'margin'},
] %}
with

snapshots as (

    select * from {{ ref('int_as_of_snapshots') }}
    where is_backtest

),

as_of as (

    select * from {{ ref('int_as_of_dates') }}

),

customers as (

    select * from {{ ref('int_customers_valued') }}
    where has_completed_order and as_of_date in (select snapshots.as_of_date from snapshots)

),

purchase_days as (

    select * from {{ ref('int_orders_merged_to_purchase_days') }}

),

horizon_ends as (

    -- each horizon's last day, and whether the data reach it, once per backtest date: not once per purchase day or
    -- buyer joined to the date
    select
        {%- for h in horizons %}
            {{ backtest_horizon_end('snapshots.as_of_date', h) }} as horizon_end_{{ h }}m,
            {{ is_horizon_observed('snapshots.as_of_date', h, 'as_of.as_of_date') }} as is_observed_{{ h }}m,
        {%- endfor %}
        snapshots.as_of_date,
        snapshots.backtest_months_before
    from snapshots
    cross join as_of

),

forward_purchases as (

    -- per backtest date and buyer: spend and margin in the h months after the date
    select
        {%- for h in horizons %}
            {%- for measure in forward_measures %}
                sum(
                    case
                        when purchase_days.purchased_on <= horizon_ends.horizon_end_{{ h }}m
                            then purchase_days.{{ measure.column }}
                        else 0
                    end
                ) as {{ measure.forward }}_next_{{ h }}m,
            {%- endfor %}
        {%- endfor %}
        horizon_ends.as_of_date,
        purchase_days.customer_id
    from purchase_days
    inner join horizon_ends
        on
            purchase_days.purchased_on > horizon_ends.as_of_date
            and purchase_days.purchased_on <= (select as_of.as_of_date from as_of)
    group by horizon_ends.as_of_date, purchase_days.customer_id

),

final as (

    select
        {{ segment_label_columns() }}
        {%- for h in horizons %}
            horizon_ends.is_observed_{{ h }}m,
            {{ forward_lifetime_months('customers.expected_remaining_lifetime_months', h) }}
                as forward_lifetime_months_{{ h }}m,
            {%- for measure in forward_measures %}
                case
                    when horizon_ends.is_observed_{{ h }}m
                        then coalesce(forward_purchases.{{ measure.forward }}_next_{{ h }}m, 0)
                end as actual_{{ measure.actual }}_next_{{ h }}m,
            {%- endfor %}
        {%- endfor %}
        {{ dbt.concat(["'backtest_'", "cast(horizon_ends.backtest_months_before as " ~ dbt.type_string() ~ ")",
            "'m'"]) }} as as_of_snapshot,
        horizon_ends.backtest_months_before as months_before_current,
        customers.as_of_date,
        customers.customer_id,
        customers.completed_orders,
        customers.realised_ltv,
        customers.realised_margin_ltv,
        customers.observed_lifespan_months,
        customers.observed_alive_months,
        customers.own_expected_lifetime_months,
        customers.expected_remaining_lifetime_months
    from customers
    inner join horizon_ends on customers.as_of_date = horizon_ends.as_of_date
    left join forward_purchases
        on customers.as_of_date = forward_purchases.as_of_date and customers.customer_id = forward_purchases.customer_id

)

select * from final
