"""`clv query`: the thin client of the metrics service (`clv serve`). What `clv mf -- query` prints, in a fraction of
the time: the service keeps MetricFlow loaded and the warehouse open, this client only sends the request (standard
library only, nothing heavy imported) and prints the answer.

    clv query --metrics net_revenue --group-by metric_time__month
    clv query --metrics orders,aov --group-by customer__region --where "{{ Dimension('order__status') }} = 'completed'"
    clv query --saved-query NAME --format csv

The service is found at $CLV_SERVICE_URL (default http://127.0.0.1:8765); its token, if it has one, in
$CLV_SERVICE_TOKEN. Under the table: which build run answered, and what each metric's `metric_time` means.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any
from urllib.parse import urlencode, urlsplit

URL_ENV = "CLV_SERVICE_URL"
TOKEN_ENV = "CLV_SERVICE_TOKEN"
DEFAULT_URL = "http://127.0.0.1:8765"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clv query", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--metrics", action="append", default=[], help="metric name(s), comma-separated")
    parser.add_argument("--group-by", action="append", default=[],
                        help="group-by name(s), comma-separated (e.g. metric_time__month,customer__region)")
    parser.add_argument("--where", action="append", default=[],
                        help="a filter, e.g. \"{{ Dimension('customer__region') }} = 'north'\" (repeatable)")
    parser.add_argument("--order", "--order-by", dest="order", action="append", default=[],
                        help="order by these names, '-' in front for descending (comma-separated)")
    parser.add_argument("--limit", type=int, help="at most this many rows")
    parser.add_argument("--start-time", help="metric_time from this date (ISO, e.g. 2024-07-01)")
    parser.add_argument("--end-time", help="metric_time up to this date (ISO)")
    parser.add_argument("--saved-query", help="run one of the project's saved queries")
    parser.add_argument("--format", choices=["table", "csv", "json"], default="table")
    parser.add_argument("--url", default=None, help=f"service URL (default ${URL_ENV}, else {DEFAULT_URL})")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the answer")


def descending_orders(argv: list[str]) -> list[str]:
    """`--order -name` as `--order=-name` (argparse would read -name as an option)."""
    out: list[str] = []
    for token in argv:
        if out and out[-1] in ("--order", "--order-by") and token.startswith("-"):
            out[-1] = f"{out[-1]}={token}"
        else:
            out.append(token)
    return out


def request_params(args: argparse.Namespace) -> list[tuple[str, str]]:
    params = [("metrics", ",".join(args.metrics)), ("group_by", ",".join(args.group_by)),
              ("order_by", ",".join(args.order)), *(("where", w) for w in args.where),
              ("saved_query", args.saved_query or ""), ("start_time", args.start_time or ""),
              ("end_time", args.end_time or ""), ("limit", "" if args.limit is None else str(args.limit)),
              ("format", "csv" if args.format == "csv" else "json")]
    return [(key, value) for key, value in params if value]


def fetch(url: str, path: str, params: list[tuple[str, str]], timeout: float) -> tuple[int, bytes]:
    """GET `path` from the service: (status, body). Plain http is spoken over a socket (http.client and urllib pull
    in the email package, which costs more than the whole request); https goes through urllib."""
    parts = urlsplit(url)
    target = f"{parts.path.rstrip('/')}{path}?{urlencode(params)}"
    token = os.environ.get(TOKEN_ENV)
    headers = {"Host": parts.netloc, "Connection": "close", "Accept": "application/json",
               **({"Authorization": f"Bearer {token}"} if token else {})}
    if parts.scheme != "http":
        return _fetch_urllib(f"{parts.scheme}://{parts.netloc}{target}", headers, timeout)
    import socket

    with socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout) as connection:
        connection.sendall(f"GET {target} HTTP/1.0\r\n".encode() +
                           "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode() + b"\r\n")
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[1].isdigit():
        raise OSError(f"not an HTTP answer from {url}: {head[:100]!r}")
    return int(status_line[1]), body


def _fetch_urllib(url: str, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def render_table(answer: dict[str, Any]) -> str:
    columns = answer["columns"]
    cells = [[_cell(value) for value in row] for row in answer["rows"]]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    numeric = [all(_is_number(row[i]) for row in answer["rows"]) for i in range(len(columns))]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)).rstrip()

    out = [line(columns), line(["-" * w for w in widths]), *(line(row) for row in cells)]
    out.append("")
    out.append(f"{answer['row_count']:,} row(s) from build run {answer['run_id']} "
               f"({answer.get('elapsed_ms', 0):.0f} ms in the service)")
    for name, notes in answer.get("metrics", {}).items():
        out.append(f"{name}: {notes.get('metric_time') or '(no description)'}")
    return "\n".join(out)


def _is_number(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):  # whole numbers plain, amounts to the cent, rates and shares to 4 places
        return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}" if abs(value) >= 1 else f"{value:.4f}"
    if isinstance(value, str) and value.endswith("T00:00:00"):
        return value[:10]
    return str(value)


def describe_error(status: int, body: bytes) -> str:
    try:
        error = json.loads(body)
    except ValueError:
        return f"HTTP {status}: {body[:500].decode(errors='replace')}"
    lines = [f"{error.get('error', 'error')} (HTTP {status}): {error.get('message', '')}"]
    for key, value in error.items():
        if key in ("error", "message"):
            continue
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        lines.append(f"{key.replace('_', ' ')}: {shown}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return run(build_parser().parse_args(descending_orders(sys.argv[1:] if argv is None else argv)))


def run_from_cli(args: argparse.Namespace) -> int:
    """`clv query` reached through clvlayer.cli (python -m clvlayer.cli query ...)."""
    return run(args)


def run(args: argparse.Namespace) -> int:
    url = args.url or os.environ.get(URL_ENV) or DEFAULT_URL
    try:
        status, body = fetch(url, "/query", request_params(args), args.timeout)
    except OSError as error:  # urllib's URLError is an OSError too
        reason = getattr(error, "reason", error)
        print(f"No metrics service at {url} ({reason}). Start one with `clv serve` (or set ${URL_ENV}).",
              file=sys.stderr)
        return 3
    if status != 200:
        print(describe_error(status, body), file=sys.stderr)
        return 2
    if args.format == "table":
        print(render_table(json.loads(body)))
    else:
        sys.stdout.write(body.decode() + ("" if body.endswith(b"\n") else "\n"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
