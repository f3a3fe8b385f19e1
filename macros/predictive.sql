{#- Predictive CLV (BG/NBD + Gamma-Gamma) helpers. Definitions: docs/metrics.md "Predictive CLV". -#}

{#- Days per var('clv_time_unit'): 1 for day, 7 for week (times in weeks are fractional). -#}
{% macro days_per_time_unit() -%}
    {%- if var('clv_time_unit') == 'week' -%} 7.0 {%- else -%} 1.0 {%- endif -%}
{%- endmacro %}

{#- The BG/NBD / Gamma-Gamma RFM summary as of a date, from purchase days (int_orders_merged_to_purchase_days)
    and the one-row settings (int_clv_settings_resolved). Purchases after the date are left out.
      frequency      = purchase days - 1 (repeat purchase periods)
      recency        = last purchase day - first purchase day, in time units
      T              = as-of date - first purchase day, in time units
      monetary_value = mean spend of the repeat purchase days (first excluded); null when frequency = 0 -#}
{% macro rfm_summary(purchase_days, settings, as_of_column) -%}
    select
        {{ purchase_days }}.customer_id,
        {{ settings }}.{{ as_of_column }} as as_of_date,
        min({{ purchase_days }}.purchased_on) as first_purchased_on,
        max({{ purchase_days }}.purchased_on) as last_purchased_on,
        count(*) as purchase_days,
        count(*) - 1 as frequency,
        cast({{ days_between('min(' ~ purchase_days ~ '.purchased_on)', 'max(' ~ purchase_days ~ '.purchased_on)') }}
            as double) / {{ settings }}.days_per_time_unit as recency,
        cast({{ days_between('min(' ~ purchase_days ~ '.purchased_on)', settings ~ '.' ~ as_of_column) }}
            as double) / {{ settings }}.days_per_time_unit as T,  -- noqa: CP02
        {{ mean_of_money('case when ' ~ purchase_days ~ '.purchase_number > 1 then ' ~ purchase_days ~ '.spend end') }}
            as monetary_value,
        sum({{ purchase_days }}.spend) as total_spend,
        sum({{ purchase_days }}.gross_margin) as total_margin
    from {{ purchase_days }}
    cross join {{ settings }}
    where {{ purchase_days }}.purchased_on <= {{ settings }}.{{ as_of_column }}
    group by
        {{ purchase_days }}.customer_id,
        {{ settings }}.{{ as_of_column }},
        {{ settings }}.days_per_time_unit
{%- endmacro %}

{#- Spark: the table the orchestrated predictive step (scripts/clvlayer/spark.py) wrote for a predictive model,
    next to the model in its schema. -#}
{% macro predictive_step_output(model_name) -%}
    {{- return(api.Relation.create(schema=this.schema, identifier=model_name ~ '__predictive_step')) -}}
{%- endmacro %}
