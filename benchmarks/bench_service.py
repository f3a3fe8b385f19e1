"""Latency of the metrics service (`clv serve` + `clv query`) against `clv mf -- query`, the same question.

    .venv/bin/python benchmarks/bench_service.py [--warehouse FILE] [--repeat 20] [--mf-repeat 3]

The question: one metric by month (default `--metrics net_revenue --group-by metric_time__month`) on the published
warehouse (the sample after `make build`). First `clv mf -- query` runs --mf-repeat times (before the service starts:
the mf CLI opens the warehouse read-write, which a reader's lock would refuse), then a `clv serve` is started on a
free loopback port (its start-up time is printed) and timed, median of --repeat runs after one warm-up:
  clv query      - the command an analyst types: a new process, the HTTP request, the table printed
  HTTP request   - the same request from a running Python process (the service's share of the above)
  8 clients      - the HTTP request while 8 threads send it at once (per request)
Targets (issue 24): clv query <= 300 ms, moonshot <= 100 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

from clvlayer.dashboard.server import free_port
from clvlayer.project import PROJECT_ROOT, Settings

CLV = str(PROJECT_ROOT / ".venv" / "bin" / "clv")


def timed(work: Callable[[], object], repeat: int) -> list[float]:
    work()  # warm-up (page cache, the service's SQL cache)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return times


def run_ok(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def start_service(warehouse: Path, port: int) -> tuple[subprocess.Popen, float]:
    started = time.perf_counter()
    process = subprocess.Popen([CLV, "serve", "--warehouse", str(warehouse), "--port", str(port)],
                               cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        if line.startswith("clv serve: http://"):
            threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
            return process, time.perf_counter() - started
    raise SystemExit(f"clv serve did not start (exit {process.wait()})")


def concurrent(url: str, clients: int, each: int) -> list[float]:
    times: list[float] = []
    lock = threading.Lock()

    def client() -> None:
        for _ in range(each):
            started = time.perf_counter()
            urllib.request.urlopen(url, timeout=60).read()
            with lock:
                times.append(time.perf_counter() - started)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return times


def row(name: str, times: list[float], target: str) -> str:
    ms = sorted(t * 1000 for t in times)
    p90 = ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]
    return f"| {name} | {len(ms)} | {statistics.median(ms):,.0f} | {p90:,.0f} | {ms[0]:,.0f} | {target} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", help="published DuckDB file (default: $DUCKDB_PATH or warehouse/)")
    parser.add_argument("--metrics", default="net_revenue")
    parser.add_argument("--group-by", default="metric_time__month")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--mf-repeat", type=int, default=3)
    args = parser.parse_args()
    warehouse = Path(args.warehouse).resolve() if args.warehouse else Settings.from_env().warehouse
    env = {**os.environ, "DUCKDB_PATH": str(warehouse)}
    question = ["--metrics", args.metrics, "--group-by", args.group_by]
    mf = timed(lambda: run_ok([CLV, "mf", "--", "query", *question], env), args.mf_repeat)
    port = free_port()
    service, ready = start_service(warehouse, port)
    base = f"http://127.0.0.1:{port}"
    url = f"{base}/query?{urlencode({'metrics': args.metrics, 'group_by': args.group_by})}"
    try:
        client = timed(lambda: run_ok([CLV, "query", *question], {**env, "CLV_SERVICE_URL": base}), args.repeat)
        http = timed(lambda: urllib.request.urlopen(url, timeout=60).read(), args.repeat)
        loaded = concurrent(url, 8, max(args.repeat // 4, 3))
    finally:
        service.terminate()
        service.wait(timeout=30)
    print(f"Question: --metrics {args.metrics} --group-by {args.group_by} on {warehouse}; `clv serve` ready in "
          f"{ready:.1f} s (dbt parse + MetricFlow load, once); load average {os.getloadavg()[0]:.1f} at the end")
    print()
    print("| figure | runs | median ms | p90 ms | min ms | target |")
    print("|---|---|---|---|---|---|")
    print(row("`clv query` (new process, HTTP, table printed)", client, "<= 300 ms (moonshot 100)"))
    print(row("HTTP request from a running process", http, ""))
    print(row("HTTP request, 8 clients at once (per request)", loaded, ""))
    print(row("`clv mf -- query` (reference)", mf, ""))


if __name__ == "__main__":
    main()
