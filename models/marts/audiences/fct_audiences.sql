-- One row per declared audience (vars audiences + custom_audiences) for this build's wave: its definition, size,
-- holdout and the value and P(alive) of its members (fct_audience_members).
{%- set definitions = audience_definitions() %}

with

members as (

    select * from {{ ref('fct_audience_members') }}

),

as_of as (

    select * from {{ ref('int_as_of_dates') }}

),

declared as (

    {%- for audience in definitions %}
        select
            {{ loop.index }} as audience_order,
            '{{ audience.name }}' as audience,
            '{{ audience.reason | replace("'", "''") }}' as audience_reason,
            '{{ audience.where | replace("'", "''") }}' as definition,
            {{ "'" ~ audience.due_date ~ "'" if audience.due_date else 'cast(null as ' ~ dbt.type_string() ~ ')' }}
                as due_date_column,
            {{ 'true' if audience in var('custom_audiences') else 'false' }} as is_custom
        {% if not loop.last %}union all{% endif %}
    {%- else %}
        select
            0 as audience_order,
            {%- for column in ['audience', 'audience_reason', 'definition', 'due_date_column'] %}
                cast(null as {{ dbt.type_string() }}) as {{ column }},
            {%- endfor %}
            false as is_custom
        where 1 = 0
    {%- endfor %}

),

sized as (

    select
        audience,
        count(*) as members,
        cast(sum(case when is_held_out then 1 else 0 end) as bigint) as held_out_customers,
        cast(sum(case when not is_held_out then 1 else 0 end) as bigint) as treated_customers,
        sum(expected_value) as expected_value_total,
        avg(p_alive) as mean_p_alive,
        cast(sum(case when due_on is not null then 1 else 0 end) as bigint) as customers_with_due_date
    from members
    group by audience

),

final as (

    select
        declared.audience,
        declared.audience_order,
        {{ audience_wave('as_of.as_of_date') }} as wave,
        as_of.as_of_date,
        declared.audience_reason,
        declared.definition,
        declared.due_date_column,
        declared.is_custom,
        coalesce(sized.members, 0) as members,
        coalesce(sized.treated_customers, 0) as treated_customers,
        coalesce(sized.held_out_customers, 0) as held_out_customers,
        {{ safe_divide('sized.held_out_customers', 'sized.members') }} as held_out_share,
        {{ var('audience_holdout_share') }} as holdout_share_setting,
        sized.expected_value_total,
        sized.mean_p_alive,
        coalesce(sized.customers_with_due_date, 0) as customers_with_due_date
    from declared
    cross join as_of
    left join sized on declared.audience = sized.audience

)

select * from final
