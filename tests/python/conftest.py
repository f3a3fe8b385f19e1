"""Shared fixtures: warehouses built once per test run from the embedded sample, the hand-made fixture and the
generator, shared by every pytest-xdist worker (see `built_once`)."""

from __future__ import annotations

import os

# One BLAS thread per process (set before numpy is first imported; subprocesses inherit it). The suite's
# linear algebra is tiny (4x4 Hessians, L-BFGS-B updates); on this shared 2-core machine OpenBLAS' worker
# threads cost far more than they compute: test_btyd.py took 34 s with them and 18 s without.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# the ~100 dbt invocations of a run start as forks of one process per worker that has dbt, DuckDB, numpy and scipy
# loaded (clvlayer.dbt_forkserver): 2-4 CPU s of imports each, otherwise
os.environ.setdefault("CLV_DBT_FORK_SERVER", "1")
# no debug log file (logs/dbt.log) from the suite's ~100 dbt invocations: formatting and writing every debug event
# cost ~0.65 CPU s a build (two 800-customer builds through the fork server, five runs each, alternating: with it
# 28.6-30.2 CPU s, mean 29.5; without 27.0-29.4, mean 28.1); no test reads it, a build's failures are in its run
# record and run_results.json. DBT_LOG_LEVEL_FILE=debug brings it back.
os.environ.setdefault("DBT_LOG_LEVEL_FILE", "none")

import fcntl  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from datetime import date  # noqa: E402
from pathlib import Path  # noqa: E402

import duckdb  # noqa: E402
import pytest  # noqa: E402

from clvlayer.build import RunRecord, build_warehouse  # noqa: E402
from clvlayer.project import PROJECT_ROOT  # noqa: E402
from clvlayer.suite import PREBUILT_SAMPLE_ENV  # noqa: E402

HANDMADE = PROJECT_ROOT / "tests" / "fixtures" / "handmade"


# Cheaper predictive settings for builds whose assertions hold whatever the draw count and the backtest dates (an
# incremental run publishes what a full build of the same input publishes under the same settings; a fit is reused
# or refitted for its reason): 4 parameter draws for the intervals instead of 30, one backtest date instead of three
# (the backtest, its stored predictions and their reuse are still built and compared). Every build a case compares
# gets the same settings; one JSON text, so dbt's parse state of one build serves the next.
FAST_PREDICTIVE = {"clv_interval_draws": 4, "ltv_backtest_months_before": [6]}


def fast_vars(**more: object) -> list[str]:
    """`--vars` with FAST_PREDICTIVE and `more` (one mapping: dbt reads only the last --vars)."""
    return ["--vars", json.dumps({**FAST_PREDICTIVE, **more})]


def build_published(warehouse: Path, raw: Path, target: Path, incremental: bool, args: list[str]) -> RunRecord:
    """`clv build` of folder `raw` into `warehouse` (a night of a module's chain), asserting it published."""
    record = build_warehouse(warehouse, raw, dbt_args=args, target_path=target, incremental=incremental)
    assert record.published, record.failures
    return record


def data_tests_in(target: Path) -> int:
    """How many data tests the dbt run that last wrote the target folder `target` ran (its run_results.json)."""
    results = json.loads((target / "run_results.json").read_text())["results"]
    return sum(result["unique_id"].startswith("test.") for result in results)


def build(tmp: Path, raw_dir: Path | None, extra_args: list[str] | None = None, *, unit_tests: bool = False) -> Path:
    """Build a warehouse for a test. dbt unit tests do not depend on the input, so `clv test` runs them once in its
    own dbt build and the fixtures skip them (about 10 s per build), unless `unit_tests`."""
    warehouse = tmp / "warehouse.duckdb"
    args = [*(extra_args or []), *([] if unit_tests else ["--exclude", "resource_type:unit_test"])]
    record = build_warehouse(warehouse, raw_dir, dbt_args=args, target_path=tmp / "target")
    assert record.published, f"build failed: {record.failures}"
    return warehouse


DONE = ".built"


def run_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temporary folder of this whole test run: under pytest-xdist each worker's basetemp (popen-gwN) sits in it,
    so what is built there is seen by every worker; without xdist it is the basetemp itself."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextmanager
def run_lock(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Path]:
    """Hold the run-wide lock `name` (one xdist worker at a time); yields the run's shared folder."""
    shared = run_root(tmp_path_factory) / "built_once"
    shared.mkdir(exist_ok=True)
    with (shared / f"{name}.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, also when a worker dies
        try:
            yield shared
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], object]) -> Path:
    """The folder `name` of this test run, filled by `make(folder)` exactly once whichever worker asks first; the
    others wait for it (a file lock) and reuse it. A folder whose build failed is removed and built again by the
    next asker, so each asker reports the failure itself. Fixtures built here must be read-only for their users
    (open the warehouse read_only, or copy it first)."""
    with run_lock(tmp_path_factory, name) as shared:
        folder = shared / name
        if not (folder / DONE).exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            make(folder)
            (folder / DONE).write_text(os.environ.get("PYTEST_XDIST_WORKER", "main"))
    return folder


def build_sample(folder: Path) -> None:
    """The embedded sample's warehouse: a copy of the one `clv test` built and tested a moment ago (its dbt build
    step; clvlayer.suite.PREBUILT_SAMPLE_ENV), else built here."""
    prebuilt = os.environ.get(PREBUILT_SAMPLE_ENV)
    if prebuilt and (Path(prebuilt) / "warehouse.duckdb").exists():
        for name in ("warehouse.duckdb", "runs.jsonl"):
            shutil.copyfile(Path(prebuilt) / name, folder / name)
        shutil.copytree(Path(prebuilt) / "target", folder / "target")
    else:
        build(folder, None)


@pytest.fixture(scope="session")
def sample_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built_once(tmp_path_factory, "sample", build_sample) / "warehouse.duckdb"


@pytest.fixture(scope="session")
def handmade_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built_once(tmp_path_factory, "handmade", lambda folder: build(folder, HANDMADE)) / "warehouse.duckdb"


@pytest.fixture
def query() -> Callable[[Path, str], list[tuple]]:
    def run(database: Path, sql: str) -> list[tuple]:
        with duckdb.connect(str(database), read_only=True) as connection:
            return connection.execute(sql).fetchall()

    return run


def generator_build(tmp_path_factory: pytest.TempPathFactory, name: str, customers: int, seed: int,
                    end: date, extra_args: list[str] | None = None) -> tuple[Path, Path]:
    """Generator data (CSV, from 2023-01-01 to `end`) in raw/ and the warehouse built from it (dbt args
    `extra_args`), once per run."""
    from clvlayer.generate import generate

    def make(tmp: Path) -> None:
        generate(tmp / "raw", customers=customers, seed=seed, start=date(2023, 1, 1), end=end, fmt="csv")
        build(tmp, tmp / "raw", extra_args)

    tmp = built_once(tmp_path_factory, name, make)
    return tmp / "raw", tmp / "warehouse.duckdb"


GENERATED_SEED = 11


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Generator data (1,500 customers, 2023-2024, seed 11, CSV) and the warehouse built from it."""
    return generator_build(tmp_path_factory, "generated", 1500, GENERATED_SEED, date(2024, 12, 31))


@pytest.fixture(scope="session")
def oracle_data(tmp_path_factory: pytest.TempPathFactory) -> Callable[[int], tuple[Path, Path]]:
    """Generator data (2023-2024, the given seed, CSV) and the warehouse built from it, once per seed for the whole
    run: the pandas oracles of test_oracle.py and test_oracle_segments.py read the same builds. Seed 11 is the
    `generated` fixture's input (1,500 customers; one build for both), the other seeds 600 customers."""
    def data(seed: int) -> tuple[Path, Path]:
        if seed == GENERATED_SEED:
            return generator_build(tmp_path_factory, "generated", 1500, GENERATED_SEED, date(2024, 12, 31))
        return generator_build(tmp_path_factory, f"oracle_{seed}", 600, seed, date(2024, 12, 31))

    return data


@pytest.fixture(scope="session")
def orders_only_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse built from the sample's orders alone (no customers, items, products, refunds or spend), the way a
    user's `clv build --raw-dir` builds it: with every unit test too (its target/run_results.json says which ran;
    test_missing_inputs.py reads it), in the same dbt run."""
    def make(tmp: Path) -> None:
        (tmp / "raw").mkdir()
        shutil.copyfile(PROJECT_ROOT / "seeds" / "raw_orders.csv", tmp / "raw" / "orders.csv")
        build(tmp, tmp / "raw", unit_tests=True)

    return built_once(tmp_path_factory, "orders_only", make) / "warehouse.duckdb"


# What test_lifetime_ground_truth reads (the LTV layer, the predicted-CLV segments' model lifetime, the cohort curves
# of the LTV oracle) and their parents, with their data tests: 53 of 82 models. Left out: audits, quarantine, orders,
# segments, audiences, channel economics, the fit's validation marts (built and tested on the generated fixtures).
# No backtest dates: the backtest's fits per date (the largest node at 25,000 customers) feed only the backtest
# and interval-calibration columns, which that module does not read (what it reads is identical with and without).
LIFETIME_NODES = ["--select", "+fct_customer_ltv", "+fct_ltv_by_segment", "+fct_predicted_clv_by_segment",
                  "+int_customers_lifetimes_projected", "+fct_cohort_curves", "--indirect-selection", "cautious",
                  "--vars", "{ltv_backtest_months_before: []}"]


@pytest.fixture(scope="session")
def lifetime_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Generator data large enough for per-channel survival curves (25,000 customers, 2023-01 to 2025-06, seed 5,
    CSV, about 190k orders) and the warehouse built from it (LIFETIME_NODES): the lifetime ground truth and the
    LTV-layer oracle."""
    return generator_build(tmp_path_factory, "lifetime", 25_000, 5, date(2025, 6, 30), LIFETIME_NODES)


@pytest.fixture(scope="session")
def docs_site(sample_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`clv docs --no-serve` on the sample warehouse, once per session: the docs site (manifest, catalog, index) and,
    under compiled/, every node dbt compiled for it, analyses included (tests/python/test_analyses.py runs them)."""
    from clvlayer.cli import main

    def make(folder: Path) -> None:
        before = sample_warehouse.stat().st_mtime_ns
        assert main(["docs", "--no-serve", "--warehouse", str(sample_warehouse), "--target-path",
                     str(folder / "site")]) == 0
        assert sample_warehouse.stat().st_mtime_ns == before, \
            "clv docs wrote to the warehouse (it must read it read-only)"

    return built_once(tmp_path_factory, "docs", make) / "site"


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory):
    """Debian's headless Chromium + chromedriver (installed by the fixture as root when missing, one worker at a
    time: apt-get takes dpkg's lock), or a skip with the printed reason where they cannot be installed."""
    from clvlayer.dashboard import browser

    with run_lock(tmp_path_factory, "chromium"):
        found, reason = browser.ensure_chromium()
    if found is None:
        print(f"\nbrowser check skipped: {reason}")
        pytest.skip(reason)
    return found


@pytest.fixture(scope="session")
def chrome(chromium):
    """One Chromium session (Selenium driver) shared by the browser checks; each sets the window size it needs."""
    from clvlayer.dashboard import browser

    with browser.chrome_driver(chromium) as driver:
        yield driver


# --- pytest-xdist: which tests share a worker (`clv test` runs `-n 2 --dist loadscope --no-loadscope-reorder`) -----
# A module's tests run on one worker (its module-scoped fixtures are built once), except the SPREAD modules, whose
# tests each build or fit on their own and are handed out one by one. Modules that parse into the project's own
# target/ (MetricFlow reads target/semantic_manifest.json) share one unit: they never run at the same time.
# (xdist's own `--dist loadgroup` marks do not take effect under pytest 9, whose node ids xdist 3.8 cannot suffix,
# hence the scheduler below.)
SPREAD_MODULES = ["test_publish", "test_predictive_clv", "test_concurrent_readers", "test_bad_input", "test_oracle"]
PROJECT_TARGET_MODULES = {"test_semantic_layer", "test_metrics_by_hand", "test_segments_ground_truth"}
# Longest first: the long indivisible units start first, the other modules follow in their usual order, and the
# spread modules' single tests come last to even out the two workers' ends (measured with clv test's --durations).
# test_missing_inputs (five builds, ~60 s), test_one_verdict (~35-50 s) and test_plain_dbt (~25 s) joined the list
# in round 3: left in the usual order they started last and ended one worker a minute after the other. Round 4's
# chains of builds (nightly equivalence, refit cadence, batch input, scenarios, customer state) go first.
LONG_UNITS = ["test_nightly_equivalence", "test_refit_cadence", "test_batch_input", "test_scenarios",
              "test_customer_state", "test_backtest_reuse", "test_incremental", "project_target",
              "test_missing_inputs", "test_lifetime_ground_truth",
              "test_one_verdict", "test_oracle_properties", "test_oracle_segments", "test_analyses",
              "test_plain_dbt", "test_dashboard_app", "test_dashboard_browser", "test_oracle_acquisition"]


def work_unit(module: str) -> str | None:
    """The xdist work unit of a module's tests: None for one unit per test."""
    if module in SPREAD_MODULES:
        return None
    return "project_target" if module in PROJECT_TARGET_MODULES else module


def _rank(module: str) -> int:
    unit = work_unit(module)
    if unit is None:
        return len(LONG_UNITS) + 1 + SPREAD_MODULES.index(module)
    return LONG_UNITS.index(unit) if unit in LONG_UNITS else len(LONG_UNITS)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: _rank(item.path.stem))  # stable: a module's tests keep their order, together


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """`--dist loadscope` with the work units above instead of one unit per module."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class WorkUnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(Path(nodeid.split("::", 1)[0]).stem) or nodeid

    return WorkUnitScheduling(config, log)
