-- One row per acquisition channel x acquisition cohort (month of the first completed order) x months since the first
-- order, months without orders included: the per-channel cohort curves (int_channel_cohorts_accumulated) with their
-- rates. fct_cohort_retention is the same summed over channels; fct_cohort_curves pools cohorts per age.
-- Definitions: docs/metrics.md ("Cohorts").
with

channel_cohorts as (

    select * from {{ ref('int_channel_cohorts_accumulated') }}

),

final as (

    select
        {{ dbt.concat(["acquisition_channel", "'+'", "cast(cohort_month as " ~ dbt.type_string() ~ ")", "'+'",
            "cast(months_since_first_order as " ~ dbt.type_string() ~ ")"]) }} as channel_cohort_month_key,
        acquisition_channel,
        cohort_month,
        months_since_first_order,
        activity_month,
        is_complete_month,
        cohort_size,
        active_customers,
        {{ cohort_rates() }}
    from channel_cohorts

)

select * from final
