"""The dbt fork server (clvlayer.dbt_forkserver): a forked invocation runs the dbt child main with the request's
environment, working directory and pid file; the server is reused; an invocation it cannot serve is left to the
caller (None), which spawns the child as before. The kill -9 cases of a build through it are in test_publish.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

from clvlayer import dbt_forkserver


def _run(tmp_path: Path, env: dict[str, str]) -> tuple[int | None, dict]:
    report = tmp_path / "report.json"
    code = dbt_forkserver.run_forked([str(report), "--version"], env=env, cwd=tmp_path,
                                     pid_file=tmp_path / "dbt.pid")
    return code, json.loads(report.read_text()) if report.exists() else {}


def test_a_forked_invocation_reports_like_a_spawned_one_and_reuses_the_server(tmp_path: Path) -> None:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    code, report = _run(tmp_path, env)
    assert code == 0 and report["success"] is True and report["failures"] == []
    server = dbt_forkserver._SERVER
    assert server is not None and server.ready, "the server refused to start (a preloaded module started a thread?)"
    child = int((tmp_path / "dbt.pid").read_text())
    assert child not in (os.getpid(), server.process.pid)
    (tmp_path / "report.json").unlink()
    code, report = _run(tmp_path, env)
    assert code == 0 and report["success"] is True
    assert dbt_forkserver._SERVER is server and int((tmp_path / "dbt.pid").read_text()) != child


def test_an_invocation_with_other_thread_settings_is_left_to_the_caller(tmp_path: Path) -> None:
    _run(tmp_path, dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    (tmp_path / "report.json").unlink()
    code, report = _run(tmp_path, dict(os.environ, OPENBLAS_NUM_THREADS="4"))
    assert code is None and report == {}  # nothing ran: numpy in the server has one BLAS thread, not four


def test_a_dead_server_is_replaced(tmp_path: Path) -> None:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    _run(tmp_path, env)
    first = dbt_forkserver._SERVER
    first.process.kill()
    first.process.wait()
    code, report = _run(tmp_path, env)
    assert code == 0 and dbt_forkserver._SERVER is not first
