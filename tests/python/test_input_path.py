"""The one input path (clvlayer.dbt_inputs): one normalisation of the folder, one env for dbt, the Spark variant.
No dbt runs here; the builds through it are in test_bad_input.py, test_publish.py and test_plain_dbt.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from clvlayer.contract import InputError
from clvlayer.dbt_inputs import SAMPLE, prepare_inputs
from clvlayer.inputs import MANIFEST_ENV
from clvlayer.project import raw_folder
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
                                       "marketing_spend"}
    assert all(os.path.exists(entry["spark_path"]) for entry in document["tables"].values())
    assert inputs.manifest is not None and inputs.env()["RAW_DATA_DIR"] == str(tmp_path / "sample")
