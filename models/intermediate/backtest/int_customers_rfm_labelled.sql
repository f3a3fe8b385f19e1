-- One row per customer of int_customers_rfm_summarised (buyers up to the predictive-CLV as-of date): the RFM summary
-- and the customer's segment of every segment type at the current as-of date (macro segment_label_columns), the
-- input of the segment-sum intervals of predicted CLV (int_segments_clv_intervals).
with

summaries as (

    select * from {{ ref('int_customers_rfm_summarised') }}

),

customers as (

    select * from {{ ref('int_customers_valued') }}
    where is_current_as_of

),

labels as (

    select
        {{ segment_label_columns() }}
        customers.customer_id
    from customers

),

final as (

    select
        {%- for segment_type in ltv_segment_types() %}
            labels.segment_{{ segment_type }},
        {%- endfor %}
        summaries.*
    from summaries
    left join labels on summaries.customer_id = labels.customer_id

)

select * from final
order by customer_id
