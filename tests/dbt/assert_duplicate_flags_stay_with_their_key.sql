-- classify_duplicates (macros/staging/quarantine.sql) joins its flags back by row id and key: an incremental run
-- classifies newly read rows beside stored rows of other keys whose row ids came from an earlier read of the same
-- file, so one row id can belong to two keys. Here key 'a' has an exact copy (row 2) and key 'b' a single row that
-- also has row id 2: only a's second copy is flagged, and no row is repeated. Failing rows: any row whose flags
-- differ from the expected ones, or a row id and key that come back more than once.
with

staged_rows as (

    select 1 as row_id, 'a' as order_key, 11 as row_fingerprint, 'first copy' as expected
    union all
    select 2 as row_id, 'a' as order_key, 11 as row_fingerprint, 'exact copy' as expected
    union all
    select 2 as row_id, 'b' as order_key, 22 as row_fingerprint, 'single row' as expected

),

classified as (

    select * from {{ classify_duplicates('staged_rows', ['order_key']) }}

),

wrong_flags as (

    select
        row_id,
        order_key,
        expected,
        'flags' as failure
    from classified
    where
        is_superseded
        or is_conflicting_duplicate
        or is_exact_copy <> (expected = 'exact copy')

),

repeated_rows as (

    select
        row_id,
        order_key,
        min(expected) as expected,
        'repeated' as failure
    from classified
    group by row_id, order_key
    having count(*) > 1

),

final as (

    select * from wrong_flags
    union all
    select * from repeated_rows

)

select * from final
