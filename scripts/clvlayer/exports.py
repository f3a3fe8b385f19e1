"""Saved queries materialized at build time (what dbt Cloud's exports do; open-source MetricFlow has no runner).

After `dbt build` has written and audited the build file, and before it is published, every saved query of the
semantic manifest (models/marts/saved_queries.yml) is planned in-process by the metrics service's planner
(clvlayer.serve.Planner, the same SQL `mf query --saved-query` and `clv serve` give) and each of its exports becomes
`create table <schema>.<export name> as <that SQL>` in the build file (schema `exports` unless the export's config
says another). The published warehouse therefore carries them with the marts, from the same run. A saved query
that does not plan fails the build before publishing, naming the query. `clv export NAME` writes one of the
published tables as CSV or Parquet.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass
from pathlib import Path

EXPORT_SCHEMA = "exports"
SAVED_QUERIES_YAML = "models/marts/saved_queries.yml"
FORMATS = ("csv", "parquet")


class ExportError(RuntimeError):
    """A saved query that cannot be exported; the message names it and the fix."""


@dataclass(frozen=True)
class Export:
    saved_query: str
    schema: str
    table: str
    sql: str


# How many semantic manifests' plans a process keeps (by their text; the plan depends on nothing else). A process that
# builds many times (the test suite: ~100 builds on two workers, nearly all of one manifest) plans each manifest once
# instead of once per build: MetricFlow's engine built from the manifest and the five saved queries planned cost
# ~0.3-0.8 CPU s a build. A manifest that fails to plan is not kept (it fails again).
PLANS_KEPT = 4


def plan_exports(manifest_json: str) -> list[Export]:
    """Every export of every saved query in the manifest, with its SQL (ExportError names a query that fails);
    planned once per manifest text in this process."""
    return list(_plan(manifest_json))


@functools.lru_cache(maxsize=PLANS_KEPT)
def _plan(manifest_json: str) -> tuple[Export, ...]:
    from clvlayer.serve import MetricQuery, Planner

    planner = Planner(manifest_json)
    planned = []
    for name, saved in sorted(planner.saved_queries.items()):
        try:
            sql = planner.sql(MetricQuery(saved_query=name))
        except Exception as error:  # noqa: BLE001 - any planning failure is this saved query's
            detail = getattr(error, "message", None) or str(error)
            raise ExportError(f"saved query {name!r} ({SAVED_QUERIES_YAML}) does not plan, so the build is not "
                              f"published: {detail.strip()[:800]}\nFix: correct its metrics, group_by or where "
                              f"(`clv mf -- query --saved-query {name} --explain` shows MetricFlow's view).") from error
        for export in saved.get("exports") or [{"name": name, "config": {}}]:
            config = export.get("config") or {}
            planned.append(Export(name, config.get("schema_name") or config.get("schema") or EXPORT_SCHEMA,
                                  config.get("alias") or export["name"], sql))
    return tuple(planned)


@dataclass
class Materialized:
    rows: dict[str, int]  # rows per `schema.table`
    skipped: dict[str, str]  # `schema.table` -> why (a build that selected only some models lacks their tables)
    seconds: float = 0.0


def materialize(database: Path, exports: list[Export], catalog: str | None = None) -> Materialized:
    """Create each export's table in `database` (writable), dropping tables of exports that no longer exist (an
    incremental build starts from the published file)."""
    import duckdb

    done = Materialized({}, {})
    with duckdb.connect(str(database)) as connection:
        current = connection.execute("select current_database()").fetchone()[0]
        if catalog is not None and catalog != current:
            raise ExportError(f"the semantic manifest names database {catalog!r} but the build file is {current!r}")
        _drop_stale(connection, current, exports)
        for export in exports:
            name = f"{export.schema}.{export.table}"
            try:
                connection.execute(f'create or replace table "{export.schema}"."{export.table}" as {export.sql}')
            except duckdb.CatalogException as error:  # a model this build did not select
                done.skipped[name] = _first_line(str(error))
                continue
            done.rows[name] = connection.execute(f'select count(*) from "{export.schema}"."{export.table}"').fetchone()[0]
    return done


def _drop_stale(connection: object, catalog: str, exports: list[Export]) -> None:
    wanted = {(e.schema, e.table) for e in exports}
    for schema in sorted({schema for schema, _ in wanted} | {EXPORT_SCHEMA}):
        connection.execute(f'create schema if not exists "{schema}"')
        tables = connection.execute("select table_name from information_schema.tables "
                                    "where table_schema = ? and table_catalog = ?", [schema, catalog]).fetchall()
        for (table,) in tables:
            if (schema, table) not in wanted:
                connection.execute(f'drop table "{schema}"."{table}"')


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), text)


def export_saved_queries(database: Path, semantic_manifest: Path) -> Materialized:
    """Plan and materialize every saved query's exports into `database`."""
    from clvlayer.serve import _manifest_catalog

    started = time.monotonic()
    text = semantic_manifest.read_text()
    done = materialize(database, plan_exports(text), catalog=_manifest_catalog(json.loads(text)))
    done.seconds = time.monotonic() - started
    return done


def write_export_file(warehouse: Path, table: str, fmt: str, out: Path) -> int:
    """Write the published export table `table` (`name` or `schema.name`) to `out` as CSV or Parquet; returns rows."""
    import duckdb

    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    schema, _, name = table.rpartition(".")
    schema = schema or EXPORT_SCHEMA
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        known = [f"{s}.{t}" for s, t in connection.execute(
            "select table_schema, table_name from information_schema.tables where table_schema = ? order by 2",
            [schema]).fetchall()]
        if f"{schema}.{name}" not in known:
            raise ExportError(f"{warehouse} has no export table {schema}.{name}; exports there: "
                              f"{', '.join(known) or 'none (rebuild with `clv build`)'}")
        out.parent.mkdir(parents=True, exist_ok=True)
        target = str(out).replace("'", "''")
        connection.execute(f"copy (select * from \"{schema}\".\"{name}\" order by all) to '{target}' (format {fmt})")
        return connection.execute(f'select count(*) from "{schema}"."{name}"').fetchone()[0]
