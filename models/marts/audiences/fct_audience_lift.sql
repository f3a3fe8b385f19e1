-- Measured lift per audience and wave: the customers of campaign_contacts (treated or held out, as delivered) are
-- followed for lift_window_days after their contact; treated and held-out customers are compared on repurchase
-- rate, orders, net revenue and gross margin per customer (completed orders of fct_orders in the window), each
-- lift a difference in means with its 95% interval (macro lift_interval), and incremental revenue = revenue lift x
-- treated customers. Every declared audience has a row: without contacts it says why (lift_status).
{%- set definitions = audience_definitions() %}
{%- set window_days = var('lift_window_days') %}

with

contacts as (

    select * from {{ ref('stg_shop__campaign_contacts') }}

),

orders as (

    select * from {{ ref('fct_orders') }}
    where is_completed

),

as_of as (

    select * from {{ ref('int_as_of_dates') }}

),

declared as (

    {%- for audience in definitions %}
        select '{{ audience.name }}' as audience
        {% if not loop.last %}union all{% endif %}
    {%- else %}
        select cast(null as {{ dbt.type_string() }}) as audience where 1 = 0
    {%- endfor %}

),

outcomes as (

    select
        contacts.audience,
        contacts.wave,
        contacts.customer_id,
        contacts.contacted_at,
        contacts.is_held_out,
        count(orders.order_id) as window_orders,
        coalesce(sum(orders.net_revenue), 0) as window_revenue,
        coalesce(sum(orders.gross_margin), 0) as window_margin
    from contacts
    left join orders
        on
            contacts.customer_id = orders.customer_id
            and orders.ordered_at > contacts.contacted_at
            and orders.ordered_at <= {{ dbt.dateadd('day', window_days, 'contacts.contacted_at') }}
    group by contacts.audience, contacts.wave, contacts.customer_id, contacts.contacted_at, contacts.is_held_out

),

groups as (

    select
        audience,
        wave,
        min(contacted_at) as first_contacted_at,
        max(contacted_at) as last_contacted_at,
        cast(sum(case when not is_held_out then 1 else 0 end) as bigint) as treated_customers,
        cast(sum(case when is_held_out then 1 else 0 end) as bigint) as held_out_customers,
        {{ group_moments('case when window_orders > 0 then 1.0 else 0.0 end', 'repurchase_rate') }},
        {{ group_moments('cast(window_orders as double)', 'orders_per_customer') }},
        {{ group_moments('cast(window_revenue as double)', 'revenue_per_customer') }},
        {{ group_moments('cast(window_margin as double)', 'margin_per_customer') }}
    from outcomes
    group by audience, wave

),

lifts as (

    select
        *,
        {{ lift_interval('repurchase_rate') }},
        {{ lift_interval('orders_per_customer') }},
        {{ lift_interval('revenue_per_customer') }},
        {{ lift_interval('margin_per_customer') }}
    from groups

),

measured as (

    select
        lifts.*,
        {{ dbt.dateadd('day', window_days, 'lifts.last_contacted_at') }} as window_ends_at,
        {{ dbt.dateadd('day', window_days, 'lifts.last_contacted_at') }}
        < {{ dbt.dateadd('day', 1, 'cast(as_of.as_of_date as timestamp)') }} as is_window_complete
    from lifts
    cross join as_of

),

not_contacted as (

    select declared.audience
    from declared
    left join (select distinct audience from contacts) as contacted on declared.audience = contacted.audience
    where contacted.audience is null

),

final as (

    select
        measured.audience,
        measured.wave,
        measured.audience in (select declared.audience from declared) as is_declared,
        {{ window_days }} as window_days,
        measured.first_contacted_at,
        measured.last_contacted_at,
        measured.window_ends_at,
        measured.is_window_complete,
        measured.treated_customers,
        measured.held_out_customers,
        {{ safe_divide('measured.held_out_customers', 'measured.treated_customers + measured.held_out_customers') }}
            as held_out_share,
        {%- for metric in ['repurchase_rate', 'orders_per_customer', 'revenue_per_customer', 'margin_per_customer'] %}
            measured.{{ metric }}_treated,
            measured.{{ metric }}_held_out,
            measured.{{ metric }}_lift,
            measured.{{ metric }}_lift_lower,
            measured.{{ metric }}_lift_upper,
        {%- endfor %}
        measured.revenue_per_customer_lift * measured.treated_customers as incremental_revenue,
        measured.revenue_per_customer_lift_lower * measured.treated_customers as incremental_revenue_lower,
        measured.revenue_per_customer_lift_upper * measured.treated_customers as incremental_revenue_upper,
        case
            when measured.treated_customers < 2 then 'too_few_treated'
            when measured.held_out_customers < 2 then 'too_few_held_out'
            when not measured.is_window_complete then 'window_open'
            else 'ok'
        end as lift_status
    from measured

    union all

    select
        not_contacted.audience,
        cast(null as {{ dbt.type_string() }}) as wave,
        true as is_declared,
        {{ window_days }} as window_days,
        {%- for column in ['first_contacted_at', 'last_contacted_at', 'window_ends_at'] %}
            cast(null as timestamp) as {{ column }},
        {%- endfor %}
        cast(null as boolean) as is_window_complete,
        0 as treated_customers,
        0 as held_out_customers,
        cast(null as double) as held_out_share,
        {%- for metric in ['repurchase_rate', 'orders_per_customer', 'revenue_per_customer', 'margin_per_customer'] %}
            {%- for suffix in ['treated', 'held_out', 'lift', 'lift_lower', 'lift_upper'] %}
                cast(null as double) as {{ metric }}_{{ suffix }},
            {%- endfor %}
        {%- endfor %}
        cast(null as double) as incremental_revenue,
        cast(null as double) as incremental_revenue_lower,
        cast(null as double) as incremental_revenue_upper,
        {{ "'not_contacted'" if input_given('campaign_contacts') else "'no_campaign_contacts_table'" }} as lift_status
    from not_contacted

)

select * from final
