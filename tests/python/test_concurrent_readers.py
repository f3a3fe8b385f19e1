"""A reader querying the published warehouse in a loop during a full build + publish never gets an error, and
sees the new data after the publish."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from clvlayer.build import build_warehouse
from conftest import HANDMADE, build

READER = """
import json, sys, time, duckdb
path, stop, out = sys.argv[1], sys.argv[2], sys.argv[3]
seen, errors = [], []
from pathlib import Path
while not Path(stop).exists():
    try:
        with duckdb.connect(path, read_only=True) as con:
            seen.append(con.execute("select count(*) from marts.fct_orders").fetchone()[0])
    except Exception as error:
        errors.append(repr(error))
    time.sleep(0.02)
Path(out).write_text(json.dumps({"seen": seen, "errors": errors}))
"""


def test_reader_never_fails_during_publish(tmp_path: Path) -> None:
    warehouse = build(tmp_path, HANDMADE)
    newer = tmp_path / "newer"
    shutil.copytree(HANDMADE, newer)
    with (newer / "orders.csv").open("a") as handle:
        handle.write("9,D,2024-03-09 12:00:00,10.00,completed,USD,\n")
    stop, out = tmp_path / "stop", tmp_path / "reader.json"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(warehouse), str(stop), str(out)])
    try:
        time.sleep(1.0)
        record = build_warehouse(warehouse, newer, target_path=tmp_path / "target2")
        assert record.published
        time.sleep(1.0)
    finally:
        stop.touch()
        reader.wait(timeout=30)
    result = json.loads(out.read_text())
    assert result["errors"] == []
    assert result["seen"][0] == 8 and result["seen"][-1] == 9
    assert set(result["seen"]) == {8, 9}
    first_new = result["seen"].index(9)
    assert all(count == 9 for count in result["seen"][first_new:])  # never back to the old data
