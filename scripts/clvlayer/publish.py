"""Publishing a built warehouse file safely: one build at a time, a record for every live file, nothing left over.

Guarantees (docs/operations.md, "Publishing"):
  * one build per warehouse at a time: an exclusive lock (fcntl.flock on `.<name>.lock` beside the warehouse).
    A second build waits, printing who holds the lock, for at most `lock_timeout` seconds (None = as long as it
    takes), then exits clearly. The kernel releases the lock when its holder dies, even by kill -9;
  * the run record is part of the publish: it is written into the new file (table audit.build_run) before the
    file is published, and appended to runs.jsonl before the rename; a run killed between the two is reconciled
    by the next build (or `clv status`), which compares runs.jsonl with the record inside the live file;
  * a stale WAL (`<warehouse>.wal`, left by a crashed writer of the old file) is removed before the rename, so it
    cannot be replayed against the new file; the new file is opened read-only before and after the rename, and the
    previous file is restored if the published one does not open;
  * `.build/` keeps at most `keep_failed` failed builds; builds whose process is gone (killed) are removed; a
    build that fails for lack of disk space removes its partial file instead of keeping it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import socket
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_KEEP_FAILED = 3
OWNER_FILE = "owner.json"
FAILED_FILE = "failed.json"


class LockTimeout(Exception):
    """Another build holds the warehouse lock and did not release it in time."""


class DiskFull(Exception):
    """The build ran out of disk space; its partial files were removed."""


def lock_path(warehouse: Path) -> Path:
    return warehouse.parent / f".{warehouse.name}.lock"


def runs_path(warehouse: Path) -> Path:
    return warehouse.parent / "runs.jsonl"


def build_root(warehouse: Path) -> Path:
    return warehouse.parent / ".build"


@contextlib.contextmanager
def warehouse_lock(warehouse: Path, *, run_id: str, timeout: float | None,
                   say: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> Iterator[None]:
    """Hold the exclusive build lock of `warehouse` (see the module docstring)."""
    path = lock_path(warehouse)
    handle = path.open("a+")  # not inherited by child processes (Python opens files close-on-exec)
    try:
        started, announced = time.monotonic(), False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _lock_holder(path)
                waited = time.monotonic() - started
                if timeout is not None and waited >= timeout:
                    raise LockTimeout(f"another build of {warehouse} is running ({holder}); gave up after "
                                      f"{waited:.0f}s. Wait for it to finish, or pass --lock-timeout to wait "
                                      "longer.") from None
                if not announced:
                    say(f"Waiting for another build of {warehouse} to finish ({holder}); "
                        f"{'no time limit' if timeout is None else f'up to {timeout:.0f}s'} (--lock-timeout).")
                    announced = True
                time.sleep(0.2)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "run_id": run_id, "host": socket.gethostname(),
                                 "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}))
        handle.flush()
        yield
    finally:
        handle.close()  # closing the descriptor releases the lock


def _lock_holder(path: Path) -> str:
    try:
        holder = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return "holder unknown"
    return f"run {holder.get('run_id', '?')}, pid {holder.get('pid', '?')} since {holder.get('since', '?')}"


# --- the build folder ----------------------------------------------------------------------------------------------

def start_build_dir(warehouse: Path, run_id: str) -> Path:
    directory = build_root(warehouse) / run_id
    directory.mkdir(parents=True, exist_ok=False)
    (directory / OWNER_FILE).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                                    "warehouse": warehouse.name}))
    return directory


def mark_failed(build_dir: Path, reason: str) -> None:
    with contextlib.suppress(OSError):
        (build_dir / FAILED_FILE).write_text(json.dumps({"reason": reason[:2000]}))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    return True


def clean_build_dirs(warehouse: Path, *, keep_failed: int, current: Path | None = None) -> list[str]:
    """Remove the build folders of killed builds and all but the newest `keep_failed` failed ones. Call it holding
    the lock: then no other build of this warehouse is running. Returns what was removed."""
    root = build_root(warehouse)
    if not root.is_dir():
        return []
    removed, failed = [], []
    for directory in sorted(p for p in root.iterdir() if p.is_dir() and p != current):
        owner = _read_json(directory / OWNER_FILE)
        if owner.get("warehouse", warehouse.name) != warehouse.name:
            continue  # another warehouse in the same folder owns it
        if (directory / FAILED_FILE).exists():
            failed.append(directory)
            continue
        same_host = owner.get("host", socket.gethostname()) == socket.gethostname()
        if same_host and owner.get("pid") and _pid_alive(int(owner["pid"])) and int(owner["pid"]) != os.getpid():
            continue  # a live process still owns it (a build of this warehouse cannot be: we hold the lock)
        shutil.rmtree(directory, ignore_errors=True)
        removed.append(f"{directory.name} (killed build)")
    for directory in failed[:max(len(failed) - keep_failed, 0)]:
        shutil.rmtree(directory, ignore_errors=True)
        removed.append(f"{directory.name} (old failed build)")
    return removed


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def is_disk_full(error: BaseException | str) -> bool:
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return True
    text = str(error).lower()
    return "no space left on device" in text or "disk is full" in text or "disk full" in text


# --- run records ---------------------------------------------------------------------------------------------------

def append_run_record(warehouse: Path, record: dict[str, Any]) -> None:
    """Append one JSON line to runs.jsonl and flush it to disk."""
    with runs_path(warehouse).open("a") as log:
        log.write(json.dumps(record) + "\n")
        log.flush()
        os.fsync(log.fileno())


def read_runs(warehouse: Path) -> list[dict[str, Any]]:
    path = runs_path(warehouse)
    if not path.exists():
        return []
    runs = []
    for line in path.read_text().splitlines():
        with contextlib.suppress(ValueError):
            runs.append(json.loads(line))
    return runs


def last_published(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The run runs.jsonl names as live: its last record with published = true."""
    return next((r for r in reversed(runs) if r.get("published")), None)


def embedded_record(database: Path) -> dict[str, Any] | None:
    """The run record stored inside a warehouse file (audit.build_run), read-only; None when absent."""
    import duckdb

    try:
        with duckdb.connect(str(database), read_only=True) as connection:
            row = connection.execute("select record from audit.build_run").fetchone()
    except duckdb.Error:
        return None
    return json.loads(row[0]) if row else None


def reconcile_runs(warehouse: Path) -> list[str]:
    """Make runs.jsonl name the live warehouse's run as its last published one (call holding the lock)."""
    if not warehouse.exists():
        return []
    live = embedded_record(warehouse)
    if live is None:
        return []
    runs = read_runs(warehouse)
    latest = last_published(runs)
    if latest is not None and latest.get("run_id") == live.get("run_id"):
        return []
    notes = []
    if latest is not None:
        append_run_record(warehouse, {**latest, "published": False, "reconciled": True,
                                      "failures": [f"killed before its file replaced the warehouse; the live "
                                                   f"warehouse is run {live.get('run_id')}"]})
        notes.append(f"run {latest.get('run_id')} was killed before it replaced the warehouse")
    append_run_record(warehouse, {**live, "published": True, "reconciled": True})
    notes.append(f"runs.jsonl now names the live warehouse's run {live.get('run_id')} again")
    return notes


# --- the publish step ----------------------------------------------------------------------------------------------

@dataclass
class PublishResult:
    removed_stale_wal: bool


def write_embedded_record(build_file: Path, record: dict[str, Any]) -> None:
    """Store the run record in the build file (and checkpoint it, so no WAL is left beside it)."""
    import duckdb

    with duckdb.connect(str(build_file)) as connection:
        connection.execute("create schema if not exists audit")
        connection.execute("create or replace table audit.build_run as select ? as run_id, ? as record",
                           [record["run_id"], json.dumps(record)])
        connection.execute("checkpoint")
    wal = build_file.with_name(build_file.name + ".wal")
    if wal.exists():
        raise RuntimeError(f"{wal} is still there after a checkpoint; not publishing a file that needs it")


def verify_read_only(database: Path, run_id: str) -> None:
    """Open the file read-only and check it is the run's warehouse (raises when it is not)."""
    record = embedded_record(database)
    if record is None or record.get("run_id") != run_id:
        raise RuntimeError(f"{database} does not open read-only as run {run_id} (found: "
                           f"{record.get('run_id') if record else 'nothing readable'})")


def publish_file(build_file: Path, warehouse: Path, run_id: str,
                 pause: Callable[[str], None] = lambda point: None) -> PublishResult:
    """Replace `warehouse` by `build_file` atomically; the run record must already be in runs.jsonl."""
    previous = build_file.with_name("previous.duckdb")
    if warehouse.exists():
        with contextlib.suppress(OSError):  # a file system without hard links: no way back, still atomic
            os.link(warehouse, previous)  # a second name for the old file, to restore it if the new one fails
    wal = warehouse.with_name(warehouse.name + ".wal")
    removed_stale_wal = wal.exists()
    if removed_stale_wal:
        wal.unlink()  # it belongs to the old file: DuckDB would replay it against the new one
    pause("publish:before_rename")
    os.replace(build_file, warehouse)
    _fsync_dir(warehouse.parent)
    pause("publish:after_rename")
    try:
        verify_read_only(warehouse, run_id)
    except Exception:
        if previous.exists():
            os.replace(previous, warehouse)
            _fsync_dir(warehouse.parent)
        raise
    previous.unlink(missing_ok=True)
    return PublishResult(removed_stale_wal=removed_stale_wal)


def _fsync_dir(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
