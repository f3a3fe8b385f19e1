"""Run many MetricFlow queries in one process (the `mf` CLI costs a dbt parse and an engine start per call).

`query_many(warehouse, requests)` parses the project against the warehouse once (as `clv mf` does), then a child
process builds MetricFlow's CLI configuration once and answers every (metrics, group_by, where) request, returning
one DataFrame each. The numbers are the CLI's: the same engine and the same semantic manifest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from clvlayer.dbt_runner import run_dbt
from clvlayer.project import PROJECT_ROOT, ensure_profiles_dir

Request = tuple[list[str], list[str], list[str]] | str  # metrics, group_by, where; or a saved query's name


def query_many(warehouse: Path, requests: list[Request]) -> list[pd.DataFrame]:
    parsed = run_dbt(["--quiet", "parse"], duckdb_path=warehouse)
    assert parsed.success, parsed.failures
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "requests.json"
        spec.write_text(json.dumps({"requests": requests, "out": tmp}))
        env = dict(os.environ, DBT_PROFILES_DIR=str(ensure_profiles_dir()), DUCKDB_PATH=str(warehouse))
        env.pop("RAW_DATA_DIR", None)
        done = subprocess.run([sys.executable, __file__, str(spec)], cwd=PROJECT_ROOT, env=env, check=False,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-4000:]
        return [pd.read_csv(Path(tmp) / f"{i}.csv", keep_default_na=True) for i in range(len(requests))]


def _child(spec_path: str) -> None:
    import csv

    from dbt_metricflow.cli.cli_configuration import CLIConfiguration
    from metricflow.engine.metricflow_engine import MetricFlowQueryRequest

    spec = json.loads(Path(spec_path).read_text())
    cfg = CLIConfiguration()
    cfg.setup(configure_file_logging=False)
    for i, asked in enumerate(spec["requests"]):
        if isinstance(asked, str):  # `mf query --saved-query NAME`
            request = MetricFlowQueryRequest.create(saved_query_name=asked)
        else:
            metrics, group_by, where = asked
            request = MetricFlowQueryRequest.create(metric_names=metrics, group_by_names=group_by or None,
                                                    where_constraints=where or None)
        frame = cfg.mf.query(mf_request=request).result_df
        with open(Path(spec["out"]) / f"{i}.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(frame.column_names)
            for row in frame.rows:
                writer.writerow(row)


if __name__ == "__main__":
    _child(sys.argv[1])
