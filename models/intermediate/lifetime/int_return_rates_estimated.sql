-- One row per as-of snapshot x order bucket x day of silence (0 .. the horizon's lifespan cap): the probability that a
-- buyer silent for that many days after their n-th completed order (n capped at var
-- lifetime_return_max_order_bucket) ever orders again - what the time since the last order says about whether a
-- customer is still alive. No fixed churn threshold: learnt from the gaps between the shop's own orders.
--   gap       days from a completed order to the customer's next completed order placed by the as-of date; an order
--             without one is censored at the as-of date (silent that long so far)
--   observed  Kaplan-Meier survival of the gap, G(d) = P(gap > d), per order bucket (at risk: orders not yet
--             followed and not yet censored)
--   fitted    G(d) ~ cure + (1 - cure) x (1 + d / scale)^(-shape) (macro cure_lomax_fit, weighted by the orders at
--             risk, on every var lifetime_fit_step_days-th day with at least var lifetime_min_at_risk at risk):
--             cure = the share of orders never followed by another; the Lomax part is the waiting time of customers
--             with Gamma-distributed rates, whose long silences a history of a few months cannot show
--   return_probability = P(another order | silent d) = 1 - cure / G_fitted(d)
-- A bucket with fewer than 3 fit points uses the fit of all buckets pooled; with fewer than that too it is 1 (status
-- not_estimable): nobody can then be seen to churn, the survival curves read no_churn_observable and the buyers'
-- lifetimes (and the formulas on them) are null, not "alive forever". Used by the survival curves
-- (int_lifetime_curves_estimated) and the projection (int_customers_lifetimes_projected). Definitions: docs block
-- "expected_lifetime" (docs/metrics.md).
{%- set last_day = lifespan_last_day() %}
{%- set max_order_bucket = var('lifetime_return_max_order_bucket') | int %}
with

orders as (

    select * from {{ ref('int_orders_enriched') }}

),

as_of as (

    select * from {{ ref('int_as_of_snapshots') }}

),

completed as (

    select
        customer_id,
        ordered_on,
        row_number() over (partition by customer_id order by ordered_at, order_id) as completed_order_number,
        lead(ordered_on) over (partition by customer_id order by ordered_at, order_id) as next_order_on
    from orders
    where is_completed

),

gaps as (

    -- per snapshot: each completed order by the as-of date, with its gap (returned) or its silence so far (censored)
    select
        as_of.as_of_date,
        least(completed.completed_order_number, {{ max_order_bucket }}) as order_bucket,
        completed.next_order_on is not null and completed.next_order_on <= as_of.as_of_date as has_returned,
        case
            when completed.next_order_on <= as_of.as_of_date
                then {{ days_between('completed.ordered_on', 'completed.next_order_on') }}
            else {{ days_between('completed.ordered_on', 'as_of.as_of_date') }}
        end as gap_or_silence_days
    from completed
    inner join as_of on completed.ordered_on <= as_of.as_of_date

),

bucketed_gaps as (

    -- each order in its bucket and in the pooled bucket 0
    select
        as_of_date,
        order_bucket,
        has_returned,
        gap_or_silence_days
    from gaps
    union all
    select
        as_of_date,
        0 as order_bucket,
        has_returned,
        gap_or_silence_days
    from gaps

),

gap_ends as (

    -- orders leaving the risk set after each day (gaps past the grid leave after its last day, not returned)
    select
        as_of_date,
        order_bucket,
        least(gap_or_silence_days, {{ last_day + 1 }}) as silence_day,
        count(*) as leaving,
        sum(case when has_returned and gap_or_silence_days <= {{ last_day }} then 1 else 0 end) as returned
    from bucketed_gaps
    group by as_of_date, order_bucket, least(gap_or_silence_days, {{ last_day + 1 }})

),

bucket_sizes as (

    select
        as_of_date,
        order_bucket,
        count(*) as bucket_orders
    from bucketed_gaps
    group by as_of_date, order_bucket

),

grid as (

    select
        bucket_sizes.as_of_date,
        bucket_sizes.order_bucket,
        bucket_sizes.bucket_orders,
        day_offsets.n as silence_day,
        coalesce(gap_ends.leaving, 0) as leaving,
        coalesce(gap_ends.returned, 0) as returned
    from bucket_sizes
    cross join {{ integer_series(last_day + 1) }} as day_offsets
    left join gap_ends
        on
            bucket_sizes.as_of_date = gap_ends.as_of_date
            and bucket_sizes.order_bucket = gap_ends.order_bucket
            and day_offsets.n = gap_ends.silence_day

),

at_risk as (

    select
        *,
        {{ kaplan_meier_at_risk('bucket_orders', 'leaving', 'as_of_date, order_bucket', 'silence_day') }}
            as silent_orders
    from grid

),

observed as (

    -- G(d): the Kaplan-Meier survival of the silences (a day on which every silent order returns makes it zero)
    select
        *,
        {{ kaplan_meier_survival('returned', 'silent_orders', 'as_of_date, order_bucket', 'silence_day') }}
            as observed_gap_survival
    from at_risk

),

fit_points as (

    select
        as_of_date,
        order_bucket,
        silence_day as fit_day,
        observed_gap_survival as survival,
        silent_orders as weight
    from observed
    where
        silent_orders >= {{ var('lifetime_min_at_risk') }}
        and mod(silence_day, {{ var('lifetime_fit_step_days') }}) = 0

),

fits as (

    {{ cure_lomax_fit('fit_points', ['as_of_date', 'order_bucket']) }}

),

usable_fits as (

    select * from fits
    where fit_points >= 3

),

final as (

    select
        observed.as_of_date,
        observed.order_bucket,
        observed.silence_day,
        observed.silent_orders,
        observed.returned as returned_orders,
        observed.observed_gap_survival,
        case
            when own_fit.order_bucket is not null then 'estimated'
            when pooled_fit.order_bucket is not null then 'pooled_order_buckets'
            else 'not_estimable'
        end as return_probability_status,
        coalesce(own_fit.shape, pooled_fit.shape) as gap_shape,
        coalesce(own_fit.scale, pooled_fit.scale) as gap_scale_days,
        coalesce(own_fit.cure, pooled_fit.cure) as never_return_share,
        {{ cure_lomax_survival('observed.silence_day', 'coalesce(own_fit.shape, pooled_fit.shape)',
            'coalesce(own_fit.scale, pooled_fit.scale)', 'coalesce(own_fit.cure, pooled_fit.cure)') }}
            as fitted_gap_survival,
        coalesce(
            1 - {{ safe_divide('coalesce(own_fit.cure, pooled_fit.cure)',
                cure_lomax_survival('observed.silence_day', 'coalesce(own_fit.shape, pooled_fit.shape)',
                    'coalesce(own_fit.scale, pooled_fit.scale)', 'coalesce(own_fit.cure, pooled_fit.cure)')) }},
            1.0
        ) as return_probability
    from observed
    left join usable_fits as own_fit
        on observed.as_of_date = own_fit.as_of_date and observed.order_bucket = own_fit.order_bucket
    left join usable_fits as pooled_fit
        on observed.as_of_date = pooled_fit.as_of_date and pooled_fit.order_bucket = 0
    where observed.order_bucket > 0

)

select * from final
