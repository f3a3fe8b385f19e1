"""Write-audit-publish: a failed build leaves the published warehouse byte-identical and keeps the failed file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from clvlayer.build import build_warehouse
from conftest import HANDMADE, build


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_failed_build_keeps_previous_warehouse(tmp_path: Path) -> None:
    warehouse = build(tmp_path, HANDMADE)
    before = _digest(warehouse)
    record = build_warehouse(warehouse, HANDMADE, dbt_args=["--vars", '{"as_of_date": "not-a-date"}'],
                             target_path=tmp_path / "target2")
    assert not record.published and record.failures
    assert _digest(warehouse) == before
    assert Path(record.build_file).exists()  # kept for inspection
    runs = [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert [r["published"] for r in runs] == [True, False]
    assert runs[0]["input_rows"]["orders"] == 8 and runs[0]["output_rows"]["marts.fct_orders"] == 8
