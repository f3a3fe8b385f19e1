"""Start the Streamlit app on a warehouse (`clv dashboard`), in the foreground or as a managed child process; in the
foreground, with the metrics service (`clv serve`) it reads metrics through as a child process on a free loopback
port (or the one $CLV_SERVICE_URL names)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from clvlayer.dashboard import APP_SCRIPT
from clvlayer.dashboard.service import URL_ENV, WAIT_ENV

SERVICE_STARTUP_SECONDS = 120


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def streamlit_command(port: int, host: str) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT),
            "--server.port", str(port), "--server.address", host, "--server.headless", "true",
            "--server.fileWatcherType", "none", "--server.runOnSave", "false",
            "--browser.gatherUsageStats", "false", "--global.developmentMode", "false",
            "--theme.base", "light", "--client.toolbarMode", "viewer"]


def streamlit_env(warehouse: Path, service_url: str | None = None) -> dict[str, str]:
    env = dict(os.environ, DUCKDB_PATH=str(warehouse.resolve()), STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    if service_url:
        env[URL_ENV] = service_url
    return env


def service_command(warehouse: Path, port: int) -> list[str]:
    """`clv serve` on the same warehouse, loopback only: the metrics service the dashboard's tiles read."""
    return [sys.executable, "-m", "clvlayer.serve", "--warehouse", str(warehouse.resolve()), "--host", "127.0.0.1",
            "--port", str(port)]


def start_service(warehouse: Path) -> tuple[subprocess.Popen | None, str | None]:
    """The metrics service the dashboard reads metrics through: $CLV_SERVICE_URL when set (nothing started), else a
    `clv serve` child process on a free loopback port (it loads MetricFlow while Streamlit starts)."""
    configured = os.environ.get(URL_ENV, "").strip()
    if configured:
        return None, configured
    port = free_port()
    process = subprocess.Popen(service_command(warehouse, port), start_new_session=True)
    return process, f"http://127.0.0.1:{port}"


def stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_foreground(warehouse: Path, port: int, host: str) -> int:
    """Serve the app and its metrics service until interrupted (Ctrl-C); one command for the user."""
    service, url = start_service(warehouse)
    env = streamlit_env(warehouse, url)
    if service is not None:  # pages opened while it loads MetricFlow wait for it instead of saying it is down
        env[WAIT_ENV] = str(time.time() + SERVICE_STARTUP_SECONDS)
    process = subprocess.Popen(streamlit_command(port, host), env=env)
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.send_signal(signal.SIGINT)
        return process.wait()
    finally:  # also on SIGTERM (clv turns it into SystemExit): neither child outlives the command
        stop(process)
        stop(service)


def wait_until_healthy(base_url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the dashboard exited with code {process.returncode} before it served {base_url}")
        try:
            with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"the dashboard did not answer at {base_url} within {timeout:.0f}s")


@contextmanager
def serving(command: list[str], base_url: str, env: dict[str, str] | None = None,
            log: Path | None = None, timeout: float = 60) -> Iterator[str]:
    """Run a server command (its own process group), wait for Streamlit's health check, stop it afterwards."""
    output = log.open("w") if log else subprocess.DEVNULL
    process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_healthy(base_url, process, timeout)
        yield base_url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if log:
            output.close()
