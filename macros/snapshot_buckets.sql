{#- The as-of snapshot bucket of each day of `rows` (column `day_column`): the earliest as_of_date of `snapshots` on
    or after it (later days fall into none). A query returning day_column and bucket_date. Facts aggregated once per
    bucket and summed over the buckets up to a snapshot's date equal the facts of every row on or before that date,
    without joining every row to every snapshot (int_customers_aggregated_to_snapshots, int_customers_segmented,
    int_customers_value_aged). -#}
{% macro snapshot_buckets(rows, snapshots, day_column='ordered_on') -%}
    select
        row_days.{{ day_column }},
        min({{ snapshots }}.as_of_date) as bucket_date
    from (select distinct {{ day_column }} from {{ rows }}) as row_days
    inner join {{ snapshots }} on row_days.{{ day_column }} <= {{ snapshots }}.as_of_date
    group by row_days.{{ day_column }}
{%- endmacro %}
