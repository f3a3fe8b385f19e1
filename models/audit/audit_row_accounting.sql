-- Row accounting per raw table: every raw row is either clean (in stg_shop__<table>) or quarantined (in
-- quarantine_shop__<table>, with a reason); the unaccounted_rows test in _audit__models.yml asserts it.
-- Raw rows are counted on base_shop__<table>, which holds every raw row unfiltered, so the input files are not
-- read a second time (tests/python/test_build_reconciles.py checks raw_rows against the files themselves).
{%- set tables = raw_tables() %}

with

{% for table in tables %}
    {{ table }}_counts as (

        select
            '{{ table }}' as source_table,
            (select count(*) from {{ ref('base_shop__' ~ table) }}) as raw_rows,
            (select count(*) from {{ ref('stg_shop__' ~ table) }}) as clean_rows,
            (select count(*) from {{ ref('quarantine_shop__' ~ table) }}) as quarantined_rows

    ),

{% endfor %}
final as (

    {% for table in tables %}
        select * from {{ table }}_counts
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select
    source_table,
    raw_rows,
    clean_rows,
    quarantined_rows,
    raw_rows - clean_rows - quarantined_rows as unaccounted_rows,
    {{ safe_divide('quarantined_rows', 'raw_rows') }} as quarantined_share
from final
