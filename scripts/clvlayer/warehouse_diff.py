"""Compare every relation of some schemas of two warehouse files: the check that a speed change left every number
identical (benchmarks/compare_warehouses.py) and that an incremental run gives what a full rebuild gives
(tests/python/test_incremental.py).

For each table or view in the schemas, in both files or only one:

* the columns (names and types) must be the same; when they are not, the relation fails and its shared columns
  (same name and type) are still compared, so a change that adds a column shows whether the old ones moved;
* `except all` both ways must be empty; when it is not, the rows are matched on every column that is not a float
  (DOUBLE/FLOAT) and the floats must agree to `rel_tol` relative: reordered float sums differ in the last bits,
  nothing else may;
* columns named in `ignored` are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

FLOAT_TYPES = {"DOUBLE", "FLOAT", "REAL"}


@dataclass
class Outcome:
    relation: str
    rows: int
    ok: bool
    detail: str


def _relations(connection: duckdb.DuckDBPyConnection, catalog: str, schemas: list[str],
               ignored: list[str]) -> dict[str, list]:
    rows = connection.execute(
        "select table_schema || '.' || table_name, column_name, data_type from information_schema.columns "
        "where table_catalog = ? and table_schema in (select unnest(?)) and column_name not in (select unnest(?)) "
        "order by 1, ordinal_position",
        [catalog, schemas, ignored]).fetchall()
    relations: dict[str, list] = {}
    for name, column, kind in rows:
        relations.setdefault(name, []).append((column, kind))
    return relations


def _quoted(relation: str) -> str:
    return ".".join(f'"{part}"' for part in relation.split("."))


def compare_relation(connection: duckdb.DuckDBPyConnection, relation: str, columns: list, rel_tol: float) -> Outcome:
    listed = ", ".join(f'"{c}"' for c, _ in columns)
    before = f"(select {listed} from before.{_quoted(relation)})"
    after = f"(select {listed} from after.{_quoted(relation)})"
    rows = connection.execute(f"select count(*) from {after}").fetchone()[0]
    only_before = connection.execute(
        f"select count(*) from (select * from {before} except all select * from {after})").fetchone()[0]
    only_after = connection.execute(
        f"select count(*) from (select * from {after} except all select * from {before})").fetchone()[0]
    if only_before == only_after == 0:
        return Outcome(relation, rows, True, "identical")
    floats = [c for c, kind in columns if kind.upper() in FLOAT_TYPES]
    keys = [c for c, kind in columns if kind.upper() not in FLOAT_TYPES]
    if not floats or not keys:
        return Outcome(relation, rows, False, f"{only_before} rows only before, {only_after} only after")
    # match the differing rows on every non-float column, then compare the floats
    join = " and ".join(f'b."{k}" is not distinct from a."{k}"' for k in keys)
    worst = ", ".join(
        f'max(case when b."{f}" is null and a."{f}" is null then 0 when b."{f}" is null or a."{f}" is null '
        f'then 1e300 when b."{f}" = a."{f}" then 0 else abs(b."{f}" - a."{f}") / greatest(abs(b."{f}"), abs(a."{f}"), '
        f'1e-300) end) as "{f}"' for f in floats)
    counts = connection.execute(
        f"select count(*) filter (where matched_before), count(*) filter (where matched_after), count(*) from ("
        f"select b.__before_row is not null as matched_before, a.__after_row is not null as matched_after "
        f"from (select *, row_number() over () as __before_row from {before}) as b "
        f"full join (select *, row_number() over () as __after_row from {after}) as a on {join})").fetchone()
    differences = connection.execute(
        f"select {worst} from {before} as b inner join {after} as a on {join}").fetchone()
    worst_by_column = {f: (value or 0.0) for f, value in zip(floats, differences)}
    unmatched = counts[2] - min(counts[0], counts[1])
    bad = {f: v for f, v in worst_by_column.items() if v >= rel_tol}
    if counts[0] == counts[1] == counts[2] and not bad:
        top = max(worst_by_column.values())
        return Outcome(relation, rows, True, f"floats within {top:.1e} relative")
    return Outcome(relation, rows, False, f"{only_before} rows only before, {only_after} only after; unmatched on "
                   f"non-float columns: {unmatched}; float columns over tolerance: {bad}")


def compare(before: str, after: str, schemas: list[str], rel_tol: float, ignored: list[str]) -> list[Outcome]:
    connection = duckdb.connect()
    connection.execute("set TimeZone = 'UTC'")
    connection.execute(f"attach '{before}' as before (read_only)")
    connection.execute(f"attach '{after}' as after (read_only)")
    left = _relations(connection, "before", schemas, ignored)
    right = _relations(connection, "after", schemas, ignored)
    outcomes = []
    for relation in sorted(set(left) | set(right)):
        if relation not in right or relation not in left:
            outcomes.append(Outcome(relation, 0, False, "only in " + ("before" if relation in left else "after")))
        elif left[relation] != right[relation]:
            outcomes.append(_compare_shared_columns(connection, relation, left[relation], right[relation], rel_tol))
        else:
            outcomes.append(compare_relation(connection, relation, left[relation], rel_tol))
    return outcomes


def _compare_shared_columns(connection: duckdb.DuckDBPyConnection, relation: str, before: list, after: list,
                            rel_tol: float) -> Outcome:
    """A relation whose columns changed: name the added, removed and retyped columns, compare the shared ones."""
    shared = [column for column in before if column in after]
    names_after = {name for name, _ in after}
    removed = [name for name, _ in before if name not in names_after]
    retyped = [name for name, kind in before if name in names_after and (name, kind) not in after]
    added = [name for name, _ in after if name not in {n for n, _ in before}]
    changes = f"columns differ: added {added}, removed {removed}, retyped {retyped}"
    if not shared:
        return Outcome(relation, 0, False, changes)
    outcome = compare_relation(connection, relation, shared, rel_tol)
    return Outcome(relation, outcome.rows, False, f"{changes}; shared columns: {outcome.detail}")
