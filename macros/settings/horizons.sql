{#- The fixed horizons, in months, of realised LTV at h months and of LTV/CAC at h months. The columns they generate
    (revenue_first_<h>m, realised_ltv_<h>m, ltv_to_cac_<h>m, ...), their YAML and the MetricFlow metrics are written
    for exactly these, so they are constants here and not settings (they were the vars ltv_realised_horizons_months
    and ltv_cac_horizons_months, which the YAML and the metrics could not follow). A unit test may use smaller ones:
    `overrides: macros: {ltv_cac_horizons_months: [1, 2]}`. -#}
{% macro ltv_cac_horizons_months() -%}
    {{- return([3, 6, 12, 24]) -}}
{%- endmacro %}

{% macro ltv_realised_horizons_months() -%}
    {{- return([6, 12, 24]) -}}
{%- endmacro %}
