"""The dashboard's client of the metrics service (`clv serve`, scripts/clvlayer/serve.py): the MetricFlow metrics
on the overview's customer-value tiles are read with the same HTTP call `clv query` makes (GET /query, Arrow), and
every other loader of clvlayer.dashboard.data as a named dataset (GET /dataset, Arrow) that the service runs.

The service is used when $CLV_SERVICE_URL names one; `clv dashboard` starts one beside the app on a free loopback
port and sets it (clvlayer.dashboard.server). Without it the tiles read the marts (data.segment_kpis). A service
that does not answer raises ServiceUnavailable, whose message the page shows instead of a stack trace.
"""

from __future__ import annotations

import io
import json
import os
import time
from dataclasses import dataclass

import pandas as pd

from clvlayer.query_client import URL_ENV, fetch

#: set by `clv dashboard` when it starts the service: until this epoch time a refused connection is waited out
WAIT_ENV = "CLV_SERVICE_STARTING_UNTIL"

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


def _get(url: str, path: str, params: dict[str, str], timeout: float) -> bytes:
    while True:
        try:
            return _get_once(url, path, params, timeout)
        except ServiceUnavailable as error:
            if not (isinstance(error.__cause__, ConnectionRefusedError) and _starting()):
                raise
        time.sleep(0.5)


def _get_once(url: str, path: str, params: dict[str, str], timeout: float) -> bytes:
    """One GET through `clv query`'s own request (query_client.fetch: the token, the URL rules)."""
    try:
        status, body = fetch(url, path, list(params.items()), timeout)
    except OSError as error:  # urllib's URLError is an OSError too
        reason = getattr(error, "reason", error)
        unavailable = ServiceUnavailable(
            f"The metrics service at {url} cannot be reached ({reason}). If `clv dashboard` has just started it "
            f"may still be loading MetricFlow: reload in a few seconds; else start it with `clv serve` or unset "
            f"${URL_ENV} to read the marts directly.")
        raise unavailable from (reason if isinstance(reason, ConnectionRefusedError) else None)
    if status != 200:
        try:
            message = json.loads(body).get("message", "")
        except ValueError:
            message = ""
        raise ServiceUnavailable(f"The metrics service at {url} refused {path} (HTTP {status}"
                                 f"{': ' + message if message else ''}).")
    return body


def health(url: str, timeout: float = 5) -> dict:
    """The service's /health answer (status, run_id, warehouse, ...)."""
    return json.loads(_get(url, "/health", {}, timeout))


def _arrow(body: bytes) -> MetricValues:
    import pyarrow as pa

    table = pa.ipc.open_stream(io.BytesIO(body)).read_all()
    return MetricValues(table.to_pandas(), (table.schema.metadata or {}).get(b"run_id", b"").decode())


def dataset(url: str, name: str, arguments: str, timeout: float = 120) -> MetricValues:
    """GET /dataset?name=<loader>&args=<JSON>: the dashboard loader `name`, run by the service on what it serves."""
    return _arrow(_get(url, "/dataset", {"name": name, "args": arguments, "format": "arrow"}, timeout))


def query(url: str, metrics: tuple[str, ...], group_by: tuple[str, ...] = (), timeout: float = 60) -> MetricValues:
    """GET /query?metrics=...&group_by=...&format=arrow: the call `clv query` makes, as a frame."""
    params = {"metrics": ",".join(metrics), "format": "arrow"}
    if group_by:
        params["group_by"] = ",".join(group_by)
    return _arrow(_get(url, "/query", params, timeout))


def overall_tile_values(url: str) -> MetricValues:
    """One row: the unsegmented value of every SERVICE_TILE_METRICS metric, as the service answers it."""
    return query(url, SERVICE_TILE_METRICS)
