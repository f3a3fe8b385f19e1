"""The dbt fork server (clvlayer.dbt_forkserver): a forked invocation runs the dbt child main with the request's
environment, working directory, standard output, process group and pid file, and exits through the exit handlers;
the server is reused; an invocation it cannot serve is left to the caller (None), which spawns the child as before;
a server that dies while its child runs is an error, not a silent retry. The kill -9 cases of a build through it
are in test_publish.py."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from clvlayer import dbt_forkserver

PROBE = "clvlayer.dbt_forkserver:_probe"


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "OPENBLAS_NUM_THREADS": "1", **extra}


def _run(tmp_path: Path, env: dict[str, str], *args: str, main: str = dbt_forkserver.CHILD_MAIN) -> tuple:
    report = tmp_path / "report.json"
    report.unlink(missing_ok=True)
    code = dbt_forkserver.run_forked([str(report), *args], env=env, cwd=tmp_path, pid_file=tmp_path / "dbt.pid",
                                     main=main)
    return code, json.loads(report.read_text()) if report.exists() else {}


def test_a_forked_dbt_invocation_reports_like_a_spawned_one_and_reuses_the_server(tmp_path: Path) -> None:
    code, report = _run(tmp_path, _env(), "--version")
    assert code == 0 and report["success"] is True and report["failures"] == []
    server = dbt_forkserver._SERVER
    assert server is not None and server.ready, "the server refused to start (a preloaded module started a thread?)"
    child = int((tmp_path / "dbt.pid").read_text())
    assert child not in (os.getpid(), server.process.pid)
    code, report = _run(tmp_path, _env(), "--version")
    assert code == 0 and report["success"] is True
    assert dbt_forkserver._SERVER is server and int((tmp_path / "dbt.pid").read_text()) != child


def test_the_child_has_the_request_cwd_env_stdout_and_a_group_of_its_own(tmp_path: Path, capfd) -> None:
    work = tmp_path / "work"
    work.mkdir()
    code, seen = _run(work, _env(CLV_PROBE_MARK="only-in-the-request", CLV_PROBE_EXIT="3"), "CLV_PROBE_MARK",
                      "CLV_PROBE_EXIT", main=PROBE)
    assert code == 3
    assert seen["cwd"] == str(work)
    assert seen["env"] == {"CLV_PROBE_MARK": "only-in-the-request", "CLV_PROBE_EXIT": "3"}
    assert seen["pgid"] == seen["pid"] == int((work / "dbt.pid").read_text())
    assert "probe: hello from the forked child" in capfd.readouterr().out
    _, seen = _run(work, _env(), "CLV_PROBE_MARK", main=PROBE)
    assert seen["env"] == {"CLV_PROBE_MARK": None}, "an earlier request's environment leaked into the next child"


def test_an_invocation_with_other_import_time_settings_is_left_to_the_caller(tmp_path: Path) -> None:
    _run(tmp_path, _env(), "--version")
    for other in ({"OPENBLAS_NUM_THREADS": "4"}, {"TZ": "Pacific/Auckland"}):
        code, report = _run(tmp_path, _env(**other), "--version")
        assert code is None and report == {}, f"{other}: the server ran it with its own setting"


def test_a_dead_server_is_replaced(tmp_path: Path) -> None:
    _run(tmp_path, _env(), "--version")
    first = dbt_forkserver._SERVER
    first.process.kill()
    first.process.wait()
    code, _ = _run(tmp_path, _env(), "--version")
    assert code == 0 and dbt_forkserver._SERVER is not first


def test_a_server_killed_while_its_child_runs_is_an_error_and_takes_the_child(tmp_path: Path) -> None:
    _run(tmp_path, _env(), "--version")
    server = dbt_forkserver._SERVER
    pid_file = tmp_path / "dbt.pid"
    pid_file.unlink(missing_ok=True)

    def kill_when_the_child_runs() -> None:
        while not pid_file.exists() or not pid_file.read_text():
            time.sleep(0.05)
        server.process.send_signal(signal.SIGKILL)

    killer = threading.Thread(target=kill_when_the_child_runs)
    killer.start()
    with pytest.raises(RuntimeError, match="died while dbt ran"):
        _run(tmp_path, _env(), "debug", "--config-dir")  # dbt debug: seconds, not instant
    killer.join()
    child = int(pid_file.read_text())
    deadline = time.time() + 10
    while time.time() < deadline and Path(f"/proc/{child}").exists():
        time.sleep(0.1)
    assert not Path(f"/proc/{child}").exists(), "the child outlived its server"
    assert not server.ready


def test_the_server_builds_the_manifest_serializers_its_children_would_build(sample_warehouse: Path) -> None:
    """mashumaro builds a class's (de)serializer on first use, replacing the class's method: after the server's
    warm-up on a saved parse state (here the sample's), reading that state and writing manifest.json find the built
    code (the methods were replaced), so a forked child does not build it again."""
    import subprocess
    import sys

    script = ("from pathlib import Path\nimport dbt.cli.main\n"
              "from dbt.contracts.graph.manifest import Manifest, WritableManifest\n"
              "from clvlayer import dbt_forkserver\n"
              "before = (WritableManifest.__dict__['to_dict'], Manifest.__dict__['from_msgpack'].__func__)\n"
              f"dbt_forkserver._compile_manifest_serializers(Path({str(sample_warehouse.parent / 'target')!r}))\n"
              "after = (WritableManifest.__dict__['to_dict'], Manifest.__dict__['from_msgpack'].__func__)\n"
              "print([b is not a for b, a in zip(before, after)])\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[True, True]", done.stderr


def test_a_build_writes_the_manifest_when_it_ends_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """`dbt build` in clv's child parses without writing manifest.json (the run's end writes it, with the compiled
    SQL); other commands write it as dbt does."""
    from dbt.cli import requires

    from clvlayer.dbt_runner import _write_the_manifest_once

    calls: list[bool] = []
    monkeypatch.setattr(requires, "parse_manifest", lambda config, perf, write, write_json, integrations:
                        calls.append(write))
    _write_the_manifest_once(["parse"])
    requires.parse_manifest(None, False, True, True, [])
    _write_the_manifest_once(["--quiet", "build", "--select", "x"])
    requires.parse_manifest(None, False, True, True, [])
    assert calls == [True, False]


def test_a_dbt_whose_parse_has_no_write_argument_is_left_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another dbt version's parse_manifest without a `write` parameter is not wrapped (dbt writes as it does)."""
    from dbt.cli import requires

    from clvlayer.dbt_runner import _write_the_manifest_once

    def parse(config: object, perf: bool) -> None:
        return None

    monkeypatch.setattr(requires, "parse_manifest", parse)
    _write_the_manifest_once(["build"])
    assert requires.parse_manifest is parse


def test_the_server_builds_the_config_schemas_its_children_would_build() -> None:
    """dbt validates its project, profile, hooks and selectors against JSON schemas it builds on first use and keeps
    (an lru_cache): after the server's warm-up each of them is found built (a cache hit, no miss)."""
    import subprocess
    import sys

    script = ("import importlib\nimport dbt.cli.main\nfrom dbt_common.dataclass_schema import dbtClassMixin\n"
              "from clvlayer import dbt_forkserver\n"
              "dbt_forkserver._build_config_schemas()\n"
              "cache = dbtClassMixin.json_schema.__func__\nbefore = cache.cache_info()\n"
              "for path in dbt_forkserver.CONFIG_SCHEMAS:\n"
              "    module, name = path.split(':')\n"
              "    getattr(importlib.import_module(module), name).json_schema()\n"
              "after = cache.cache_info()\n"
              "print(after.misses - before.misses, after.hits - before.hits)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["0", str(len(dbt_forkserver.CONFIG_SCHEMAS))], done.stderr
