"""The dashboard reads through the metrics service (clvlayer.dashboard.service): its metric tiles as MetricFlow
metrics (the service's values equal the marts' on the sample, the data layer makes the `clv query` call: a fake
service records it) and every other loader as a named dataset the service runs (equal to reading the file, with the
file out of reach); the run served is shown; bad dataset requests get a 4xx naming what is valid; a service that
cannot be reached is said so, not a stack trace."""

from __future__ import annotations

import inspect
import io
import json
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from clvlayer.dashboard import APP_SCRIPT, data, kpis, server, service
from clvlayer.dashboard.currency import _recorded
from clvlayer.dashboard.data import Filters, comparison_periods
from clvlayer.publish import embedded_record
from clvlayer.query_client import URL_ENV
from clvlayer.serve import FORMATS
from test_metrics_service import refused, serving

FAKE = {name: 1000.0 + index for index, name in enumerate(service.SERVICE_TILE_METRICS)}
FAKE_RUN = "fake-run-42"


def test_every_value_tile_is_a_service_metric() -> None:
    assert set(service.SERVICE_TILE_METRICS) == {column for _, column, *_ in kpis.VALUE_TILES}


def test_kpis_read_through_the_service_equal_the_marts_on_the_sample(sample_warehouse: Path) -> None:
    mart = data.segment_kpis(sample_warehouse).set_index("as_of_snapshot").loc["current"]
    with serving(sample_warehouse) as url:
        answer = service.overall_tile_values(url)
        run_id = service.health(url)["run_id"]
    assert answer.run_id == run_id and run_id not in ("", "unknown")
    assert len(answer.frame) == 1
    for name in service.SERVICE_TILE_METRICS:
        assert float(answer.frame[name].iloc[0]) == pytest.approx(float(mart[name]), rel=1e-9), name


def _dataset_calls() -> list[tuple[str, dict]]:
    """Every dashboard loader with arguments of every kind it takes (filters, periods, dates, tuples, strings)."""
    current, previous = comparison_periods(date(2025, 6, 30), 3)
    calls = []
    for filters in (Filters(), Filters(date_from=date(2024, 1, 1), date_to=date(2024, 6, 30),
                                       channels=("email", "organic"), regions=("north",), loyalty="members")):
        for name in sorted(data.DATASETS):
            parameters = inspect.signature(data.LOADERS[name]).parameters
            kwargs: dict = {"filters": filters} if "filters" in parameters else {}
            if "current" in parameters:
                kwargs.update(current=current, previous=previous)
            kwargs.update({key: value for key, value in (("segment_type", "region"), ("segment_value", "north"))
                           if key in parameters})
            calls.append((name, kwargs))
    return calls


def test_every_dataset_read_through_the_service_equals_the_file_read(sample_warehouse: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    calls, out_of_reach = _dataset_calls(), tmp_path / "no_such_warehouse.duckdb"
    with serving(sample_warehouse) as url:
        monkeypatch.setenv(URL_ENV, url)
        # the path the page passes is out of reach: only the service can answer
        through = [getattr(data, name)(out_of_reach, **kwargs) for name, kwargs in calls]
        recorded = _recorded(embedded_record(sample_warehouse))
        assert recorded and service.health(url)["reporting_currency"] == recorded  # the run served names it
        assert data.Coverage.read(out_of_reach).currency == recorded.upper()
        refused(url, {"name": "no_such_loader"}, 404, "unknown_dataset", path="/dataset")
        assert "reorder_list" in refused(url, {"name": "nope"}, 404, "unknown_dataset",
                                         path="/dataset")["valid_datasets"]
        refused(url, {"name": "reorder_list", "args": '{"kwargs": {"filters": {"Filters": {"loyalty": "gold"}}}}'},
                400, "bad_arguments", path="/dataset")
        refused(url, {"name": "reorder_list", "args": '{"kwargs": {"sql": "select 1"}}'}, 400, "bad_arguments",
                path="/dataset")
        refused(url, {"name": "reorder_list", "sql": "select 1"}, 400, "unknown_parameter", path="/dataset")
        monkeypatch.delenv(URL_ENV)
    assert len(through) == len(calls) > 2 * 15
    for (name, kwargs), frame in zip(calls, through):
        pd.testing.assert_frame_equal(frame, getattr(data, name)(sample_warehouse, **kwargs), obj=name)
    with pytest.raises(data.WarehouseUnavailable, match="No published warehouse"):
        data.reorder_list(out_of_reach, Filters())  # without the service the page reads the file itself


def test_a_loader_argument_round_trips_as_json() -> None:
    filters = Filters(date_from=date(2024, 1, 1), channels=("email",), regions=(), loyalty="members")
    current, previous = comparison_periods(date(2025, 6, 30), 1)
    args, kwargs = data.decode_arguments(data.encode_arguments((filters,), {"current": current, "max_rows": 5,
                                                                           "segment_type": "region"}))
    assert args == (filters,) and kwargs == {"current": current, "max_rows": 5, "segment_type": "region"}
    for bad in ('{"kwargs": {"f": {"eval": "x"}}}', '{"kwargs": {"f": {"date": "2024-01-01", "x": 1}}}', "[1]",
                '{"args": {}}', '{"other": 1}'):
        with pytest.raises((ValueError, TypeError)):
            data.decode_arguments(bad)


class _Fake(BaseHTTPRequestHandler):
    """A service whose metrics are FAKE's numbers; its datasets are the loaders run on `warehouse` (as the real one
    runs them on what it serves)."""

    requests: list[tuple[str, dict[str, list[str]]]] = []
    warehouse: Path | None = None

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        params = parse_qs(parts.query)
        self.requests.append((parts.path, params))
        if parts.path == "/health":
            body, kind = json.dumps({"status": "ok", "run_id": FAKE_RUN}).encode(), "application/json"
        else:
            if parts.path == "/dataset":
                args, kwargs = data.decode_arguments(params["args"][0])
                table = pa.Table.from_pandas(data.LOADERS[params["name"][0]](self.warehouse, *args, **kwargs),
                                             preserve_index=False)
            else:
                names = params["metrics"][0].split(",")
                table = pa.table({name: [FAKE[name]] for name in names})
            table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"run_id": FAKE_RUN.encode()})
            sink = io.BytesIO()
            with pa.ipc.new_stream(sink, table.schema) as writer:
                writer.write_table(table)
            body, kind = sink.getvalue(), FORMATS["arrow"]
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def fake_service(sample_warehouse: Path) -> Iterator[tuple[str, list]]:
    _Fake.requests, _Fake.warehouse = [], sample_warehouse
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Fake)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", _Fake.requests
    finally:
        httpd.shutdown()
        httpd.server_close()


def _overview(warehouse: Path, monkeypatch: pytest.MonkeyPatch, url: str) -> AppTest:
    monkeypatch.setenv("DUCKDB_PATH", str(warehouse))
    monkeypatch.setenv(service.URL_ENV, url)
    app = AppTest.from_file(str(APP_SCRIPT), default_timeout=60)
    app.run()
    app.switch_page("views/overview.py").run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def test_the_overview_tiles_call_the_service_and_show_its_run(sample_warehouse: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              fake_service: tuple[str, list]) -> None:
    url, requests = fake_service
    app = _overview(sample_warehouse, monkeypatch, url)
    queries = [params for path, params in requests if path == "/query"]
    assert queries and queries[0]["metrics"] == [",".join(service.SERVICE_TILE_METRICS)]
    assert queries[0]["format"] == ["arrow"]
    assert any(path == "/health" for path, _ in requests)
    datasets = {params["name"][0] for path, params in requests if path == "/dataset"}
    assert {"data_coverage", "ltv_snapshots", "segment_kpis", "period_flows"} <= datasets  # the rest of the page
    tiles = {metric.label: metric.value for metric in app.metric}
    assert tiles["Customers"] == "1,000" and tiles["Buyers"] == "1,001"  # the fake's numbers, not the mart's 4,000
    assert tiles["Realised LTV 12 mo"].startswith("1,00")  # every value tile is a service metric
    captions = " ".join(caption.value for caption in [*app.caption, *app.sidebar.caption])
    assert FAKE_RUN in captions
    assert not app.error


def test_an_unreachable_service_is_said_so_not_a_stack_trace(sample_warehouse: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{server.free_port()}"  # nothing listens there
    app = _overview(sample_warehouse, monkeypatch, url)
    said = [element.value for element in [*app.error, *app.warning]]
    assert said and all("cannot be reached" in text and url in text for text in said)
    assert any(f"unset ${service.URL_ENV}" in text for text in said)  # and how to read the marts instead
    assert not app.metric  # nothing read behind the service's back


def test_clv_dashboard_uses_a_configured_service_and_starts_none(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    monkeypatch.setenv(service.URL_ENV, "http://127.0.0.1:9")
    assert server.start_service(tmp_path / "w.duckdb") == (None, "http://127.0.0.1:9")
    assert server.streamlit_env(tmp_path / "w.duckdb", "http://x:1")[service.URL_ENV] == "http://x:1"
    command = server.service_command(tmp_path / "w.duckdb", 1234)
    assert command[1:3] == ["-m", "clvlayer.serve"] and "127.0.0.1" in command and "1234" in command


def test_a_service_clv_dashboard_has_just_started_is_waited_for_until_its_deadline(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    url = f"http://127.0.0.1:{server.free_port()}"  # refuses connections
    started = time.monotonic()
    with pytest.raises(service.ServiceUnavailable, match="cannot be reached"):
        service.health(url)
    assert time.monotonic() - started < 1  # no deadline: said at once
    monkeypatch.setenv(service.WAIT_ENV, str(time.time() + 1.5))
    started = time.monotonic()
    with pytest.raises(service.ServiceUnavailable, match="cannot be reached"):
        service.health(url)
    assert time.monotonic() - started >= 1.4  # retried until the deadline, then said
