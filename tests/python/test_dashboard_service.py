"""The dashboard reads its metric tiles through the metrics service (clvlayer.dashboard.service): the service's
values equal the marts' on the sample, the data layer makes the `clv query` call (a fake service records it), the
run served is shown, and a service that cannot be reached is said so, not a stack trace."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from clvlayer.dashboard import APP_SCRIPT, data, kpis, server, service
from clvlayer.serve import FORMATS
from test_metrics_service import serving

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


class _Fake(BaseHTTPRequestHandler):
    requests: list[tuple[str, dict[str, list[str]]]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        params = parse_qs(parts.query)
        self.requests.append((parts.path, params))
        if parts.path == "/health":
            body, kind = json.dumps({"status": "ok", "run_id": FAKE_RUN}).encode(), "application/json"
        else:
            names = params["metrics"][0].split(",")
            table = pa.table({name: [FAKE[name]] for name in names}).replace_schema_metadata({"run_id": FAKE_RUN})
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
def fake_service() -> Iterator[tuple[str, list]]:
    _Fake.requests = []
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
    errors = [element.value for element in app.error]
    assert errors and all("cannot be reached" in text and url in text for text in errors)
    tiles = {metric.label: metric.value for metric in app.metric}
    assert tiles["Customers"] == "4,000"  # the marts' values, said so


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
