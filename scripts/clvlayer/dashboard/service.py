"""The dashboard's client of the metrics service (`clv serve`, scripts/clvlayer/serve.py): the MetricFlow metrics
on the overview's customer-value tiles are read with the same HTTP call `clv query` makes (GET /query, Arrow).

The service is used when $CLV_SERVICE_URL names one; `clv dashboard` starts one beside the app on a free loopback
port and sets it (clvlayer.dashboard.server). Without it the tiles read the marts (data.segment_kpis). A service
that does not answer raises ServiceUnavailable, whose message the page shows instead of a stack trace.
"""

from __future__ import annotations

import io
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

import pandas as pd

URL_ENV = "CLV_SERVICE_URL"
TOKEN_ENV = "CLV_SERVICE_TOKEN"
#: set by `clv dashboard` when it starts the service: until this epoch time a refused connection is waited out
WAIT_ENV = "CLV_SERVICE_STARTING_UNTIL"
ARROW = "application/vnd.apache.arrow.stream"

#: the overview's customer-value tiles (kpis.VALUE_TILES columns) that are MetricFlow metrics of the same name whose
#: unsegmented value is the overall row of fct_ltv_by_segment (tests/python/test_dashboard_service.py checks it)
SERVICE_TILE_METRICS: tuple[str, ...] = (
    "customers", "buyers", "repeat_customer_rate", "average_check", "orders_per_year", "average_realised_ltv",
    "realised_ltv_12m", "expected_lifetime_months", "ltv_formula_a", "ltv_formula_b")


class ServiceUnavailable(RuntimeError):
    """The configured metrics service did not answer, or refused the request: says which URL and what to do."""


@dataclass(frozen=True)
class MetricValues:
    """One answer of the service: the rows (a frame) and the run (build) it was read from."""

    frame: pd.DataFrame
    run_id: str


def service_url() -> str | None:
    """The metrics service the dashboard reads metrics through ($CLV_SERVICE_URL), None when none is configured."""
    url = os.environ.get(URL_ENV, "").strip().rstrip("/")
    return url or None


def _starting() -> bool:
    """`clv dashboard` has just started the service: wait for it rather than say it is unreachable."""
    try:
        return time.time() < float(os.environ.get(WAIT_ENV, "0"))
    except ValueError:
        return False


def _get(url: str, path: str, params: dict[str, str], accept: str, timeout: float) -> tuple[bytes, str]:
    while True:
        try:
            return _get_once(url, path, params, accept, timeout)
        except ServiceUnavailable as error:
            if not (isinstance(error.__cause__, ConnectionRefusedError) and _starting()):
                raise
        time.sleep(0.5)


def _get_once(url: str, path: str, params: dict[str, str], accept: str, timeout: float) -> tuple[bytes, str]:
    request = urllib.request.Request(f"{url}{path}?{urllib.parse.urlencode(params)}", headers={"Accept": accept})
    token = os.environ.get(TOKEN_ENV)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read(), response.headers.get("X-CLV-Run-Id") or ""
    except urllib.error.HTTPError as error:
        try:
            message = json.loads(error.read()).get("message", "")
        except ValueError:
            message = ""
        raise ServiceUnavailable(f"The metrics service at {url} refused {path} (HTTP {error.code}: "
                                 f"{message or error.reason}).") from None
    except (OSError, urllib.error.URLError) as error:
        reason = getattr(error, "reason", error)
        unavailable = ServiceUnavailable(
            f"The metrics service at {url} cannot be reached ({reason}). If `clv dashboard` has just started it "
            f"may still be loading MetricFlow: reload in a few seconds; else start it with `clv serve` or unset "
            f"${URL_ENV} to read the marts directly.")
        raise unavailable from (reason if isinstance(reason, ConnectionRefusedError) else None)


def health(url: str, timeout: float = 5) -> dict:
    """The service's /health answer (status, run_id, warehouse, ...)."""
    body, _ = _get(url, "/health", {}, "application/json", timeout)
    return json.loads(body)


def query(url: str, metrics: tuple[str, ...], group_by: tuple[str, ...] = (), timeout: float = 60) -> MetricValues:
    """GET /query?metrics=...&group_by=...&format=arrow: the call `clv query` makes, as a frame."""
    import pyarrow as pa

    params = {"metrics": ",".join(metrics), "format": "arrow"}
    if group_by:
        params["group_by"] = ",".join(group_by)
    body, run_id = _get(url, "/query", params, ARROW, timeout)
    table = pa.ipc.open_stream(io.BytesIO(body)).read_all()
    metadata = table.schema.metadata or {}
    run_id = metadata.get(b"run_id", run_id.encode()).decode()
    return MetricValues(table.to_pandas(), run_id)


def overall_tile_values(url: str) -> MetricValues:
    """One row: the unsegmented value of every SERVICE_TILE_METRICS metric, as the service answers it."""
    return query(url, SERVICE_TILE_METRICS)
