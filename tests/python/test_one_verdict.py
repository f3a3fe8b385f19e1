"""One verdict: `clv check-input` refuses exactly what the build refuses (the same staging and audit nodes, tests
and threshold vars); a refused build stops at the first failed audit test with what it checks, keeps the published
warehouse and the failed build file, and the CLI says per table the top reasons with example rows and the fix.

One folder, two dbt runs: check-input's scratch build and the refused `clv build` (publish side formerly in
test_publish.py, on a folder of its own: one staging build fewer)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from clvlayer.project import PROJECT_ROOT
from clvlayer.publish import FAILED_FILE, read_runs
from conftest import HANDMADE
from test_publish import _assert_consistent, _clv

STAGING_ONLY = ["--select", "+audit_row_accounting", "+audit_quarantine_summary", "--indirect-selection", "cautious",
                "--exclude", "resource_type:unit_test"]
THRESHOLD_TEST = "accepted_range_audit_row_accounting_quarantined_share"


def _folder(tmp_path: Path, name: str, bad: int) -> Path:
    """The hand-made folder with orders grown to 100 rows, `bad` of them with an amount in decimal commas (with the
    default decimal_separator '.', unparseable: quarantined)."""
    folder = tmp_path / name
    shutil.copytree(HANDMADE, folder)
    orders = folder / "orders.csv"
    clean = 100 - bad - (len(orders.read_text().splitlines()) - 1)
    with orders.open("a") as handle:
        handle.write("".join(f"c{i},A,2024-03-01 10:00:00,20.00,completed,USD,\n" for i in range(clean)))
        handle.write("".join(f'x{i},A,2024-03-02 10:00:00,"{i},50",completed,USD,\n' for i in range(bad)))
    return folder


def _check_input(folder: Path) -> tuple[int, str]:
    completed = subprocess.run([sys.executable, "-m", "clvlayer.cli", "check-input", str(folder)],
                               cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
    return completed.returncode, " ".join(completed.stderr.split())


def test_check_input_refuses_what_the_build_refuses(handmade_warehouse: Path, tmp_path: Path) -> None:
    folder = _folder(tmp_path, "ten_percent", bad=10)
    code, said = _check_input(folder)
    assert code == 1, said
    assert ("orders: 10 of 100 rows quarantined (10.0%), above the threshold max_quarantined_share = 5.0%: the "
            "build refuses this (quarantine_threshold_severity: error)") in said
    assert "refused: the build would not publish this folder" in said and THRESHOLD_TEST in said
    assert "unparseable_amount: 10 rows. Fix: Not a plain number" in said and '"amount":"0,50"' in said

    warehouse = tmp_path / "wh" / handmade_warehouse.name  # a copy of the published hand-made warehouse
    warehouse.parent.mkdir()
    for name in (handmade_warehouse.name, "runs.jsonl"):
        shutil.copy2(handmade_warehouse.parent / name, warehouse.parent / name)
    before = warehouse.read_bytes()
    process = _clv("build", "--raw-dir", str(folder), "--", *STAGING_ONLY, "--target-path", str(tmp_path / "target"),
                   warehouse=warehouse)
    output, _ = process.communicate(timeout=600)
    said = " ".join(output.split())
    assert process.returncode == 1, output[-3000:]
    assert warehouse.read_bytes() == before  # refused: the published file is untouched
    assert THRESHOLD_TEST in said
    assert "orders: 10 rows quarantined (10.0% of 100 rows)" in said
    assert "unparseable_amount: 10 rows. Fix: Not a plain number: use digits with var decimal_separator" in said
    assert said.count('e.g. {"order_id":"x') == 3 and '"amount":"0,50"' in said
    record = read_runs(warehouse)[-1]
    assert record["published"] is False and record["error_kind"] == "tests"
    # fail-fast: the threshold test failed and no other test gave a verdict (a node running beside it when dbt
    # cancels the open connections may end in an error, listed in any order: seen twice on a loaded machine)
    verdicts = [failure for failure in record["failures"] if ": fail:" in failure]
    assert len(verdicts) == 1 and verdicts[0].split(":")[0].split(".")[2].startswith(THRESHOLD_TEST), \
        record["failures"]
    assert [check for check in record["failed_checks"] if check.startswith(
        "accepted_range on audit_row_accounting.quarantined_share: quarantined_rows / raw_rows. Above "
        "var('max_quarantined_share')")], record["failed_checks"]
    kept = Path(record["build_file"])
    assert kept.exists() and (kept.parent / FAILED_FILE).exists()
    _assert_consistent(warehouse)


def test_check_input_passes_a_folder_within_the_threshold(tmp_path: Path) -> None:
    code, said = _check_input(_folder(tmp_path, "two_percent", bad=2))
    assert code == 0, said
    assert "orders: 2 rows quarantined (2.0% of 100 rows)" in said
    assert "ok: the build's checks and thresholds pass on every row." in said
