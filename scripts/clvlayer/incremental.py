"""Incremental runs (`clv build --incremental`): whether the published warehouse can be the start of the run, and
the copy the run starts from (docs/operations.md, "Incremental runs").

Write-audit-publish holds: the run copies the last good warehouse into its own build folder, dbt applies the change
to the copy (the incremental models replace the rows of what changed, every other model is rebuilt), the tests run
on the copy, and only then is it published. The published file is never written to.

The copy is only a valid start when its incremental tables were computed by the same code and settings. The state
fingerprint hashes what they depend on - every file under models/ and macros/, dbt_project.yml, the Python package
the dbt Python models run (scripts/clvlayer) and the effective vars - and is stored in each run record; a run whose fingerprint differs from the published one's builds in full
(with a note saying why), as does a run with no published warehouse, and a run whose node selection (`clv build --
-s ...`; none: the whole graph) is not the published run's: the incremental tables find what changed by the rows
their inputs (re)wrote in the same run, so a table a selective run left out would miss that run's changes for good.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from clvlayer.inputs import project_vars
from clvlayer.project import PROJECT_ROOT
from clvlayer.publish import embedded_record

# the model library's code included: the stored fits and backtest predictions are its output
STATE_PATHS = ("models", "macros", "dbt_project.yml", "scripts/clvlayer")
#: dbt's node selection arguments: a run given one may build part of the models
SELECTION_FLAGS = ("-s", "--select", "-m", "--models", "--exclude", "--selector")
#: selection methods that pick tests only: excluding them leaves every model built
TEST_ONLY_METHODS = ("resource_type:test", "resource_type:unit_test", "test_type:", "test_name:")


def _flag_values(dbt_args: list[str] | None, flags: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """(flag, value) for each value `dbt_args` gives one of `flags` (`--flag v1 v2` or `--flag=v`)."""
    flag = ""
    for arg in dbt_args or []:
        if arg.startswith("-"):
            name, _, inline = arg.partition("=")
            flag = name if name in flags else ""
            values = [inline] if inline and flag else []
        else:
            values = [arg] if flag else []
        for value in values:
            yield flag, value


def node_selection(dbt_args: list[str] | None) -> list[str]:
    """The node selection arguments of `dbt_args` that may leave models out (each flag with its values; an
    `--exclude` of tests only, e.g. `--exclude resource_type:test`, is not one): empty for the whole graph."""
    selection: list[str] = []
    emitted = ""
    for flag, value in _flag_values(dbt_args, SELECTION_FLAGS):
        if flag == "--exclude" and value.startswith(TEST_ONLY_METHODS):
            continue
        if emitted != flag:
            selection.append(flag)
            emitted = flag
        selection.append(value)
    return selection


def test_filters(dbt_args: list[str] | None) -> list[str]:
    """The arguments of `dbt_args` that choose which data tests run beyond the node selection (each flag with its
    values): an `--exclude` of tests other than unit tests, the resource-type filters, `--indirect-selection`. An
    incremental run's data tests read only what it writes (macros/tests/scoped_tests.sql) only when its published run
    had the same (and the same node selection, start_from_published): then every test the run makes ran on the
    published warehouse, and a row the run does not write passed it."""
    unit_tests = ("resource_type:unit_test", "test_type:unit", "unit_test")
    flags = ("--exclude", "--resource-type", "--resource-types", "--exclude-resource-type",
             "--exclude-resource-types", "--indirect-selection")
    filters: list[str] = []
    for flag, value in _flag_values(dbt_args, flags):
        tests_only = value in ("test", "data_test") or value.startswith(TEST_ONLY_METHODS)
        if value not in unit_tests and (flag != "--exclude" or tests_only):
            filters += [flag, value]
    return filters


def state_fingerprint(dbt_args: list[str] | None) -> str:
    """sha256 of the code and settings the incremental tables depend on (see the module docstring)."""
    digest = hashlib.sha256()
    for name in STATE_PATHS:
        root = PROJECT_ROOT / name
        files = sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts) \
            if root.is_dir() else [root]
        for path in files:
            digest.update(str(path.relative_to(PROJECT_ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(json.dumps(project_vars(dbt_args), sort_keys=True, default=str).encode())
    return digest.hexdigest()


@dataclass
class Start:
    """How an incremental run starts: from a copy of the published run `from_run`, or (copied False) in full."""

    copied: bool
    note: str
    from_run: str = ""
    copy_seconds: float = 0.0
    test_filters: list[str] | None = None  # the published run's test_filters (None: not recorded)


def _described(selection: list[str] | tuple[str, ...]) -> str:
    return f"the selection {' '.join(selection)}" if selection else "the whole graph"


def start_from_published(warehouse: Path, build_file: Path, fingerprint: str,
                         selection: list[str] | tuple[str, ...] = ()) -> Start:
    """Copy the published warehouse to `build_file` when its state fingerprint is `fingerprint` and it built the
    same node `selection` (node_selection; empty: the whole graph)."""
    if not warehouse.exists():
        return Start(False, f"incremental: no published warehouse at {warehouse}; built in full")
    record = embedded_record(warehouse) or {}
    run_id = record.get("run_id", "?")
    if record.get("state_fingerprint") != fingerprint:
        return Start(False, f"incremental: the code or settings changed since the published run {run_id} "
                            "(models, macros, dbt_project.yml, scripts/clvlayer or --vars); built in full")
    published_selection = record.get("selection") or []
    if published_selection != list(selection):
        return Start(False, f"incremental: the published run {run_id} built "
                            f"{_described(published_selection)} and this run builds {_described(selection)}: "
                            "incremental tables one of them left out may lag their inputs; built in full")
    started = time.perf_counter()
    shutil.copyfile(warehouse, build_file)
    seconds = time.perf_counter() - started
    size = build_file.stat().st_size / 2**20
    return Start(True, f"incremental from run {run_id}: copied the published warehouse ({size:,.0f} MiB) in "
                       f"{seconds:.1f}s", run_id, seconds, record.get("test_filters"))
