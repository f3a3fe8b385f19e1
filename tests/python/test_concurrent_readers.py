"""Two builds of one warehouse at once, with a reader querying it in a loop: the builds take turns (one lock per
warehouse), a third that may not wait exits clearly, the reader never gets an error and never goes back to older
data, and runs.jsonl lists the runs in the order they were published."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from clvlayer.project import PROJECT_ROOT
from clvlayer.publish import embedded_record, last_published, read_runs
from conftest import HANDMADE

STAGING_ONLY = ["--select", "+audit_row_accounting", "+audit_quarantine_summary", "--indirect-selection", "cautious"]

READER = """
import json, sys, time, duckdb
path, stop, out = sys.argv[1], sys.argv[2], sys.argv[3]
seen, errors = [], []
from pathlib import Path
while not Path(stop).exists():
    try:
        with duckdb.connect(path, read_only=True) as con:
            seen.append(con.execute("select count(*) from staging.stg_shop__orders").fetchone()[0])
    except Exception as error:
        errors.append(repr(error))
    time.sleep(0.02)
Path(out).write_text(json.dumps({"seen": seen, "errors": errors}))
"""


def _folder_with_orders(tmp_path: Path, name: str, extra: int) -> Path:
    folder = tmp_path / name
    shutil.copytree(HANDMADE, folder)
    with (folder / "orders.csv").open("a") as handle:
        handle.write("".join(f"{9 + i},D,2024-03-09 12:00:00,10.00,completed,USD,\n" for i in range(extra)))
    return folder


def _build(tmp_path: Path, folder: Path, warehouse: Path, *options: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "clvlayer.cli", "build", "--raw-dir", str(folder), *options, "--",
                             *STAGING_ONLY, "--target-path", str(tmp_path / f"target_{folder.name}")],
                            cwd=PROJECT_ROOT, env=dict(os.environ, DUCKDB_PATH=str(warehouse)),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _read_until(process: subprocess.Popen, marker: str) -> list[str]:
    lines = []
    for line in process.stdout:
        lines.append(line)
        if marker in line:
            return lines
    raise AssertionError(f"no {marker!r}:\n" + "".join(lines[-30:]))


def test_concurrent_builds_take_turns_and_readers_never_fail(handmade_warehouse: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "wh" / handmade_warehouse.name
    warehouse.parent.mkdir()
    for name in (handmade_warehouse.name, "runs.jsonl"):
        shutil.copy2(handmade_warehouse.parent / name, warehouse.parent / name)
    stop, out = tmp_path / "stop", tmp_path / "reader.json"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(warehouse), str(stop), str(out)])
    try:
        time.sleep(1.0)
        first = _build(tmp_path, _folder_with_orders(tmp_path, "nine", 1), warehouse)
        _read_until(first, "Running with dbt")  # it holds the lock from before dbt starts
        refused = _build(tmp_path, _folder_with_orders(tmp_path, "refused", 5), warehouse, "--lock-timeout", "0")
        refused_output, _ = refused.communicate(timeout=120)
        second = _build(tmp_path, _folder_with_orders(tmp_path, "ten", 2), warehouse)
        waited = _read_until(second, "Waiting for another build of")
        assert not any("Running with dbt" in line for line in waited)
        assert first.wait(timeout=600) == 0 and second.wait(timeout=600) == 0
        time.sleep(1.0)
    finally:
        stop.touch()
        reader.wait(timeout=30)
    assert refused.returncode == 3
    assert "Not built: another build of" in " ".join(refused_output.split())
    result = json.loads(out.read_text())
    assert result["errors"] == []
    seen = result["seen"]
    assert seen[0] == 8 and seen[-1] == 10 and set(seen) <= {8, 9, 10}
    assert seen == sorted(seen)  # never back to older data
    runs = read_runs(warehouse)
    published = [r for r in runs if r.get("published")]
    assert [r["input"].rsplit("/", 1)[-1] for r in published[-2:]] == ["nine", "ten"]
    assert published[-1]["started_at"] >= published[-2]["finished_at"]  # the second worked after the first
    assert any("waited" in note for note in published[-1]["notes"])
    assert last_published(runs)["run_id"] == embedded_record(warehouse)["run_id"]
