"""The metrics service (`clv serve`, clvlayer.serve) and its client (`clv query`): MetricFlow's numbers, every bad
request a 4xx naming what is valid, the token rule, the timeout, and many clients at once while builds publish."""

from __future__ import annotations

import json
import numbers
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import duckdb
import pyarrow as pa
import pytest

from clvlayer.dashboard.server import free_port
from clvlayer.project import PROJECT_ROOT
from clvlayer.publish import embedded_record
from mf_batch import query_many

BY_MONTH = {"metrics": "net_revenue,orders", "group_by": "metric_time__month", "order_by": "metric_time__month"}
BY_REGION = {"metrics": "aov", "group_by": "customer__region", "order_by": "customer__region"}
OVERALL = {"metrics": "customers,repeat_customer_rate"}
READY_SECONDS = 180


def manifest_of(warehouse: Path) -> Path:
    """The semantic manifest the fixture's build wrote (conftest.build: target/ beside the warehouse)."""
    return warehouse.parent / "target" / "semantic_manifest.json"


@contextmanager
def serving(warehouse: Path, *options: str, host: str = "127.0.0.1", env: dict[str, str] | None = None,
            manifest: Path | None = None) -> Iterator[str]:
    """A `clv serve` process on a free port of `host`; yields its base URL, stops it afterwards."""
    port = free_port(host)
    command = [sys.executable, "-m", "clvlayer.serve", "--warehouse", str(warehouse), "--manifest",
               str(manifest or manifest_of(warehouse)), "--host", host, "--port", str(port), "--poll", "0.2", *options]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env={**os.environ, **(env or {})},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = _until_ready(process)
    output = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)  # keep the pipe drained
    output.start()
    try:
        yield f"http://{host}:{port}"
        assert process.poll() is None, "".join(lines[-40:])
        assert not any("Traceback" in line for line in lines), "".join(lines[-60:])
    finally:
        process.terminate()
        process.wait(timeout=30)


def _until_ready(process: subprocess.Popen) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + READY_SECONDS
    for line in process.stdout:
        lines.append(line)
        if line.startswith("clv serve: http://"):
            return lines
        if time.monotonic() > deadline:
            break
    process.kill()
    raise AssertionError("clv serve did not start:\n" + "".join(lines[-40:]))


def call(base: str, path: str, params: dict[str, Any] | list[tuple[str, str]] | None = None,
         token: str | None = None, timeout: float = 60) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(f"{base}{path}?{urlencode(params or {})}")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def answer(base: str, params: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    status, _, body = call(base, "/query", params, **kwargs)
    assert status == 200, body[:2000]
    return json.loads(body)


def refused(base: str, params: dict[str, Any] | list[tuple[str, str]], status: int, error: str,
            path: str = "/query", **kwargs: Any) -> dict[str, Any]:
    got, headers, body = call(base, path, params, **kwargs)
    assert got == status, (got, body[:2000])
    assert headers["Content-Type"].startswith("application/json")
    parsed = json.loads(body)
    assert parsed["error"] == error, parsed
    assert "Traceback" not in body.decode() and 'File "' not in body.decode()
    return parsed


@pytest.fixture(scope="module")
def service(sample_warehouse: Path) -> Iterator[str]:
    with serving(sample_warehouse, "--max-rows", "500") as base:
        yield base


# --- answers ----------------------------------------------------------------------------------------------------------

def test_answers_are_metricflows_numbers(service: str, sample_warehouse: Path, tmp_path: Path) -> None:
    copy = tmp_path / sample_warehouse.name  # the mf CLI opens its file read-write: not the one being served
    shutil.copyfile(sample_warehouse, copy)
    requests = [(p["metrics"].split(","), [p["group_by"]] if "group_by" in p else [], [])
                for p in (BY_MONTH, BY_REGION, OVERALL)]
    expected = query_many(copy, requests)
    run_id = embedded_record(sample_warehouse)["run_id"]
    for params, frame in zip((BY_MONTH, BY_REGION, OVERALL), expected):
        got = answer(service, params)
        assert got["run_id"] == run_id
        assert [c.lower() for c in got["columns"]] == [c.lower() for c in frame.columns]
        want = sorted(tuple(_norm(v) for v in row) for row in frame.itertuples(index=False))
        assert sorted(tuple(_norm(v) for v in row) for row in got["rows"]) == want, params
        assert got["row_count"] == len(frame) > 0


def _norm(value: Any) -> Any:
    """One spelling for both sides: dates as yyyy-mm-dd, numbers rounded to 6 places, missing as None."""
    if value is None or value != value:  # None or NaN
        return None
    if isinstance(value, numbers.Number) and not isinstance(value, bool):  # float, int or Decimal
        return round(float(value), 6)
    text = str(value)
    return text[:10] if len(text) >= 10 and text[4] == "-" and text[7] == "-" else text


def test_csv_and_arrow_carry_the_same_answer_and_its_run(service: str, sample_warehouse: Path) -> None:
    as_json = answer(service, BY_MONTH)
    status, headers, body = call(service, "/query", {**BY_MONTH, "format": "csv"})
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    lines = body.decode().splitlines()
    assert lines[0].split(",") == as_json["columns"] and len(lines) == as_json["row_count"] + 1
    assert headers["X-CLV-Run-Id"] == as_json["run_id"] == embedded_record(sample_warehouse)["run_id"]
    status, headers, body = call(service, "/query", {**BY_MONTH, "format": "arrow"})
    assert status == 200 and headers["Content-Type"] == "application/vnd.apache.arrow.stream"
    table = pa.ipc.open_stream(body).read_all()
    assert table.schema.metadata[b"run_id"].decode() == as_json["run_id"]
    assert table.column_names == as_json["columns"]
    assert [round(float(v), 6) for v in table.column("net_revenue").to_pylist()] == \
        [round(row[1], 6) for row in as_json["rows"]]


def test_listing_endpoints_name_metrics_group_bys_and_saved_queries(service: str) -> None:
    status, _, body = call(service, "/metrics")
    metrics = {m["name"]: m for m in json.loads(body)["metrics"]}
    assert status == 200 and {"net_revenue", "aov", "ltv_formula_a"} <= set(metrics)
    assert metrics["net_revenue"]["metric_time"] and metrics["net_revenue"]["description"]
    status, _, body = call(service, "/group-bys", {"metrics": "net_revenue"})
    assert status == 200 and {"metric_time__month", "customer__region"} <= set(json.loads(body)["group_by"])
    status, _, body = call(service, "/saved-queries")
    assert status == 200 and isinstance(json.loads(body)["saved_queries"], list)
    status, _, body = call(service, "/health")
    assert status == 200 and json.loads(body)["status"] == "ok"


def test_clv_query_prints_the_table_the_run_and_what_metric_time_means(service: str,
                                                                      sample_warehouse: Path) -> None:
    done = subprocess.run([str(PROJECT_ROOT / ".venv" / "bin" / "clv"), "query", "--metrics", "net_revenue",
                           "--group-by", "metric_time__month", "--order", "-metric_time__month", "--limit", "3"],
                          env={**os.environ, "CLV_SERVICE_URL": service}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["metric_time__month", "net_revenue"] and len(lines) >= 6
    assert embedded_record(sample_warehouse)["run_id"] in done.stdout
    assert any(line.startswith("net_revenue: ") and len(line) > 20 for line in lines[5:])
    wrong = subprocess.run([sys.executable, "-m", "clvlayer.cli", "query", "--metrics", "net_revenu"],
                           env={**os.environ, "CLV_SERVICE_URL": service}, capture_output=True, text=True,
                           cwd=PROJECT_ROOT, timeout=60)
    assert wrong.returncode == 2 and "unknown_metric" in wrong.stderr and "net_revenue" in wrong.stderr


# --- bad requests -------------------------------------------------------------------------------------------------------

def test_unknown_metric_names_the_valid_metrics(service: str) -> None:
    body = refused(service, {"metrics": "net_revenue,revenue_net"}, 400, "unknown_metric")
    assert "revenue_net" in body["message"] and "net_revenue" in body["valid_metrics"]
    assert "aov" in refused(service, {}, 400, "no_metrics")["valid_metrics"]


def test_unknown_dimension_names_the_valid_group_bys(service: str) -> None:
    body = refused(service, {"metrics": "net_revenue", "group_by": "customer__planet"}, 400, "invalid_query")
    assert {"metric_time__month", "customer__region"} <= set(body["valid_group_by"])
    body = refused(service, {"metrics": "net_revenue", "group_by": "metric_time__month",
                             "order_by": "customer__region"}, 400, "invalid_query")
    assert "customer__region" in body["valid_group_by"]


@pytest.mark.parametrize("condition", [
    "1 = 1",  # no reference: raw SQL
    "{{ Dimension('customer__region') }} = 'north'; drop table marts.fct_orders",
    "{{ Dimension('customer__region') }} in (select region from marts.dim_customers)",
    "{{ Dimension('customer__region') }} = 'north' or read_csv('/etc/passwd') is not null",
    "({{ Dimension('customer__region') }} = 'north'",
    "{{ Dimension('customer__region' }} = 'north'",
])
def test_a_filter_that_is_not_references_literals_and_operators_is_refused(service: str, condition: str) -> None:
    body = refused(service, {"metrics": "net_revenue", "where": condition}, 400, "malformed_filter")
    assert "Dimension(" in body["allowed"]


def test_a_filter_on_an_unknown_dimension_names_the_valid_ones(service: str) -> None:
    body = refused(service, {"metrics": "net_revenue", "where": "{{ Dimension('customer__planet') }} = 'mars'"},
                   400, "malformed_filter")
    assert "customer__region" in body["valid_group_by"]


def test_a_valid_filter_is_applied(service: str) -> None:
    everyone = answer(service, {"metrics": "orders", "group_by": "customer__region"})
    regions = {row[0]: row[1] for row in everyone["rows"]}
    region = sorted(r for r in regions if r)[0]
    one = answer(service, {"metrics": "orders", "where": f"{{{{ Dimension('customer__region') }}}} = '{region}'"})
    assert one["rows"] == [[regions[region]]]


def test_a_time_range_keeps_the_months_inside_it(service: str) -> None:
    every = {row[0][:10]: row for row in answer(service, BY_MONTH)["rows"]}
    some = answer(service, {**BY_MONTH, "start_time": "2024-07-01", "end_time": "2025-03-31"})["rows"]
    assert some and [row[0][:10] for row in some] == sorted(m for m in every if "2024-07-01" <= m <= "2025-03-01")
    assert all(row == every[row[0][:10]] for row in some)
    refused(service, {"metrics": "orders", "start_time": "last tuesday"}, 400, "bad_time")


def test_raw_sql_and_unknown_parameters_are_refused(service: str) -> None:
    body = refused(service, {"metrics": "orders", "sql": "select 1"}, 400, "unknown_parameter")
    assert "where" in body["valid_parameters"] and "sql" not in body["valid_parameters"]
    refused(service, {"metrics": "orders", "format": "xlsx"}, 400, "bad_format")
    assert "/query" in refused(service, {}, 404, "not_found", path="/sql")["valid_endpoints"]


def test_a_result_past_the_row_limit_is_refused(service: str) -> None:
    body = refused(service, {"metrics": "orders", "group_by": "metric_time__day"}, 413, "too_many_rows")
    assert body["max_rows"] == 500
    assert refused(service, {"metrics": "orders", "limit": "501"}, 400, "bad_limit")["max_rows"] == 500
    refused(service, {"metrics": "orders", "limit": "-3"}, 400, "bad_limit")
    assert answer(service, {"metrics": "orders", "group_by": "metric_time__day", "limit": "500"})["row_count"] == 500


def test_an_unknown_saved_query_names_the_valid_ones(service: str) -> None:
    body = refused(service, {"saved_query": "no_such_query"}, 400, "unknown_saved_query")
    assert isinstance(body["valid_saved_queries"], list)


SAVED_FILTER = "{{ Dimension('order__status') }} = 'completed'"
SAVED = {"name": "revenue_by_region", "description": "Net revenue and orders by region, completed orders.",
         "query_params": {"metrics": ["net_revenue", "orders"], "group_by": ["Dimension('customer__region')"],
                          "where": {"where_filters": [{"where_sql_template": SAVED_FILTER}]}},
         "exports": [], "label": None, "metadata": None, "tags": []}


def test_a_saved_query_answers_as_its_metrics_group_by_and_filter(sample_warehouse: Path, tmp_path: Path) -> None:
    manifest = json.loads(manifest_of(sample_warehouse).read_text())  # add one beside the project's own
    manifest["saved_queries"] = [*manifest.get("saved_queries", []), SAVED]
    (tmp_path / "semantic_manifest.json").write_text(json.dumps(manifest))
    with serving(sample_warehouse, manifest=tmp_path / "semantic_manifest.json") as base:
        listed = json.loads(call(base, "/saved-queries")[2])["saved_queries"]
        assert "revenue_by_region" in [q["name"] for q in listed]
        saved = answer(base, {"saved_query": "revenue_by_region", "order_by": "customer__region"})
        direct = answer(base, {"metrics": "net_revenue,orders", "group_by": "customer__region",
                               "where": SAVED_FILTER, "order_by": "customer__region"})
        assert saved["rows"] == direct["rows"] and saved["row_count"] > 1
        assert set(saved["metrics"]) == {"net_revenue", "orders"}
        refused(base, {"saved_query": "revenue_by_region", "metrics": "aov"}, 400, "bad_request")
        assert "revenue_by_region" in refused(base, {"saved_query": "revenue_by_regio"}, 400,
                                              "unknown_saved_query")["valid_saved_queries"]


# --- timeout and token ----------------------------------------------------------------------------------------------

def test_a_query_past_the_timeout_is_interrupted_with_504(sample_warehouse: Path) -> None:
    slow = {"metrics": "cumulative_net_revenue,cumulative_new_customers,net_revenue",
            "group_by": "metric_time__day,customer__region,customer__acquisition_channel"}
    with serving(sample_warehouse, "--timeout", "0.005", "--max-rows", "10000000") as base:
        body = refused(base, slow, 504, "timeout")
        assert body["timeout_seconds"] == 0.005
        status, _, _ = call(base, "/health")  # the service itself goes on
        assert status == 200


def test_another_address_needs_a_token_and_requests_without_it_get_401(sample_warehouse: Path) -> None:
    refusal = subprocess.run([sys.executable, "-m", "clvlayer.serve", "--warehouse", str(sample_warehouse),
                              "--manifest", str(manifest_of(sample_warehouse)), "--host", "127.0.0.2", "--port", "0"],
                             cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60,
                             env={k: v for k, v in os.environ.items() if k != "CLV_SERVICE_TOKEN"})
    assert refusal.returncode != 0 and "needs a token" in refusal.stderr
    token = "s3cret-token"
    with serving(sample_warehouse, host="127.0.0.2", env={"CLV_SERVICE_TOKEN": token}) as base:
        for sent in (None, "wrong", token + "x"):
            refused(base, OVERALL, 401, "unauthorized", token=sent)
        refused(base, {}, 401, "unauthorized", path="/metrics")
        assert answer(base, OVERALL, token=token)["row_count"] == 1
        done = subprocess.run([str(PROJECT_ROOT / ".venv" / "bin" / "clv"), "query", "--metrics", "customers"],
                              env={**os.environ, "CLV_SERVICE_URL": base, "CLV_SERVICE_TOKEN": token},
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr


# --- many clients while builds publish ------------------------------------------------------------------------------

PUBLISHER = """
import json, shutil, sys, time
from pathlib import Path
from clvlayer.publish import (append_run_record, publish_file, start_build_dir, warehouse_lock,
                              write_embedded_record)
warehouse, plan = Path(sys.argv[1]), json.loads(sys.argv[2])
for source, run_id, go, done in plan:
    deadline = time.monotonic() + 120
    while not Path(go).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    with warehouse_lock(warehouse, run_id=run_id, timeout=60):
        build_file = start_build_dir(warehouse, run_id) / warehouse.name
        shutil.copyfile(source, build_file)
        record = {"run_id": run_id, "published": True, "published_to": str(warehouse)}
        write_embedded_record(build_file, record)
        append_run_record(warehouse, record)
        publish_file(build_file, warehouse, run_id)
    Path(done).touch()
    print("published", run_id, flush=True)
"""

READER = """
import json, sys, time, duckdb
from pathlib import Path
path, stop, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
seen, errors = 0, []
connection = duckdb.connect(path, read_only=True)  # open the whole time
deadline = time.monotonic() + 300
while not stop.exists() and time.monotonic() < deadline:
    try:
        connection.execute("select count(*) from marts.fct_orders").fetchone()
        with duckdb.connect(path, read_only=True) as fresh:  # and a new reader now and then
            fresh.execute("select run_id from audit.build_run").fetchone()
        seen += 1
    except Exception as error:
        errors.append(repr(error))
    time.sleep(0.05)
connection.close()
out.write_text(json.dumps({"seen": seen, "errors": errors}))
"""

CLIENTS, QUERIES = 8, 50
REQUESTS = (BY_MONTH, BY_REGION, OVERALL)


def _expected(planner: Any, source: Path) -> list[list[list[Any]]]:
    """Each request's rows computed straight from one warehouse file, with the SQL MetricFlow renders for it."""
    from clvlayer.serve import MetricQuery, parse_query

    connection = duckdb.connect()
    connection.execute(f"attach '{source}' as \"{planner.catalog}\" (read_only)")
    out = []
    for params in REQUESTS:
        query: MetricQuery = parse_query({k: [v] for k, v in params.items()}, 10_000)
        rows = connection.execute(planner.sql(query)).fetchall()
        out.append(sorted(tuple(_norm(v) for v in row) for row in rows))
    connection.close()
    return out


def _wait_for(marker: Path, deadline: float) -> None:
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)


def _client(base: str, number: int, marks: dict[str, Path], results: list[tuple[str, int, Any]],
            deadline: float) -> None:
    """50 queries; client 0 starts the first publish at its 12th, waits for it at its 30th and starts the second at
    its 35th (so answers from the middle run are certain); every client waits for the second at its 45th."""
    for i in range(QUERIES):
        if time.monotonic() > deadline:
            results.append(("deadline", i, None))
            return
        if number == 0 and i in (12, 35):
            marks["go1" if i == 12 else "go2"].touch()
        if number == 0 and i == 30:
            _wait_for(marks["done1"], deadline)
        if i == 45:
            _wait_for(marks["done2"], deadline)
        kind = (number + i) % len(REQUESTS)
        try:
            status, headers, body = call(base, "/query", REQUESTS[kind], timeout=60)
            got = json.loads(body)
            ok = status == 200 and headers.get("X-CLV-Run-Id") == got.get("run_id")
            results.append((got.get("run_id") if ok else f"HTTP {status}: {body[:300]!r}", kind,
                            sorted(tuple(_norm(v) for v in row) for row in got["rows"]) if ok else None))
        except Exception as error:  # noqa: BLE001 - counted as a failure
            results.append((f"error: {error!r}", kind, None))
        time.sleep(0.03)


def test_eight_clients_while_a_build_publishes_twice_never_fail_and_each_answer_is_one_run(
        sample_warehouse: Path, handmade_warehouse: Path, tmp_path: Path) -> None:
    from clvlayer.serve import Planner

    served = tmp_path / "wh" / sample_warehouse.name
    served.parent.mkdir()
    shutil.copyfile(sample_warehouse, served)
    first = embedded_record(served)["run_id"]
    planner = Planner(manifest_of(sample_warehouse).read_text())
    sample_rows, handmade_rows = _expected(planner, sample_warehouse), _expected(planner, handmade_warehouse)
    assert sample_rows != handmade_rows
    runs = {first: sample_rows, "serve-test-handmade": handmade_rows, "serve-test-sample-again": sample_rows}
    marks = {name: tmp_path / name for name in ("go1", "done1", "go2", "done2")}
    plan = [(str(handmade_warehouse), "serve-test-handmade", str(marks["go1"]), str(marks["done1"])),
            (str(sample_warehouse), "serve-test-sample-again", str(marks["go2"]), str(marks["done2"]))]
    stop, reader_out = tmp_path / "stop", tmp_path / "reader.json"
    with serving(served, manifest=manifest_of(sample_warehouse)) as base:
        reader = subprocess.Popen([sys.executable, "-c", READER, str(served), str(stop), str(reader_out)])
        publisher = subprocess.Popen([sys.executable, "-c", PUBLISHER, str(served), json.dumps(plan)],
                                     cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        results: list[tuple[str, int, Any]] = []
        deadline = time.monotonic() + 240
        clients = [threading.Thread(target=_client, args=(base, n, marks, results, deadline)) for n in range(CLIENTS)]
        for client in clients:
            client.start()
        for client in clients:
            client.join(timeout=300)
        published, _ = publisher.communicate(timeout=120)
        stop.touch()
        reader.wait(timeout=60)
        health = json.loads(call(base, "/health")[2])
    failures = [r for r in results if r[0] not in runs]
    assert publisher.returncode == 0, published
    assert len(results) == CLIENTS * QUERIES and not failures, failures[:5]
    wrong = [(run, kind) for run, kind, rows in results if rows != runs[run][kind]]
    assert not wrong, wrong[:5]
    seen = {run for run, _, _ in results}
    assert {"serve-test-handmade", "serve-test-sample-again"} <= seen, (seen, published)
    assert health["run_id"] == "serve-test-sample-again" and health["swaps"] == 2
    reader_result = json.loads(reader_out.read_text())
    assert reader_result["seen"] > 0 and not reader_result["errors"], reader_result["errors"][:3]
    counts = {run: sum(r[0] == run for r in results) for run in runs}
    print(f"\n{len(results)} answers, 0 failures; by run: {counts}; reader queries: {reader_result['seen']}")
