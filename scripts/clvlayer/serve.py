"""`clv serve`: the metrics service. MetricFlow loaded once, the published warehouse open read-only, metric queries
and saved queries answered over HTTP as JSON, CSV or Arrow (docs/analyst_guide.md "The metrics service").

  * MetricFlow plans, DuckDB executes: the semantic manifest is parsed once at start into the server's own folder
    (or read from --manifest), MetricFlow's engine turns a request into SQL (cached per request), and the SQL runs
    on a cursor of a read-only DuckDB instance; no write lock is ever taken, so builds, dashboards and notebooks
    keep working beside it;
  * one snapshot per published file: the file is opened through its descriptor (/proc/self/fd), so the snapshot is
    exactly the inode that was checked, and attached under the catalog name the manifest's relations use. When a
    build publishes (publish.publish_file renames a new file over the warehouse), the next request or the watcher
    (every `poll` seconds) sees a new inode, opens it, swaps it in, and closes the old one when its last query ends.
    Every answer names the run it came from (audit.build_run inside the file it read);
  * requests are checked before anything runs: known metrics, saved queries and group-bys, filters made of
    MetricFlow references, literals and operators only (raw SQL is never accepted), a row limit, a timeout
    (DuckDB interrupt, 504). Errors are JSON with what is valid; a stack trace only goes to the server's log;
  * 127.0.0.1 by default; another address needs a token (--token or $CLV_SERVICE_TOKEN), sent as
    `Authorization: Bearer <token>`; a configured token is required on every request.

Only the standard library is imported at module level, so `clv` can register the command cheaply.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hmac
import inspect
import io
import json
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from clvlayer.query_client import TOKEN_ENV

DEFAULT_PORT = 8765
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
FORMATS = {"json": "application/json", "csv": "text/csv; charset=utf-8",
           "arrow": "application/vnd.apache.arrow.stream"}
LIST_KEYS = ("metrics", "group_by", "order_by")
PARAMETERS = (*LIST_KEYS, "where", "limit", "saved_query", "start_time", "end_time", "format")
DATASET_PARAMETERS = ("name", "args", "format")  # GET /dataset: a dashboard loader by name and its JSON arguments

log = logging.getLogger("clvlayer.serve")


class RequestError(Exception):
    """A request the service refuses: HTTP status, a short error code, a message and what would be valid."""

    def __init__(self, status: int, error: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status, self.error, self.details = status, error, details

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "message": str(self), **self.details}


# --- requests ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MetricQuery:
    metrics: tuple[str, ...] = ()
    group_by: tuple[str, ...] = ()
    where: tuple[str, ...] = ()
    order_by: tuple[str, ...] = ()
    limit: int | None = None
    saved_query: str | None = None
    start_time: str | None = None
    end_time: str | None = None


def parse_query(params: dict[str, list[str]], max_rows: int) -> MetricQuery:
    """A MetricQuery from query-string style parameters (lists; metrics/group_by/order_by may be comma-separated)."""
    unknown = sorted(set(params) - set(PARAMETERS))
    if unknown:
        raise RequestError(400, "unknown_parameter", f"unknown parameter(s): {', '.join(unknown)}",
                           valid_parameters=list(PARAMETERS))
    lists = {key: tuple(item.strip() for value in params.get(key, []) for item in value.split(",") if item.strip())
             for key in LIST_KEYS}
    where = tuple(value for value in params.get("where", []) if value.strip())
    for condition in where:
        check_filter(condition)
    saved = (params.get("saved_query") or [""])[-1].strip() or None
    return MetricQuery(**lists, where=where, limit=_limit((params.get("limit") or [""])[-1], max_rows),
                       saved_query=saved, start_time=_time(params, "start_time"), end_time=_time(params, "end_time"))


def _time(params: dict[str, list[str]], key: str) -> str | None:
    text = (params.get(key) or [""])[-1].strip()
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).isoformat()
    except ValueError:
        raise RequestError(400, "bad_time", f"{key} {text!r} is not an ISO date or timestamp (e.g. 2024-07-01)")\
            from None


def _limit(text: str, max_rows: int) -> int | None:
    if not text.strip():
        return None
    if not text.strip().isdigit() or int(text) < 1:
        raise RequestError(400, "bad_limit", f"limit must be a positive whole number, not {text!r}",
                           max_rows=max_rows)
    if int(text) > max_rows:
        raise RequestError(400, "bad_limit", f"limit {text} is above the service's row limit {max_rows}",
                           max_rows=max_rows)
    return int(text)


_FILTER_TOKEN = re.compile(r"""
    (?P<ref>\{\{\s*(?:Dimension|TimeDimension|Entity|Metric)\(\s*'[A-Za-z0-9_]+'
        (?:\s*,\s*(?:'[A-Za-z0-9_]+'|\[\s*'[A-Za-z0-9_]+'(?:\s*,\s*'[A-Za-z0-9_]+')*\s*\]))*\s*\)
        (?:\.grain\(\s*'[a-z]+'\s*\))?\s*\}\})
  | (?P<string>'(?:[^'\\]|'')*')
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<op><=|>=|<>|!=|=|<|>|\(|\)|,)
  | (?P<word>[A-Za-z]+)
  | (?P<space>\s+)
""", re.VERBOSE)
FILTER_WORDS = frozenset({"and", "or", "not", "in", "is", "null", "between", "like", "ilike", "true", "false",
                          "date", "timestamp"})
FILTER_HELP = ("a filter is MetricFlow references ({{ Dimension('customer__channel') }}, {{ TimeDimension("
               "'metric_time', 'month') }}, {{ Entity('customer') }}, {{ Metric('orders', ['customer']) }}), "
               "quoted strings, numbers, comparison operators, parentheses, commas and the words "
               + ", ".join(sorted(w.upper() for w in FILTER_WORDS)) + "; no other SQL")


def check_filter(condition: str) -> None:
    """Refuse a where filter that is anything but MetricFlow references, literals and operators (no raw SQL)."""
    position, references, depth = 0, 0, 0
    while position < len(condition):
        match = _FILTER_TOKEN.match(condition, position)
        if match is None or (match.lastgroup == "word" and match.group().lower() not in FILTER_WORDS):
            bad = condition[position:position + 30]
            raise RequestError(400, "malformed_filter", f"filter {condition!r}: not allowed at {bad!r}",
                               allowed=FILTER_HELP)
        references += match.lastgroup == "ref"
        depth += {"(": 1, ")": -1}.get(match.group(), 0) if match.lastgroup == "op" else 0
        if depth < 0:
            break
        position = match.end()
    if depth != 0:
        raise RequestError(400, "malformed_filter", f"filter {condition!r}: unbalanced parentheses",
                           allowed=FILTER_HELP)
    if not references:
        raise RequestError(400, "malformed_filter", f"filter {condition!r} names no dimension, entity or metric",
                           allowed=FILTER_HELP)


# --- MetricFlow: requests to SQL -------------------------------------------------------------------------------------

def metric_time_note(description: str | None) -> str:
    """What a metric's `metric_time` means, as its description says (the sentence naming metric_time), else the
    description's first sentence."""
    sentences = [s.strip() for s in re.split(r"(?<=[.;])\s+", " ".join((description or "").split())) if s.strip()]
    return next((s for s in sentences if "metric_time" in s), sentences[0] if sentences else "")


class _PlanOnlySqlClient:
    """What MetricFlow's engine needs to render DuckDB SQL; the service runs the SQL itself, read-only."""

    def __init__(self) -> None:
        from metricflow.protocols.sql_client import SqlEngine
        from metricflow.sql.render.duckdb_renderer import DuckDbSqlPlanRenderer

        self.sql_engine_type = SqlEngine.DUCKDB
        self.sql_plan_renderer = DuckDbSqlPlanRenderer()

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the metrics service executes SQL on its own read-only connection")

    query = execute = dry_run = _refuse

    def close(self) -> None:
        pass

    def render_bind_parameter_key(self, bind_parameter_key: str) -> str:
        return f"${bind_parameter_key}"


class Planner:
    """MetricFlow's engine over one semantic manifest: validates requests and renders their SQL (thread-safe; the
    engine keeps global id counters, so planning is serialized, and each request's SQL is cached)."""

    def __init__(self, manifest_json: str, cache_size: int = 512) -> None:
        from metricflow.engine.metricflow_engine import MetricFlowEngine
        from metricflow_semantics.model.dbt_manifest_parser import parse_manifest_from_dbt_generated_manifest
        from metricflow_semantics.model.semantic_manifest_lookup import SemanticManifestLookup

        raw = json.loads(manifest_json)
        self.catalog = _manifest_catalog(raw)
        manifest = parse_manifest_from_dbt_generated_manifest(manifest_json_string=manifest_json)
        self.engine = MetricFlowEngine(semantic_manifest_lookup=SemanticManifestLookup(manifest),
                                       sql_client=_PlanOnlySqlClient())
        self.metrics = {m["name"]: m for m in raw.get("metrics", [])}
        self.saved_queries = {q["name"]: q for q in raw.get("saved_queries", [])}
        self._lock = threading.RLock()  # group_bys() is also called while planning holds it
        self._cache: OrderedDict[MetricQuery, str] = OrderedDict()
        self._group_bys: dict[tuple[str, ...], list[str]] = {}
        self._cache_size = cache_size

    def metric_notes(self, names: tuple[str, ...]) -> dict[str, dict[str, str]]:
        return {name: {"description": (self.metrics[name].get("description") or "").strip(),
                       "metric_time": metric_time_note(self.metrics[name].get("description"))}
                for name in names if name in self.metrics}

    def query_metrics(self, query: MetricQuery) -> tuple[str, ...]:
        if query.saved_query:
            params = self.saved_queries[query.saved_query].get("query_params", {})
            return tuple(params.get("metrics", []))
        return query.metrics

    def group_bys(self, metrics: tuple[str, ...]) -> list[str]:
        """The group-by names valid for all these metrics (metric_time with each grain it supports first)."""
        key = tuple(sorted(metrics))
        if key not in self._group_bys:
            with self._lock:
                items = self.engine.list_group_bys(list(key))
            names: set[str] = set()
            for item in items:
                names.update(_group_by_names(item))
            self._group_bys[key] = sorted(names, key=lambda n: (not n.startswith("metric_time"), n))
        return self._group_bys[key]

    def sql(self, query: MetricQuery) -> str:
        self.validate(query)
        with self._lock:
            if query in self._cache:
                self._cache.move_to_end(query)
                return self._cache[query]
            try:
                sql = self._render(query)
            except Exception as error:  # MetricFlow says what is wrong with the request; never a trace to the client
                raise self._request_error(query, error) from error
            self._cache[query] = sql
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
            return sql

    def validate(self, query: MetricQuery) -> None:
        if query.saved_query:
            if query.saved_query not in self.saved_queries:
                raise RequestError(400, "unknown_saved_query", f"no saved query {query.saved_query!r}",
                                   valid_saved_queries=sorted(self.saved_queries))
            if query.metrics or query.group_by:
                raise RequestError(400, "bad_request", "a saved query takes no metrics or group_by (it names its "
                                   "own); where, order_by and limit are allowed")
            return
        if not query.metrics:
            raise RequestError(400, "no_metrics", "name at least one metric (metrics=...) or a saved query "
                               "(saved_query=...)", valid_metrics=sorted(self.metrics),
                               valid_saved_queries=sorted(self.saved_queries))
        unknown = [name for name in query.metrics if name not in self.metrics]
        if unknown:
            raise RequestError(400, "unknown_metric", f"unknown metric(s): {', '.join(unknown)}",
                               valid_metrics=sorted(self.metrics))

    def _render(self, query: MetricQuery) -> str:
        from metricflow.engine.metricflow_engine import MetricFlowQueryRequest

        request = MetricFlowQueryRequest.create(
            saved_query_name=query.saved_query, metric_names=list(query.metrics) or None,
            group_by_names=list(query.group_by) or None, where_constraints=list(query.where) or None,
            order_by_names=list(query.order_by) or None, limit=query.limit,
            time_constraint_start=datetime.fromisoformat(query.start_time) if query.start_time else None,
            time_constraint_end=datetime.fromisoformat(query.end_time) if query.end_time else None)
        return self.engine.explain(mf_request=request).sql_statement.without_descriptions.sql

    def _plans(self, query: MetricQuery) -> bool:
        try:
            self._render(query)
        except Exception:  # noqa: BLE001 - only whether it plans matters here
            return False
        return True

    def _request_error(self, query: MetricQuery, error: Exception) -> Exception:
        """A 400 naming what is valid for a request MetricFlow refused; an unexpected error stays as it is."""
        from metricflow_semantics.errors.error_classes import InformativeUserError, MetricFlowInternalError

        user_error = isinstance(error, InformativeUserError) or (
            not isinstance(error, MetricFlowInternalError) and type(error).__module__.split(".")[0] in
            {"metricflow", "metricflow_semantics", "jinja2", "pydantic", "dbt_semantic_interfaces",
             "metricflow_semantic_interfaces"})
        if not user_error:
            return error
        message = _first_lines(str(error), 40)
        bad_filter = bool(query.where) and self._plans(replace(query, where=()))
        try:
            valid = self.group_bys(self.query_metrics(query))
        except Exception:  # noqa: BLE001 - the list is a courtesy; the error stands without it
            valid = []
        return RequestError(400, "malformed_filter" if bad_filter else "invalid_query", message,
                            metrics=list(self.query_metrics(query)), valid_group_by=valid)


GRAINS = ("day", "week", "month", "quarter", "year")


def _group_by_names(item: Any) -> list[str]:
    """An entity's name, a dimension's dunder name, a time dimension's name with each grain it can be queried at."""
    name = getattr(item, "dunder_name", None) or item.name
    grain = getattr(getattr(item, "type_params", None), "time_granularity", None)
    if grain is None:
        return [name]
    grain = str(getattr(grain, "value", grain)).lower()
    base = next((name[:-len(g) - 2] for g in GRAINS if name.endswith(f"__{g}")), name)
    start = GRAINS.index(grain) if grain in GRAINS else 0
    return [base, *(f"{base}__{g}" for g in GRAINS[start:])]


def _first_lines(text: str, count: int) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return "\n".join(lines[:count]) + ("\n..." if len(lines) > count else "")


def _manifest_catalog(raw: dict[str, Any]) -> str:
    """The database name the manifest's relations use (one for the whole project)."""
    names = {model["node_relation"].get("database") for model in raw.get("semantic_models", [])}
    names.discard(None)
    if len(names) != 1:
        raise ValueError(f"the semantic manifest names {len(names)} databases ({sorted(names)}); expected one")
    return names.pop()


def load_manifest(warehouse: Path, manifest: Path | None, workdir: Path) -> str:
    """The semantic manifest's JSON, copied into `workdir` (the server's own place): from `manifest`, else from a
    `dbt parse` of the project as it is now into `workdir` (never the shared target/)."""
    workdir.mkdir(parents=True, exist_ok=True)
    if manifest is None:
        from clvlayer.dbt_runner import run_dbt

        parse_dir = workdir / "target"
        parsed = run_dbt(["--quiet", "parse", "--target-path", str(parse_dir)],
                         duckdb_path=workdir / warehouse.name, quiet=True)
        if not parsed.success:
            raise RuntimeError(f"dbt parse failed: {parsed.failures}")
        manifest = parse_dir / "semantic_manifest.json"
    text = manifest.read_text()
    json.loads(text)  # a manifest being rewritten by a build fails here, before anything uses it
    (workdir / "semantic_manifest.json").write_text(text)
    return text


# --- the warehouse: read-only snapshots, swapped when a build publishes -----------------------------------------------

@dataclass(eq=False)
class Snapshot:
    connection: Any
    run_id: str
    identity: tuple[int, int, int]  # device, inode, mtime_ns of the published file when opened
    currency: str | None = None  # the run record's reporting_currency (the dashboard labels money with it)
    opened_at: float = field(default_factory=time.time)
    users: int = 0
    retired: bool = False


class Warehouse:
    """The published warehouse file, opened read-only; a new file is swapped in atomically, the old one closed when
    its last query ends."""

    def __init__(self, path: Path, catalog: str) -> None:
        self.path, self.catalog = path, catalog
        self._lock = threading.Lock()
        self._opening = threading.Lock()
        self._current: Snapshot | None = None
        self.swaps = 0

    def refresh(self) -> None:
        """Swap in the published file if it is not the one being served (a cheap stat when nothing changed)."""
        identity = _identity(self.path)
        current = self._current
        if identity is None or (current is not None and current.identity == identity):
            return
        if not self._opening.acquire(blocking=current is None):
            return  # another thread is opening it; keep serving the current snapshot meanwhile
        try:
            if self._current is not None and self._current.identity == _identity(self.path):
                return
            snapshot = self._open()
            with self._lock:
                old, self._current = self._current, snapshot
                if old is not None:
                    old.retired = True
                    self.swaps += 1
            log.info("serving run %s (%s)", snapshot.run_id, self.path)
            if old is not None:
                self._release(old, count=False)
        finally:
            self._opening.release()

    def _open(self) -> Snapshot:
        import duckdb

        descriptor = os.open(self.path, os.O_RDONLY)
        try:
            stat = os.fstat(descriptor)
            connection = duckdb.connect(":memory:")
            source = f"/proc/self/fd/{descriptor}" if os.path.isdir("/proc/self/fd") else str(self.path).replace("'", "''")
            connection.execute(f"attach '{source}' as \"{self.catalog}\" (read_only)")
        finally:
            os.close(descriptor)  # DuckDB holds its own descriptor of the same inode
        connection.execute(f'use "{self.catalog}"')
        run_id = _run_id(connection, self.path)
        connection.execute("set enable_external_access = false")  # no file or network access from a query
        connection.execute("set lock_configuration = true")
        return Snapshot(connection, run_id, (stat.st_dev, stat.st_ino, stat.st_mtime_ns), _currency(connection))

    @contextlib.contextmanager
    def use(self) -> Iterator[Snapshot]:
        """The current snapshot, kept open while the caller uses it."""
        try:
            self.refresh()
        except Exception:  # a published file that does not open: keep serving the previous one, if there is one
            log.exception("could not open the published warehouse %s", self.path)
            if self._current is None:
                raise RequestError(503, "warehouse_unreadable", f"the warehouse {self.path} does not open "
                                   "read-only; see the service's log") from None
        with self._lock:
            snapshot = self._current
            if snapshot is None:
                raise RequestError(503, "no_warehouse", f"no published warehouse at {self.path}: run `clv build`")
            snapshot.users += 1
        try:
            yield snapshot
        finally:
            self._release(snapshot)

    def _release(self, snapshot: Snapshot, count: bool = True) -> None:
        with self._lock:
            snapshot.users -= 1 if count else 0
            close = snapshot.retired and snapshot.users == 0
        if close:
            snapshot.connection.close()

    def current(self) -> Snapshot | None:
        return self._current

    def close(self) -> None:
        with self._lock:
            if self._current is not None:
                self._current.retired = True
                snapshot, self._current = self._current, None
                if snapshot.users == 0:
                    snapshot.connection.close()


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return (stat.st_dev, stat.st_ino, stat.st_mtime_ns)


def _currency(connection: Any) -> str | None:
    """The reporting currency the file's run record names (clvlayer.dashboard.currency), None when it names none."""
    import duckdb

    from clvlayer.dashboard.currency import _recorded

    with contextlib.suppress(duckdb.Error, ValueError, TypeError):
        row = connection.execute("select record from audit.build_run").fetchone()
        return _recorded(json.loads(row[0])) if row else None
    return None


def _run_id(connection: Any, path: Path) -> str:
    """The run recorded inside the file (audit.build_run), else runs.jsonl's last published run."""
    import duckdb

    with contextlib.suppress(duckdb.Error):
        row = connection.execute("select run_id from audit.build_run").fetchone()
        if row:
            return str(row[0])
    from clvlayer.publish import last_published, read_runs

    latest = last_published(read_runs(path))
    return f"{latest['run_id']} (runs.jsonl; the file has no audit.build_run)" if latest else "unknown"


# --- executing a query --------------------------------------------------------------------------------------------

@dataclass
class Answer:
    run_id: str
    table: Any  # pyarrow.Table
    metrics: dict[str, dict[str, str]]
    seconds: float


class MetricsService:
    def __init__(self, planner: Planner, warehouse: Warehouse, *, timeout: float, max_rows: int) -> None:
        self.planner, self.warehouse = planner, warehouse
        self.timeout, self.max_rows = timeout, max_rows

    def answer(self, query: MetricQuery) -> Answer:
        started = time.perf_counter()
        sql = self.planner.sql(query)
        with self.warehouse.use() as snapshot:
            table = self._execute(snapshot, sql)
        return Answer(snapshot.run_id, table, self.planner.metric_notes(self.planner.query_metrics(query)),
                      time.perf_counter() - started)

    def _execute(self, snapshot: Snapshot, sql: str) -> Any:
        import duckdb
        import pyarrow as pa

        cursor = snapshot.connection.cursor()
        done = threading.Event()
        threading.Thread(target=_interrupt_after, args=(cursor, self.timeout, done), daemon=True).start()
        try:
            reader = cursor.execute(sql).to_arrow_reader(min(self.max_rows + 1, 100_000))
            batches, rows = [], 0
            for batch in reader:
                batches.append(batch)
                rows += batch.num_rows
                if rows > self.max_rows:
                    raise RequestError(413, "too_many_rows", f"the answer has more than {self.max_rows:,} rows "
                                       "(the service's row limit): add a limit, a filter or a coarser grain",
                                       max_rows=self.max_rows)
            return pa.Table.from_batches(batches, schema=reader.schema)
        except duckdb.InterruptException:
            raise RequestError(504, "timeout", f"the query ran past the service's timeout of {self.timeout:g} s",
                               timeout_seconds=self.timeout) from None
        except (duckdb.ConversionException, duckdb.BinderException, duckdb.ParserException) as error:
            raise RequestError(400, "malformed_filter", "the filter does not fit the data: "
                               + _first_lines(str(error), 3), allowed=FILTER_HELP) from None
        finally:
            done.set()
            cursor.close()


    def dataset(self, params: dict[str, list[str]]) -> Answer:
        """A dashboard loader (clvlayer.dashboard.data.LOADERS) by name, run on the current snapshot: the SQL is the
        loader's own, never the request's; the request names the loader and its arguments (JSON)."""
        import pyarrow as pa

        from clvlayer.dashboard import data

        started = time.perf_counter()
        unknown = sorted(set(params) - set(DATASET_PARAMETERS))
        if unknown:
            raise RequestError(400, "unknown_parameter", f"unknown parameter(s): {', '.join(unknown)}",
                               valid_parameters=list(DATASET_PARAMETERS))
        name = (params.get("name") or [""])[-1]
        loader = data.LOADERS.get(name)
        if loader is None:
            raise RequestError(404, "unknown_dataset", f"no dataset {name!r}", valid_datasets=sorted(data.LOADERS))
        signature = inspect.signature(loader)
        try:
            args, kwargs = data.decode_arguments((params.get("args") or [""])[-1])
            signature.bind(None, *args, **kwargs)
        except (ValueError, TypeError) as error:
            raise RequestError(400, "bad_arguments", f"{name}{signature}: {error}") from None
        with self.warehouse.use() as snapshot:
            frame = loader(SnapshotReader(snapshot, self.warehouse.catalog, self.timeout), *args, **kwargs)
        return Answer(snapshot.run_id, pa.Table.from_pandas(frame, preserve_index=False), {},
                      time.perf_counter() - started)


class SnapshotReader:
    """A dashboard loader's SQL run on a snapshot's cursor, with the service's timeout (clvlayer.dashboard.data.Reader)."""

    def __init__(self, snapshot: Snapshot, catalog: str, timeout: float) -> None:
        self.snapshot, self.catalog, self.timeout = snapshot, catalog, timeout

    def frame(self, sql: str, params: dict[str, Any]) -> Any:
        import duckdb

        cursor = self.snapshot.connection.cursor()
        cursor.execute(f'use "{self.catalog}"')  # a cursor starts in the in-memory catalog; loaders name schema.table
        done = threading.Event()
        threading.Thread(target=_interrupt_after, args=(cursor, self.timeout, done), daemon=True).start()
        try:
            return cursor.execute(sql, params).df()
        except duckdb.InterruptException:
            raise RequestError(504, "timeout", f"the dataset ran past the service's timeout of {self.timeout:g} s",
                               timeout_seconds=self.timeout) from None
        except (duckdb.CatalogException, duckdb.BinderException) as error:
            raise RequestError(503, "warehouse_outdated", "the served warehouse lacks a mart or column this dataset "
                               f"reads ({_first_lines(str(error), 1)}): rebuild it with `clv build` from this "
                               "checkout") from None
        finally:
            done.set()
            cursor.close()


def _interrupt_after(cursor: Any, seconds: float, done: threading.Event) -> None:
    """Interrupt the cursor's query once `seconds` have passed, and again every 10 ms until it stops (an interrupt
    that lands before DuckDB has started the query is lost)."""
    if done.wait(seconds):
        return
    while not done.is_set():
        with contextlib.suppress(Exception):
            cursor.interrupt()
        done.wait(0.01)


def _json_value(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def render(answer: Answer, fmt: str) -> bytes:
    table = answer.table
    if fmt == "arrow":
        import pyarrow as pa

        sink = io.BytesIO()
        schema = table.schema.with_metadata({**(table.schema.metadata or {}), b"run_id": answer.run_id.encode(),
                                             b"metrics": json.dumps(answer.metrics).encode()})
        with pa.ipc.new_stream(sink, schema) as writer:
            writer.write_table(table.replace_schema_metadata(schema.metadata))
        return sink.getvalue()
    columns = table.column_names
    rows = [[_json_value(v) for v in row] for row in zip(*(c.to_pylist() for c in table.columns))] \
        if table.num_columns else []
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
        return out.getvalue().encode()
    return json.dumps({"run_id": answer.run_id, "columns": columns, "rows": rows, "row_count": len(rows),
                       "metrics": answer.metrics, "elapsed_ms": round(answer.seconds * 1000, 2)}).encode()


# --- HTTP -------------------------------------------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    server: "MetricsHTTPServer"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        log.info("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch(parse_qs(urlsplit(self.path).query, keep_blank_values=True))

    def do_POST(self) -> None:  # noqa: N802
        try:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}") if length <= 1_000_000 else None
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            self._send_json(400, {"error": "bad_body", "message": "POST a JSON object (at most 1 MB) with keys "
                                  + ", ".join(PARAMETERS)})
            return
        params = {key: [str(v) for v in value] if isinstance(value, list) else [str(value)]
                  for key, value in body.items() if value is not None}
        self._dispatch(params)

    def _dispatch(self, params: dict[str, list[str]]) -> None:
        service = self.server.service
        try:
            self._authorize()
            route = urlsplit(self.path).path.rstrip("/") or "/"
            if route in ("/query", "/dataset"):
                fmt = (params.get("format") or [self._accepted_format()])[-1]
                if fmt not in FORMATS:
                    raise RequestError(400, "bad_format", f"unknown format {fmt!r}", valid_formats=list(FORMATS))
                answer = service.dataset(params) if route == "/dataset" else \
                    service.answer(parse_query(params, service.max_rows))
                self._send(200, render(answer, fmt), FORMATS[fmt], answer.run_id)
            elif route in ROUTES:
                self._send_json(200, ROUTES[route](service, params))
            else:
                raise RequestError(404, "not_found", f"no endpoint {route}", valid_endpoints=sorted(
                    [*ROUTES, "/query", "/dataset"]))
        except RequestError as error:
            self._send_json(error.status, error.body())
        except Exception:  # noqa: BLE001 - the client gets no trace; the log gets it
            log.exception("request %s failed", self.path)
            self._send_json(500, {"error": "internal", "message": "the service failed on this request; its log "
                                  "has the details"})

    def _authorize(self) -> None:
        token = self.server.token
        if token is None:
            return
        given = self.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise RequestError(401, "unauthorized", "this service needs its token: send the header "
                               f"'Authorization: Bearer <token>' (clv query reads it from ${TOKEN_ENV})")

    def _accepted_format(self) -> str:
        accept = self.headers.get("Accept", "")
        return next((name for name, mime in FORMATS.items() if mime.split(";")[0] in accept), "json")

    def _send_json(self, status: int, body: dict[str, Any]) -> None:
        current = self.server.service.warehouse.current()
        self._send(status, json.dumps(body).encode(), FORMATS["json"], current.run_id if current else None)

    def _send(self, status: int, payload: bytes, content_type: str, run_id: str | None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        if run_id:
            self.send_header("X-CLV-Run-Id", run_id)
        if status == 401:
            self.send_header("WWW-Authenticate", "Bearer")
        self.end_headers()
        self.wfile.write(payload)


def _health(service: MetricsService, params: dict[str, list[str]]) -> dict[str, Any]:
    with service.warehouse.use() as snapshot:
        return {"status": "ok", "run_id": snapshot.run_id, "warehouse": str(service.warehouse.path),
                "serving_since": datetime.fromtimestamp(snapshot.opened_at).isoformat(timespec="seconds"),
                "swaps": service.warehouse.swaps, "timeout_seconds": service.timeout,
                "reporting_currency": snapshot.currency,
                "max_rows": service.max_rows}


def _metrics(service: MetricsService, params: dict[str, list[str]]) -> dict[str, Any]:
    planner = service.planner
    return {"metrics": [{"name": name, "label": m.get("label"), "type": m.get("type"), **notes}
                        for name, m in sorted(planner.metrics.items())
                        for notes in [planner.metric_notes((name,))[name]]]}


def _group_bys(service: MetricsService, params: dict[str, list[str]]) -> dict[str, Any]:
    query = parse_query({k: v for k, v in params.items() if k == "metrics"}, service.max_rows)
    service.planner.validate(query)
    return {"metrics": list(query.metrics), "group_by": service.planner.group_bys(query.metrics)}


def _saved_queries(service: MetricsService, params: dict[str, list[str]]) -> dict[str, Any]:
    return {"saved_queries": [{"name": name, "description": q.get("description"),
                               "query_params": q.get("query_params")}
                              for name, q in sorted(service.planner.saved_queries.items())]}


ROUTES = {"/health": _health, "/metrics": _metrics, "/group-bys": _group_bys, "/saved-queries": _saved_queries}


class MetricsHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], service: MetricsService, token: str | None) -> None:
        import socket

        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)
        self.service, self.token = service, token


def check_token(host: str, token: str | None) -> None:
    if host not in LOCAL_HOSTS and not token:
        raise SystemExit(f"clv serve: listening on {host} (not 127.0.0.1) needs a token: pass --token or set "
                         f"${TOKEN_ENV}; clients send it as 'Authorization: Bearer <token>'")


def _watch(warehouse: Warehouse, every: float, stop: threading.Event) -> None:
    while not stop.wait(every):
        try:
            warehouse.refresh()
        except Exception:  # noqa: BLE001 - a file that does not open (yet) is retried; the current one stays
            log.exception("could not open the published warehouse %s; still serving the previous run",
                          warehouse.path)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--warehouse", help="published DuckDB file (default: $DUCKDB_PATH or warehouse/)")
    parser.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1; others need a token)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 = any)")
    parser.add_argument("--token", default=None, help=f"bearer token clients must send (default: ${TOKEN_ENV})")
    parser.add_argument("--manifest", help="semantic_manifest.json to serve (default: `dbt parse` the project "
                        "into the server's own folder at start)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds a query may run (default 30)")
    parser.add_argument("--max-rows", type=int, default=100_000, help="rows an answer may have (default 100000)")
    parser.add_argument("--poll", type=float, default=0.5, help="seconds between checks for a newly published "
                        "warehouse (default 0.5; every request checks too)")


def run(args: argparse.Namespace) -> int:
    from clvlayer.project import PROJECT_ROOT, Settings

    signal.signal(signal.SIGTERM, _stop)  # a terminated service still closes the warehouse and removes its folder
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", stream=sys.stderr)
    log.setLevel(logging.INFO)
    token = args.token or os.environ.get(TOKEN_ENV) or None
    check_token(args.host, token)
    warehouse_path = Path(args.warehouse).resolve() if args.warehouse else Settings.from_env().warehouse
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="clv-serve-", dir=_workdir_root(PROJECT_ROOT)))
    planner = Planner(load_manifest(warehouse_path, Path(args.manifest) if args.manifest else None, workdir))
    warehouse = Warehouse(warehouse_path, planner.catalog)
    if warehouse_path.exists():
        warehouse.refresh()
    service = MetricsService(planner, warehouse, timeout=args.timeout, max_rows=args.max_rows)
    server = MetricsHTTPServer((args.host, args.port), service, token)
    stop = threading.Event()
    threading.Thread(target=_watch, args=(warehouse, args.poll, stop), daemon=True).start()
    current = warehouse.current()
    host, port = server.server_address[:2]
    print(f"clv serve: http://{host}:{port} ({len(planner.metrics)} metrics, {len(planner.saved_queries)} saved "
          f"queries; {warehouse_path}, run {current.run_id if current else 'none yet'}; ready in "
          f"{time.perf_counter() - started:.1f}s){' token required' if token else ''}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()
        warehouse.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _workdir_root(project_root: Path) -> Path:
    root = project_root / "target" / "clv_serve"
    root.mkdir(parents=True, exist_ok=True)
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="clv serve", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
