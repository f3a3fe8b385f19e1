-- One row per as-of snapshot x acquisition channel x calendar month with new customers (first completed order in the
-- month, up to the as-of date) or recorded spend: new customers, spend and whether the channel had spend rows that
-- month. The one base of CAC: fct_channel_economics (per channel-month, current snapshot) and fct_ltv_by_segment
-- (per channel: spend / new customers of the channel-months with spend recorded).
with

customers as (

    select * from {{ ref('int_customers_enriched') }}

),

spend as (

    select * from {{ ref('int_marketing_spend_aggregated_to_channel_months') }}

),

acquisitions as (

    select
        as_of_date,
        acquisition_channel as channel,
        cohort_month,
        count(*) as new_customers
    from customers
    where has_completed_order
    group by as_of_date, acquisition_channel, cohort_month

),

final as (

    select
        coalesce(acquisitions.as_of_date, spend.as_of_date) as as_of_date,
        coalesce(acquisitions.channel, spend.channel) as channel,
        coalesce(acquisitions.cohort_month, spend.spend_month) as cohort_month,
        coalesce(acquisitions.new_customers, 0) as new_customers,
        -- no spend row in a given spend table is no spend (0); no spend table at all is unknown (null)
        {{ if_input('marketing_spend', 'coalesce(spend.spend_amount, 0)') }} as marketing_spend,
        spend.channel is not null as has_spend_recorded
    from acquisitions
    full outer join spend
        on
            acquisitions.as_of_date = spend.as_of_date
            and acquisitions.channel = spend.channel
            and acquisitions.cohort_month = spend.spend_month

)

select * from final
