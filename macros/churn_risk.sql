{#- Churn risk band of a P(no purchase in the next churn_risk_days days): high from var churn_risk_high_from,
    medium from var churn_risk_medium_from, low below it; null when the probability is null. The one banding rule:
    fct_customer_clv_predictions (per customer) and fct_churn_risk_calibration (holdout) both call it. The thresholds'
    order is a settings rule (clvlayer.settings.combination_problems, macros/settings/check_settings.sql): `clv
    check-settings` and every run's start refuse medium above high. -#}
{% macro churn_risk_band(probability) -%}
    {%- set medium_from = var('churn_risk_medium_from') | float -%}
    {%- set high_from = var('churn_risk_high_from') | float -%}
    case
        when {{ probability }} is null then null
        when {{ probability }} >= {{ high_from }} then 'high'
        when {{ probability }} >= {{ medium_from }} then 'medium'
        else 'low'
    end
{%- endmacro %}
