{#- The compile-time check of the settings (dbt vars) against their declarations in settings.yml (generated into
    settings_declared()). Run by the on-run-start hook of dbt_project.yml, which dbt renders when it parses the
    project and again before the first node, so every dbt command stops before any node when a var the user gave
    (--vars) is not declared, a value is not what its declaration allows, or the dates disagree. The rules and the
    messages are the ones clvlayer.settings applies in Python (the clv CLI checks there first);
    tests/python/test_settings.py holds the two to the same messages.
    names: check only these vars' values (a model or analysis compiled on its own, which runs no hook). -#}
{% macro check_settings(names=none) -%}
    {%- if names is not none and not execute -%}
        {{- return('') -}}  {#- parsing renders the hook too: it checks everything at once, before any node -#}
    {%- endif -%}
    {%- set declared = settings_declared() -%}
    {%- set problems = [] -%}
    {%- if names is none -%}
        {%- for name in settings_user_vars() if name not in declared['vars'] -%}
            {%- do problems.append('var ' ~ name ~ ' is not a setting of this project (did you mean '
                ~ settings_closest(name, declared['order']) ~ '?); the settings are: '
                ~ declared['order'] | join(', ')) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- for name in (names if names is not none else declared['order']) -%}
        {%- set spec = declared['vars'][name] -%}
        {%- if not settings_value_ok(var(name), spec) -%}
            {%- do problems.append('var ' ~ name ~ ' must be ' ~ spec['requirement'] ~ ', got ' ~ tojson(var(name))) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if names is none and not problems -%}
        {%- do problems.extend(settings_combination_problems()) -%}
    {%- endif -%}
    {%- if problems -%}
        {{ exceptions.raise_compiler_error('Vars (dbt_project.yml, --vars) cannot be used: ' ~ problems | join('; ')
            ~ '. The settings, their allowed values and meanings: settings.yml (docs/settings.md).') }}
    {%- endif -%}
    {{- return('') -}}
{%- endmacro %}

{#- The names of the vars the user set on the command line (dbt passes --vars as a mapping or its YAML text). -#}
{% macro settings_user_vars() -%}
    {%- set given = invocation_args_dict.get('vars') or {} -%}
    {%- if given is string -%}
        {%- set given = fromyaml(given) or {} -%}
    {%- endif -%}
    {{- return(given.keys() | list) -}}
{%- endmacro %}

{#- Whether a value satisfies a declaration (the rules of clvlayer.settings.valid). -#}
{% macro settings_value_ok(value, spec) -%}
    {%- set kind = spec['type'] -%}
    {%- if spec.get('optional') and value is string and value == '' -%}
        {{- return(true) -}}
    {%- elif kind in ('integer', 'number') -%}
        {%- set typed = (value is integer) if kind == 'integer' else (value is number) -%}
        {%- if not typed or value is boolean -%}
            {{- return(false) -}}
        {%- endif -%}
        {{- return(value >= spec.get('min', value) and value <= spec.get('max', value)
            and ('above' not in spec or value > spec['above']) and ('below' not in spec or value < spec['below'])) -}}
    {%- elif kind == 'boolean' -%}
        {{- return(value is boolean) -}}
    {%- elif kind == 'date' -%}
        {{- return(value is not number and value is not boolean
            and modules.re.match('^\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])$', value ~ '') is not none) -}}
    {%- elif kind == 'list' -%}
        {%- if value is string or value is mapping or value is not iterable -%}
            {{- return(false) -}}
        {%- endif -%}
        {%- for item in value if not settings_value_ok(item, spec['items']) -%}
            {{- return(false) -}}
        {%- endfor -%}
        {{- return(true) -}}
    {%- elif kind == 'mapping' -%}
        {%- if value is not mapping -%}
            {{- return(false) -}}
        {%- endif -%}
        {%- for key in spec.get('required_keys', []) if key not in value -%}
            {{- return(false) -}}
        {%- endfor -%}
        {%- for key, item in value.items() -%}
            {%- if ('keys' in spec and key not in spec['keys'])
                or ('values' in spec and not settings_value_ok(item, spec['values'])) -%}
                {{- return(false) -}}
            {%- endif -%}
        {%- endfor -%}
        {{- return(true) -}}
    {%- elif value is not string -%}
        {{- return(false) -}}
    {%- elif 'allowed' in spec and spec.get('case_insensitive') -%}
        {{- return(value | upper in spec['allowed'] | map('upper') | list) -}}
    {%- elif 'allowed' in spec -%}
        {{- return(value in spec['allowed']) -}}
    {%- endif -%}
    {{- return(true) -}}
{%- endmacro %}

{#- Settings valid one by one but not together (the rules of clvlayer.settings.combination_problems). -#}
{% macro settings_combination_problems() -%}
    {%- set found = [] -%}
    {%- set as_of = var('as_of_date') ~ '' -%}
    {%- set clv_as_of = var('clv_as_of_date') ~ '' -%}
    {%- set split = var('clv_holdout_split_date') ~ '' -%}
    {%- set calibration_end = clv_as_of or as_of -%}
    {%- if as_of and clv_as_of and clv_as_of > as_of -%}
        {%- do found.append('var clv_as_of_date (' ~ clv_as_of ~ ') is after as_of_date (' ~ as_of ~ '): the '
            ~ 'predictive models cannot be calibrated on orders the customer metrics leave out') -%}
    {%- endif -%}
    {%- if split and calibration_end and split >= calibration_end -%}
        {%- do found.append('var clv_holdout_split_date (' ~ split ~ ') must be before the calibration end ('
            ~ calibration_end ~ ', ' ~ ('clv_as_of_date' if clv_as_of else 'as_of_date')
            ~ '): the holdout lies between them') -%}
    {%- endif -%}
    {%- if var('churn_risk_medium_from') > var('churn_risk_high_from') -%}
        {%- do found.append('var churn_risk_medium_from (' ~ var('churn_risk_medium_from') ~ ') must not exceed '
            ~ 'churn_risk_high_from (' ~ var('churn_risk_high_from') ~ '): the medium churn-risk band lies between '
            ~ 'them') -%}
    {%- endif -%}
    {%- if var('cvm_vip_value_tier') not in var('value_tier_shares') -%}
        {%- do found.append('var cvm_vip_value_tier must be one of the tiers of value_tier_shares ('
            ~ var('value_tier_shares').keys() | join(', ') ~ '), got ' ~ tojson(var('cvm_vip_value_tier'))) -%}
    {%- endif -%}
    {%- set shares = var('value_tier_shares').values() | list -%}
    {%- set largest_share = shares | max if shares else 1 -%}
    {%- if shares | select('number') | list | length == shares | length and largest_share != 1 -%}
        {%- do found.append('var value_tier_shares must end at 1 (its largest cumulative share is ' ~ largest_share
            ~ '): every ranked customer needs a tier, e.g. {top: 0.1, high: 0.3, medium: 0.6, low: 1.0}') -%}
    {%- endif -%}
    {{- return(found) -}}
{%- endmacro %}

{#- The declared name closest to a misspelt one (Levenshtein distance; the first declared on a tie), as
    clvlayer.settings.closest. -#}
{% macro settings_closest(name, names) -%}
    {%- set best = namespace(name=names[0], distance=1000000) -%}
    {%- for candidate in names -%}
        {%- set previous = namespace(row=range(candidate | length + 1) | list) -%}
        {%- for i in range(name | length) -%}
            {%- set current = namespace(row=[i + 1]) -%}
            {%- for j in range(candidate | length) -%}
                {%- set cost = 0 if name[i] == candidate[j] else 1 -%}
                {%- set current.row = current.row + [[previous.row[j + 1] + 1, current.row[j] + 1,
                    previous.row[j] + cost] | min] -%}
            {%- endfor -%}
            {%- set previous.row = current.row -%}
        {%- endfor -%}
        {%- if previous.row[-1] < best.distance -%}
            {%- set best.name = candidate -%}
            {%- set best.distance = previous.row[-1] -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return(best.name) -}}
{%- endmacro %}
