-- Audiences as code: every audience declared in vars audiences + custom_audiences (settings.yml) is a filter over
-- the published customer marts, published each build with its members, why they are in it, expected value,
-- P(alive), due date where the audience has one, and the holdout assignment. The holdout is stratified by value
-- tier: within each audience x value tier the customers are ordered by a hash of customer, audience and wave and
-- the first round(share x customers) are held out, so the same customer, audience and wave get the same assignment
-- in every build of the same data (no random state). Each audience is also its own table audiences.<name>.
{{ config(post_hook="{{ publish_audience_tables() }}") }}
{%- set definitions = audience_definitions() %}

with

segments as (

    select * from {{ ref('fct_customer_segments') }}

),

next_purchase as (

    select * from {{ ref('fct_customer_next_purchase') }}

),

predictions as (

    select * from {{ ref('fct_customer_clv_predictions') }}

),

-- the columns an audience's `where` may use (documented in fct_audience_members.yml)
candidates as (

    select
        segments.customer_id,
        segments.as_of_date,
        segments.has_completed_order,
        segments.acquisition_channel,
        segments.region,
        segments.age_band,
        segments.is_loyalty_member,
        segments.completed_orders,
        segments.tenure_days,
        segments.recency_days,
        segments.realised_ltv,
        segments.rfm_segment,
        segments.value_tier,
        segments.cvm_stage,
        segments.recommended_action,
        segments.preferred_category,
        next_purchase.reorder_status,
        next_purchase.due_for_reorder,
        next_purchase.expected_next_purchase_on,
        next_purchase.days_overdue,
        predictions.p_alive,
        predictions.churn_risk,
        predictions.churn_risk_band,
        predictions.predicted_clv,
        predictions.predicted_clv_tier,
        predictions.expected_purchases,
        predictions.is_predicted
    from segments
    left join next_purchase on segments.customer_id = next_purchase.customer_id
    left join predictions on segments.customer_id = predictions.customer_id

),

members as (

    {%- for audience in definitions %}
        select
            '{{ audience.name }}' as audience,
            '{{ audience.reason | replace("'", "''") }}' as audience_reason,
            {{ audience.due_date if audience.due_date else 'cast(null as date)' }} as due_on,
            *
        from candidates
        where {{ audience.where }}
        {% if not loop.last %}union all{% endif %}
    {%- else %}
        select
            cast(null as {{ dbt.type_string() }}) as audience,
            cast(null as {{ dbt.type_string() }}) as audience_reason,
            cast(null as date) as due_on,
            *
        from candidates
        where 1 = 0
    {%- endfor %}

),

waved as (

    select
        *,
        {{ audience_wave('as_of_date') }} as wave,
        coalesce(value_tier, 'none') as holdout_stratum
    from members

),

drawn as (

    select
        *,
        {{ stable_hash("concat(customer_id, '|', audience, '|', wave)") }} as holdout_draw
    from waved

),

ranked as (

    select
        *,
        row_number() over (
            partition by audience, holdout_stratum order by holdout_draw, customer_id
        ) as holdout_rank,
        count(*) over (partition by audience, holdout_stratum) as stratum_customers
    from drawn

),

assigned as (

    select
        *,
        holdout_rank <= round(stratum_customers * {{ var('audience_holdout_share') }}) as is_held_out
    from ranked

),

final as (

    select
        audience,
        wave,
        as_of_date,
        customer_id,
        concat(
            audience_reason,
            ': ', coalesce(cvm_stage, 'no stage'),
            ', value tier ', coalesce(value_tier, 'none'),
            ', ', coalesce(cast(completed_orders as {{ dbt.type_string() }}), '0'), ' orders',
            ', last ', coalesce(cast(recency_days as {{ dbt.type_string() }}), '-'), ' days ago'
        ) as reason,
        predicted_clv as expected_value,
        p_alive,
        churn_risk,
        churn_risk_band,
        due_on,
        value_tier,
        cvm_stage,
        realised_ltv,
        holdout_stratum,
        is_held_out,
        case when is_held_out then 'held_out' else 'treated' end as assignment
    from assigned

)

select * from final
