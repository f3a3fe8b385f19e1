"""The one input path (clvlayer.dbt_inputs): one normalisation of the folder, one env for dbt, the Spark variant.
No dbt runs here; the builds through it are in test_bad_input.py, test_publish.py and test_plain_dbt.py."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from clvlayer.contract import InputError
from clvlayer.dbt_inputs import SAMPLE, prepare_inputs
from clvlayer.inputs import MANIFEST_ENV
from clvlayer.project import PROJECT_ROOT, ensure_profiles_dir, raw_folder
from clvlayer.spark import sample_folder, spark_inputs
from conftest import HANDMADE


def test_raw_folder_is_absolute_keeps_links_and_empty_is_the_sample(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    monkeypatch.chdir(tmp_path)
    assert raw_folder("link") == tmp_path / "link"  # the name the user gave, not its target
    assert raw_folder(" ./real/../link ") == tmp_path / "link"
    assert raw_folder(tmp_path / "link") == raw_folder(str(tmp_path / "link"))
    assert raw_folder("") is None and raw_folder("  ") is None and raw_folder(None) is None


def test_the_sample_unsets_both_variables_and_a_folder_sets_both(tmp_path: Path) -> None:
    env = {"RAW_DATA_DIR": "/elsewhere", MANIFEST_ENV: "{}", "OTHER": "kept"}
    SAMPLE.apply_to(env)
    assert env == {"OTHER": "kept"}
    inputs = prepare_inputs(str(HANDMADE), work_dir=tmp_path / "work")
    inputs.apply_to(env)
    assert env["RAW_DATA_DIR"] == str(HANDMADE)
    assert json.loads(env[MANIFEST_ENV])["tables"]["orders"]["source_rows"] == 8
    assert inputs.build_args() == ["--exclude", "resource_type:seed"] and SAMPLE.build_args() == []


def test_input_vars_are_checked_for_the_sample_too() -> None:
    with pytest.raises(InputError, match="date_order"):
        prepare_inputs(None, dbt_args=["--vars", "{date_order: YMD}"])


def test_the_spark_inputs_name_the_file_spark_reads(tmp_path: Path) -> None:
    inputs = spark_inputs(sample_folder(tmp_path / "sample"), dbt_args=None, work_dir=tmp_path / "inputs")
    document = json.loads(inputs.env()[MANIFEST_ENV] or "{}")
    assert set(document["tables"]) == {"orders", "customers", "order_items", "products", "refunds",
                                       "marketing_spend", "campaign_contacts"}
    assert all(os.path.exists(entry["spark_path"]) for entry in document["tables"].values())
    assert inputs.manifest is not None and inputs.env()["RAW_DATA_DIR"] == str(tmp_path / "sample")


def _batch_folder(root: Path, batches: dict[str, str]) -> Path:
    root.mkdir(parents=True)
    for table in HANDMADE.glob("*.csv"):
        if table.name != "orders.csv":
            (root / table.name).write_bytes(table.read_bytes())
    (root / "orders").mkdir(parents=True)
    for name, text in batches.items():
        (root / "orders" / name).write_text(text)
    return root


def test_a_folder_of_batch_files_is_resolved_file_by_file(tmp_path: Path) -> None:
    header, *rows = (HANDMADE / "orders.csv").read_text().splitlines()
    first, second = "\n".join([header, *rows[:5]]) + "\n", "\n".join([header, *rows[5:]]) + "\n"
    folder = _batch_folder(tmp_path / "raw", {"2024-01-02.csv": second, "2024-01-01.csv": first,
                                              ".2024-01-03.csv.part": "partial download"})
    entry = prepare_inputs(str(folder), work_dir=tmp_path / "work").manifest.tables["orders"]
    assert [b.file_name for b in entry.batches] == ["2024-01-01.csv", "2024-01-02.csv"]  # name order, hidden skipped
    assert [b.source_rows for b in entry.batches] == [5, 3] and entry.source_rows == 8
    assert [b.size for b in entry.batches] == [len(first), len(second)] and entry.size == len(first + second)
    assert entry.batches[0].sha256 == hashlib.sha256(first.encode()).hexdigest()
    assert len({b.rejects_table for b in entry.batches}) == 2  # each batch's unreadable lines kept apart
    single = prepare_inputs(str(HANDMADE)).manifest.tables["orders"]
    assert single.batches == [] and single.file_name == "orders.csv"
    assert single.sha256 == hashlib.sha256((HANDMADE / "orders.csv").read_bytes()).hexdigest()


@pytest.mark.parametrize(("batches", "also", "error"), [
    ({"a.csv": "x", "b.parquet": "y"}, None, "mixes .csv and .parquet batch files"),
    ({"a.csv": "order_id\n", "notes.txt": "x"}, None, r"notes\.txt: not a batch file of table 'orders'"),
    ({}, None, "a batch folder with no batch files"),
    ({"a.csv": "order_id,customer_id,ordered_at,amount\n"}, None, "has no rows in any batch file"),
    ({"a.csv": "order_id,customer_id,ordered_at,amount\n1,A,2024-01-01,1\n"}, "orders.csv",
     "orders.csv and the folder orders/ both hold table 'orders'"),
])
def test_a_batch_folder_that_cannot_be_read_is_refused(tmp_path: Path, batches: dict[str, str], also: str | None,
                                                       error: str) -> None:
    folder = _batch_folder(tmp_path / "raw", batches)
    if also:
        (folder / also).write_bytes((HANDMADE / "orders.csv").read_bytes())
    with pytest.raises(InputError, match=error):
        prepare_inputs(str(folder), work_dir=tmp_path / "work")


def test_a_manifest_too_long_for_one_environment_string_travels_in_parts(tmp_path: Path) -> None:
    """Linux refuses an environment string over 128 KiB; a batch folder of ~110+ files makes a longer manifest: it
    goes in parts, dbt's macro joins them (compiled here through dbt), and stale parts of a longer one are removed."""
    import os
    import subprocess
    import sys

    from clvlayer.dbt_inputs import MANIFEST_ENV, PART_CHARS, DbtInputs

    text = json.dumps({"folder": "x", "tables": {}, "padding": "p" * (3 * PART_CHARS)})
    env = DbtInputs(tmp_path, None, text).env()
    assert env[MANIFEST_ENV] == "@parts:4" and all(len(env[f"{MANIFEST_ENV}_{i}"]) <= PART_CHARS for i in range(1, 5))
    assert "".join(env[f"{MANIFEST_ENV}_{i}"] for i in range(1, 5)) == text
    child = {**os.environ, f"{MANIFEST_ENV}_9": "stale"}
    DbtInputs(tmp_path, None, text).apply_to(child)
    assert f"{MANIFEST_ENV}_9" not in child and child[f"{MANIFEST_ENV}_4"]
    subprocess.run(["true"], env=child, check=True)  # the child starts: no string over the limit
    DbtInputs().apply_to(child)
    assert not [key for key in child if key.startswith(MANIFEST_ENV)]
    macro = ("{% set m = input_manifest() %}select '{{ m.padding | length }}' as n, '{{ m.folder }}' as f")
    child = {**os.environ, "DUCKDB_PATH": str(tmp_path / "w.duckdb"), "DBT_PROFILES_DIR": str(ensure_profiles_dir())}
    DbtInputs(None, None, text).apply_to(child)
    out = subprocess.run([str(Path(sys.executable).parent / "dbt"), "show", "--inline", macro, "--output", "json",
                          "--target-path", str(tmp_path / "target")], env=child, capture_output=True, text=True,
                         cwd=PROJECT_ROOT)
    assert f'"n": "{3 * PART_CHARS}"' in out.stdout and '"f": "x"' in out.stdout, out.stdout[-2000:] + out.stderr[-2000:]
