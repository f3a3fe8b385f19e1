"""Write-audit-publish under faults: kill -9 at staging, at the fit and at three points of the publish; two builds
at once; a stale WAL; a full disk. After each: the published file opens read-only and is the run runs.jsonl names
as last published, nothing is left running, and .build/ is within its bound.

Most builds here select staging + audit only: publishing does not depend on what was built.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from clvlayer.project import PROJECT_ROOT
from clvlayer.publish import (FAILED_FILE, OWNER_FILE, clean_build_dirs, embedded_record, last_published,
                              read_runs)
from conftest import HANDMADE, build

STAGING_ONLY = ["--select", "+audit_row_accounting", "+audit_quarantine_summary", "--indirect-selection", "cautious"]
KEEP_FAILED = 2


@pytest.fixture
def warehouse(handmade_warehouse: Path, tmp_path: Path) -> Path:
    """A copy of the session's published hand-made warehouse with its runs.jsonl (no .build/, no lock)."""
    folder = tmp_path / "wh"
    folder.mkdir()
    for name in (handmade_warehouse.name, "runs.jsonl"):
        shutil.copy2(handmade_warehouse.parent / name, folder / name)
    return folder / handmade_warehouse.name


def _live_run(warehouse: Path) -> str:
    record = embedded_record(warehouse)  # opens read-only
    assert record is not None, f"{warehouse} does not open read-only"
    return record["run_id"]


def _assert_consistent(warehouse: Path, expected_run: str | None = None, *, build_folder: bool = True) -> None:
    live = _live_run(warehouse)
    if expected_run is not None:
        assert live == expected_run
    named = last_published(read_runs(warehouse))
    assert named is not None and named["run_id"] == live
    assert not warehouse.with_name(warehouse.name + ".wal").exists()
    if not build_folder:
        return
    build_dirs = [d for d in (warehouse.parent / ".build").iterdir()] if (warehouse.parent / ".build").exists() else []
    assert all((d / FAILED_FILE).exists() for d in build_dirs), build_dirs
    assert len(build_dirs) <= KEEP_FAILED


def _clv(*args: str, warehouse: Path, **popen: object) -> subprocess.Popen:
    env = dict(os.environ, DUCKDB_PATH=str(warehouse), CLV_KEEP_FAILED_BUILDS=str(KEEP_FAILED),
               **popen.pop("env", {}))  # type: ignore[arg-type]
    return subprocess.Popen([sys.executable, "-m", "clvlayer.cli", *args], cwd=PROJECT_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)  # type: ignore


def _build_args(tmp_path: Path, *dbt: str) -> list[str]:
    return ["build", "--raw-dir", str(HANDMADE), "--", *dbt, "--target-path", str(tmp_path / "target")]


def _wait_for(process: subprocess.Popen, marker: str, timeout: float = 300) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"ended before {marker!r}:\n" + "".join(lines[-30:]))
        lines.append(line)
        if marker in line:
            return lines
    raise AssertionError(f"no {marker!r} within {timeout}s")


def _dbt_child(warehouse: Path) -> int | None:
    pids = list((warehouse.parent / ".build").glob("*/dbt.pid"))
    return int(pids[0].read_text()) if pids else None


def _gone(pid: int, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state == "Z":
            return True
        time.sleep(0.1)
    return False


def _status(warehouse: Path) -> str:
    completed = subprocess.run([sys.executable, "-m", "clvlayer.cli", "status"], cwd=PROJECT_ROOT, check=False,
                               env=dict(os.environ, DUCKDB_PATH=str(warehouse),
                                        CLV_KEEP_FAILED_BUILDS=str(KEEP_FAILED)),
                               capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    return completed.stderr


# the fit's build selects the fit and its parents: a whole build runs ~220 other nodes before it starts the fit
@pytest.mark.parametrize(("marker", "select"), [
    pytest.param("START sql incremental model staging.base_shop__orders", [], id="at_staging"),
    pytest.param("START python incremental model intermediate.int_clv_models_fitted",
                 ["--select", "+int_clv_models_fitted", "--indirect-selection", "cautious"], id="at_the_fit"),
])
def test_kill_9_during_dbt_leaves_the_published_warehouse(marker: str, select: list[str], warehouse: Path,
                                                          tmp_path: Path) -> None:
    before = _live_run(warehouse)
    process = _clv(*_build_args(tmp_path, *select), warehouse=warehouse)
    try:
        _wait_for(process, marker)
        child = _dbt_child(warehouse)
        assert child is not None
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert _gone(child), f"the dbt child {child} outlived its killed parent"
    assert (warehouse.parent / ".build").exists() and list((warehouse.parent / ".build").iterdir())
    assert "removed .build/" in _status(warehouse)  # what the next build does first
    _assert_consistent(warehouse, before)


def _paused_build(warehouse: Path, tmp_path: Path, points: str) -> subprocess.Popen:
    return _clv(*_build_args(tmp_path, *STAGING_ONLY), warehouse=warehouse, env={"CLV_FAULT_PAUSE": points})


def _kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def test_kill_9_before_the_record_and_before_the_rename(warehouse: Path, tmp_path: Path) -> None:
    """Stopped (SIGSTOP) at a step, the files are what a kill -9 there leaves; the build is then let go on to the
    next step and killed there."""
    before = _live_run(warehouse)
    process = _paused_build(warehouse, tmp_path, "publish:before_record,publish:before_rename")
    try:
        _wait_for(process, "CLV_PAUSED_AT publish:before_record")
        _assert_consistent(warehouse, before, build_folder=False)
        new_run = next(d.name for d in (warehouse.parent / ".build").iterdir())
        process.send_signal(signal.SIGCONT)
        _wait_for(process, "CLV_PAUSED_AT publish:before_rename")
        _kill(process)
    finally:
        if process.poll() is None:
            process.kill()
    assert _live_run(warehouse) == before
    # the record went first and the rename never happened: the next build (here `clv status`) reconciles
    assert last_published(read_runs(warehouse))["run_id"] == new_run
    assert f"run {new_run} was killed before it replaced the warehouse" in _status(warehouse)
    _assert_consistent(warehouse, before)


CRASHING_WRITER = """
import duckdb, os
connection = duckdb.connect(os.environ["WH"])
connection.execute("set checkpoint_threshold = '1GB'")
connection.execute("create table main.scratch as select 1 as x")
os._exit(9)
"""


def test_kill_9_after_the_rename_with_a_stale_wal(warehouse: Path, tmp_path: Path) -> None:
    """A writer of the old file crashed and left its WAL: the publish removes it (DuckDB would replay it against
    the new file); killed right after the rename, the new file is live and runs.jsonl already names it."""
    subprocess.run([sys.executable, "-c", CRASHING_WRITER], env=dict(os.environ, WH=str(warehouse)), check=False)
    assert warehouse.with_name(warehouse.name + ".wal").exists()
    process = _paused_build(warehouse, tmp_path, "publish:after_rename")
    try:
        _wait_for(process, "CLV_PAUSED_AT publish:after_rename")
        new_run = next(d.name for d in (warehouse.parent / ".build").iterdir())
        _kill(process)
    finally:
        if process.poll() is None:
            process.kill()
    _assert_consistent(warehouse, new_run, build_folder=False)  # at once, before any housekeeping
    assert f"removed a stale {warehouse.name}.wal before publishing" in read_runs(warehouse)[-1]["notes"]
    _status(warehouse)
    _assert_consistent(warehouse, new_run)
    with duckdb.connect(str(warehouse)) as connection:  # even a read-write open: no old log is replayed
        assert connection.execute("select count(*) from audit.build_run").fetchone() == (1,)


# A refused build keeps the warehouse and says why: tests/python/test_one_verdict.py (on check-input's folder).


def test_build_folder_keeps_at_most_n_failed_builds_and_no_killed_ones(tmp_path: Path) -> None:
    warehouse = tmp_path / "customer_value.duckdb"
    root = tmp_path / ".build"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True).stdout.strip()
    for index in range(5):
        run = root / f"2026010{index}T000000Z-failed"
        run.mkdir(parents=True)
        (run / OWNER_FILE).write_text(json.dumps({"pid": int(dead), "warehouse": warehouse.name}))
        (run / FAILED_FILE).write_text("{}")
    killed = root / "20260109T000000Z-killed"
    killed.mkdir()
    (killed / OWNER_FILE).write_text(json.dumps({"pid": int(dead), "warehouse": warehouse.name}))
    other = root / "20260109T000000Z-other-warehouse"
    other.mkdir()
    (other / OWNER_FILE).write_text(json.dumps({"pid": int(dead), "warehouse": "other.duckdb"}))
    removed = clean_build_dirs(warehouse, keep_failed=KEEP_FAILED)
    assert sorted(p.name for p in root.iterdir()) == ["20260103T000000Z-failed", "20260104T000000Z-failed",
                                                      "20260109T000000Z-other-warehouse"]
    assert len(removed) == 4


@pytest.mark.skipif(os.geteuid() != 0, reason="a full disk is simulated with a small tmpfs, which needs root")
def test_full_disk_is_a_clear_error_and_leaves_no_partial_file(warehouse: Path, tmp_path: Path) -> None:
    mount = tmp_path / "small_disk"
    mount.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True,
                             text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        shutil.copytree(warehouse.parent, mount / "wh")
        warehouse = mount / "wh" / warehouse.name
        before = _live_run(warehouse)
        free = shutil.disk_usage(mount).free
        (mount / "filler").write_bytes(b"\0" * (free - 256 * 1024))
        process = _clv(*_build_args(tmp_path, *STAGING_ONLY), warehouse=warehouse)
        output, _ = process.communicate(timeout=600)
        said = " ".join(output.split())
        assert process.returncode == 4, output[-2000:]
        assert "The build ran out of disk space on" in said
        assert "its partial files were removed and the published warehouse is unchanged" in said
        assert not list((mount / "wh" / ".build").glob("*/*.duckdb"))
        (mount / "filler").unlink()
        _assert_consistent(warehouse, before)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_same_input_under_two_time_zones_gives_identical_marts(tmp_path: Path) -> None:
    """Offsets, zone names and a Parquet TIMESTAMPTZ column: the same marts whatever the process TZ is."""
    folder = tmp_path / "raw"
    shutil.copytree(HANDMADE, folder)
    orders = str(folder / "orders.parquet").replace("'", "''")
    with duckdb.connect() as connection:
        connection.execute(f"""copy (select order_id, customer_id,
                    cast(ordered_at as timestamp) at time zone 'Europe/Warsaw' as ordered_at, amount, status,
                    currency, updated_at from read_csv('{folder / 'orders.csv'}', all_varchar = true))
                    to '{orders}' (format parquet)""").fetchall()
    (folder / "orders.csv").unlink()
    refunds = (folder / "refunds.csv").read_text().replace("2024-03-20 10:00:00", "2024-03-20T10:00:00+05:30")
    (folder / "refunds.csv").write_text(refunds.replace("2024-01-20 09:00:00", "2024-01-20 09:00:00 America/Denver"))
    marts = []
    for zone in ("America/New_York", "Asia/Kolkata"):
        old = os.environ.get("TZ")
        os.environ["TZ"] = zone
        try:
            # the marts are compared, not tested again: the handmade warehouse runs every data test on this input
            warehouse = build(tmp_path / zone.replace("/", "_"), folder, ["--exclude", "resource_type:test"])
        finally:
            os.environ.pop("TZ") if old is None else os.environ.__setitem__("TZ", old)
        marts.append(_marts(warehouse))
    assert set(marts[0]) >= {"fct_orders", "dim_customers", "fct_customer_ltv", "fct_cohort_retention"}
    assert marts[0] == marts[1]
    first_order = [r for r in marts[0]["fct_orders"] if r[0] == "1"]
    assert first_order  # 2024-01-10 10:00 in Warsaw is 09:00 UTC
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        assert connection.execute("select ordered_at from marts.fct_orders where order_id = '1'").fetchone()[0] \
            .isoformat() == "2024-01-10T09:00:00"


def _marts(warehouse: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        tables = [r[0] for r in connection.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1").fetchall()]
        return {t: connection.execute(f"select * from marts.{t} order by all").fetchall() for t in tables}


def test_published_file_is_readable_by_duckdb_1_4_clients(handmade_warehouse: Path) -> None:
    with duckdb.connect(str(handmade_warehouse), read_only=True) as connection:
        [(storage,)] = connection.execute(
            "select tags['storage_version'] from duckdb_databases() where database_name = 'warehouse'").fetchall()
        [(run_id,)] = connection.execute("select run_id from audit.build_run").fetchall()
    assert storage.startswith("v1.4")
    assert last_published(read_runs(handmade_warehouse))["run_id"] == run_id


def test_a_run_that_ends_in_an_exception_keeps_its_failing_test(tmp_path: Path) -> None:
    """An invocation that ends in an exception (a connection closed while fail-fast cancels the other thread's query,
    seen on a loaded machine) reports no node results; the failing test is read back from the run_results.json dbt
    wrote in this run, ahead of the exception (an older file is not read)."""
    from clvlayer.dbt_runner import failures_in_run_results

    results = {"results": [
        {"unique_id": "test.customer_value.accepted_range_audit_row_accounting_quarantined_share", "status": "fail",
         "message": "Got 1 result, configured to fail if != 0"},
        {"unique_id": "model.customer_value.fct_orders", "status": "success", "message": "OK"},
        {"unique_id": "model.customer_value.dim_customers", "status": "skipped",
         "message": "Skipping due to fail_fast"},
    ]}
    (tmp_path / "run_results.json").write_text(json.dumps(results))
    assert failures_in_run_results(tmp_path, since=0) == [
        "test.customer_value.accepted_range_audit_row_accounting_quarantined_share: fail: "
        "Got 1 result, configured to fail if != 0"]
    assert failures_in_run_results(tmp_path, since=time.time() + 60) == []  # written before this run: not read
    assert failures_in_run_results(tmp_path / "missing", since=0) == []
