{#- The loyalty segment of a loyalty flag: member, non_member, or unknown when the flag is null (no customers table,
    a customer it does not list, or a blank is_loyalty_member). -#}
{% macro loyalty_segment(is_loyalty_member) -%}
    case
        when {{ is_loyalty_member }} then 'member'
        when not {{ is_loyalty_member }} then 'non_member'
        else 'unknown'
    end
{%- endmacro %}
