-- One row per as-of snapshot x customer (int_customers_enriched): RFM quintile scores and named segment, realised-LTV
-- decile and value tier, CVM lifecycle stage and preferred category, scored among the buyers of the same snapshot.
-- fct_customer_segments is the current snapshot; fct_ltv_by_segment groups every snapshot by these segments.
-- Customers without a completed order get null scores and 'no_purchases'. Definitions and thresholds:
-- docs/metrics.md ("Segments and next purchase"); vars in dbt_project.yml.
with

-- the customers (read by the buyers' scores and the join) and the purchased lines (read for their days and summed)
-- are inlined where read, not materialized whole (docs/benchmarks.md, "The customer x snapshot state at 100M")
customers as {{ not_materialized() }} (

    select * from {{ ref('int_customers_enriched') }}

),

purchased_items as {{ not_materialized() }} (

    select * from {{ ref('int_order_items_joined_to_completed_orders') }}

),

snapshots as (

    select * from {{ ref('int_as_of_snapshots') }}

),

buyers as (

    select
        as_of_date,
        customer_id,
        recency_days,
        completed_orders,
        net_revenue as realised_ltv
    from customers
    where has_completed_order

),

buyer_counts as (

    select
        as_of_date,
        count(*) as buyers
    from buyers
    group by as_of_date

),

-- the rank() of each distinct value among the snapshot's buyers (macro value_ranks): the scores rank a few
-- thousand recencies and frequencies and the distinct LTVs instead of sorting every buyer once per score
recency_ranks as (

    {{ value_ranks('buyers', 'recency_days', 'as_of_date') }}

),

frequency_ranks as (

    {{ value_ranks('buyers', 'completed_orders', 'as_of_date') }}

),

ltv_ranks as (

    {{ value_ranks('buyers', 'realised_ltv', 'as_of_date') }}

),

buyer_scores as (

    -- quantile scores over the snapshot's buyers; ties share a score (tied_ntile), higher is better
    select
        buyers.as_of_date,
        buyers.customer_id,
        {{ tied_ntile_of_rank(5, 'recency_ranks.rank_descending', 'buyer_counts.buyers') }} as recency_score,
        {{ tied_ntile_of_rank(5, 'frequency_ranks.rank_ascending', 'buyer_counts.buyers') }} as frequency_score,
        {{ tied_ntile_of_rank(5, 'ltv_ranks.rank_ascending', 'buyer_counts.buyers') }} as monetary_score,
        {{ tied_ntile_of_rank(10, 'ltv_ranks.rank_ascending', 'buyer_counts.buyers') }} as ltv_decile,
        {{ value_tier_of_rank('ltv_ranks.rank_descending', 'buyer_counts.buyers') }} as value_tier
    from buyers
    inner join buyer_counts on buyers.as_of_date = buyer_counts.as_of_date
    inner join recency_ranks
        on
            buyers.as_of_date = recency_ranks.as_of_date
            and buyers.recency_days is not distinct from recency_ranks.recency_days
    inner join frequency_ranks
        on
            buyers.as_of_date = frequency_ranks.as_of_date
            and buyers.completed_orders is not distinct from frequency_ranks.completed_orders
    inner join ltv_ranks
        on
            buyers.as_of_date = ltv_ranks.as_of_date
            and buyers.realised_ltv is not distinct from ltv_ranks.realised_ltv

),

line_buckets as (

    -- each order day's bucket: the earliest snapshot on or after it (later days fall into none)
    {{ snapshot_buckets('purchased_items', 'snapshots') }}

),

bucket_spend as (

    -- the lines summed once per customer, category and bucket (exact: amounts are decimals)
    select
        line_buckets.bucket_date,
        purchased_items.customer_id,
        purchased_items.category,
        sum(purchased_items.line_amount) as line_amount
    from purchased_items
    inner join line_buckets on purchased_items.ordered_on = line_buckets.ordered_on
    group by line_buckets.bucket_date, purchased_items.customer_id, purchased_items.category

),

category_spend_as_of as (

    -- a snapshot's spend per category is the sum of the buckets up to its date, not every line joined to it
    select
        snapshots.as_of_date,
        bucket_spend.customer_id,
        bucket_spend.category,
        sum(bucket_spend.line_amount) as category_amount
    from bucket_spend
    inner join snapshots on bucket_spend.bucket_date <= snapshots.as_of_date
    group by snapshots.as_of_date, bucket_spend.customer_id, bucket_spend.category

),

preferred_categories as (

    -- the category with the highest purchased-item spend, ties by category name
    {{ top_category_of_amounts('category_spend_as_of', 'customer_id', ['as_of_date']) }}

),

joined as (

    select
        customers.as_of_date,
        customers.customer_id,
        customers.has_completed_order,
        customers.recency_days,
        customers.tenure_days,
        buyer_scores.recency_score,
        buyer_scores.frequency_score,
        buyer_scores.monetary_score,
        buyer_scores.ltv_decile,
        buyer_scores.value_tier,
        preferred_categories.category as preferred_category,
        preferred_categories.category_amount as preferred_category_spend
    from customers
    left join buyer_scores
        on customers.as_of_date = buyer_scores.as_of_date and customers.customer_id = buyer_scores.customer_id
    left join preferred_categories
        on
            customers.as_of_date = preferred_categories.as_of_date
            and customers.customer_id = preferred_categories.customer_id

),

final as (

    select
        as_of_date,
        customer_id,
        recency_score,
        frequency_score,
        monetary_score,
        case when has_completed_order then
                {{ dbt.concat(["cast(recency_score as " ~ dbt.type_string() ~ ")",
                    "cast(frequency_score as " ~ dbt.type_string() ~ ")",
                    "cast(monetary_score as " ~ dbt.type_string() ~ ")"]) }}
        end as rfm_score,
        case
            when not has_completed_order then 'no_purchases'
            else {{ rfm_segment('recency_score', 'frequency_score', 'monetary_score') }}
        end as rfm_segment,
        ltv_decile,
        coalesce(value_tier, 'no_purchases') as value_tier,
        -- precedence: no purchases, lapsed, VIP, new, active, at risk (docs/metrics.md)
        case
            when not has_completed_order then 'no_purchases'
            when recency_days > {{ var('cvm_lapsed_days') }} then 'lapsed'
            when value_tier = '{{ var("cvm_vip_value_tier") }}' then 'vip'
            when tenure_days <= {{ var('cvm_new_days') }} then 'new'
            when recency_days <= {{ var('cvm_active_days') }} then 'active'
            else 'at_risk'
        end as cvm_stage,
        preferred_category,
        preferred_category_spend,
        case
            when not has_completed_order then 'no_purchases'
            -- no item lines for the customer in a given items table; no items table at all
            when preferred_category is null
                then {{ if_input('order_items', "'no_item_data'", "'no_order_items_table'") }}
            else 'item_spend'
        end as preferred_category_source
    from joined

)

select * from final
