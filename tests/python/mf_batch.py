"""Run many MetricFlow queries in one process (the `mf` CLI costs a dbt parse and an engine start per call).

`query_many(warehouse, requests)` returns one DataFrame per (metrics, group_by, where) request (or saved query's
name), answered by MetricFlow's CLI configuration: the same engine and the same semantic manifest as `mf query`.

The engine is started once per test process and warehouse content, not once per call: the first call for a
warehouse parses the project against it (as `clv mf` does), copies the file to a private folder (the mf CLI opens
its file read-write, so callers keep theirs) and starts a child process that builds the CLI configuration once and
then answers batch after batch. A later call with a file of the same content (every copy of the session's sample
warehouse) reuses that child; a file with other content gets its own. Each call costs ~8 CPU s less than a parse and
an engine start of its own (five calls in the suite, all on copies of the sample).
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from clvlayer.dbt_runner import _die_with_parent, run_dbt
from clvlayer.project import PROJECT_ROOT, ensure_profiles_dir

Request = tuple[list[str], list[str], list[str]] | str  # metrics, group_by, where; or a saved query's name
DONE = "MF_BATCH_DONE"


class _Engine:
    """A child process answering batches of requests against its own copy of one warehouse."""

    def __init__(self, warehouse: Path) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="mf_batch_"))
        copy = self.folder / warehouse.name
        shutil.copyfile(warehouse, copy)
        parsed = run_dbt(["--quiet", "parse"], duckdb_path=copy)
        assert parsed.success, parsed.failures
        env = dict(os.environ, DBT_PROFILES_DIR=str(ensure_profiles_dir()), DUCKDB_PATH=str(copy))
        env.pop("RAW_DATA_DIR", None)
        self.log = self.folder / "child.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen([sys.executable, __file__], cwd=PROJECT_ROOT, env=env, text=True,
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                            preexec_fn=_die_with_parent(os.getpid()))
        self.batches = 0

    def answer(self, requests: list[Request]) -> list[pd.DataFrame]:
        self.batches += 1
        out = self.folder / f"batch{self.batches}"
        out.mkdir()
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"requests": requests, "out": str(out)}) + "\n")
        self.process.stdin.flush()
        for line in self.process.stdout:  # the engine's own prints pass by until the batch is done
            if line.startswith(DONE):
                error = json.loads(line[len(DONE):])
                assert error is None, error
                return [pd.read_csv(out / f"{i}.csv", keep_default_na=True) for i in range(len(requests))]
        raise AssertionError("the MetricFlow child process died:\n" + self.log.read_text()[-4000:])

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


_ENGINES: dict[str, _Engine] = {}


def _content(warehouse: Path) -> str:
    digest = hashlib.sha1()
    with warehouse.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f"{warehouse.name}:{digest.hexdigest()}"


def query_many(warehouse: Path, requests: list[Request]) -> list[pd.DataFrame]:
    key = _content(warehouse)
    if key not in _ENGINES:
        _ENGINES[key] = _Engine(warehouse)
    return _ENGINES[key].answer(requests)


@atexit.register
def _close_engines() -> None:
    for engine in _ENGINES.values():
        engine.close()


def _answer(cfg, spec: dict) -> None:
    import csv

    from metricflow.engine.metricflow_engine import MetricFlowQueryRequest

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


def _child() -> None:
    """Build the CLI configuration once, then answer each batch (a JSON line on stdin) until stdin closes."""
    import traceback

    from dbt_metricflow.cli.cli_configuration import CLIConfiguration

    cfg = CLIConfiguration()
    cfg.setup(configure_file_logging=False)
    for line in sys.stdin:
        try:
            _answer(cfg, json.loads(line))
            error = None
        except Exception:  # noqa: BLE001 - reported to the test that asked
            error = traceback.format_exc()[-4000:]
        print(DONE + json.dumps(error), flush=True)


if __name__ == "__main__":
    _child()
