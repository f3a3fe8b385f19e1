"""Shared fixtures: warehouses built once per session from the embedded sample and the hand-made fixture."""

from __future__ import annotations

import os

# One BLAS thread per process (set before numpy is first imported; subprocesses inherit it). The suite's
# linear algebra is tiny (4x4 Hessians, L-BFGS-B updates); on this shared 2-core machine OpenBLAS' worker
# threads cost far more than they compute: test_btyd.py took 34 s with them and 18 s without.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import duckdb  # noqa: E402
import pytest  # noqa: E402

from clvlayer.build import build_warehouse  # noqa: E402
from clvlayer.project import PROJECT_ROOT  # noqa: E402

HANDMADE = PROJECT_ROOT / "tests" / "fixtures" / "handmade"


def build(tmp: Path, raw_dir: Path | None, extra_args: list[str] | None = None) -> Path:
    """Build a warehouse for a test. dbt unit tests do not depend on the input, so `clv test` runs them once in its
    own dbt build and the fixtures skip them (about 10 s per build)."""
    warehouse = tmp / "warehouse.duckdb"
    args = [*(extra_args or []), "--exclude", "resource_type:unit_test"]
    record = build_warehouse(warehouse, raw_dir, dbt_args=args, target_path=tmp / "target")
    assert record.published, f"build failed: {record.failures}"
    return warehouse


@pytest.fixture(scope="session")
def sample_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("sample"), None)


@pytest.fixture(scope="session")
def handmade_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("handmade"), HANDMADE)


@pytest.fixture
def query() -> Callable[[Path, str], list[tuple]]:
    def run(database: Path, sql: str) -> list[tuple]:
        with duckdb.connect(str(database), read_only=True) as connection:
            return connection.execute(sql).fetchall()

    return run


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Generator data (1,500 customers, 2023-2024, seed 11, CSV) and the warehouse built from it."""
    from datetime import date

    from clvlayer.generate import generate

    tmp = tmp_path_factory.mktemp("generated")
    raw = tmp / "raw"
    generate(raw, customers=1500, seed=11, start=date(2023, 1, 1), end=date(2024, 12, 31), fmt="csv")
    return raw, build(tmp, raw)


@pytest.fixture(scope="session")
def orders_only_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse built from the sample's orders alone (no customers, items, products, refunds or spend)."""
    import shutil

    tmp = tmp_path_factory.mktemp("orders_only")
    raw = tmp / "raw"
    raw.mkdir()
    shutil.copyfile(PROJECT_ROOT / "seeds" / "raw_orders.csv", raw / "orders.csv")
    return build(tmp, raw)


@pytest.fixture(scope="session")
def lifetime_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Generator data large enough for per-channel survival curves (25,000 customers, 2023-01 to 2025-06, seed 5,
    CSV, about 190k orders) and the warehouse built from it: the lifetime ground truth and the LTV-layer oracle."""
    from datetime import date

    from clvlayer.generate import generate

    tmp = tmp_path_factory.mktemp("lifetime")
    raw = tmp / "raw"
    generate(raw, customers=25_000, seed=5, start=date(2023, 1, 1), end=date(2025, 6, 30), fmt="csv")
    return raw, build(tmp, raw)


@pytest.fixture(scope="session")
def docs_site(sample_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`clv docs --no-serve` on the sample warehouse, once per session: the docs site (manifest, catalog, index) and,
    under compiled/, every node dbt compiled for it, analyses included (tests/python/test_analyses.py runs them)."""
    from clvlayer.cli import main

    target = tmp_path_factory.mktemp("docs") / "site"
    before = sample_warehouse.stat().st_mtime_ns
    assert main(["docs", "--no-serve", "--warehouse", str(sample_warehouse), "--target-path", str(target)]) == 0
    assert sample_warehouse.stat().st_mtime_ns == before, "clv docs wrote to the warehouse (it must read it read-only)"
    return target


@pytest.fixture(scope="session")
def chromium():
    """Debian's headless Chromium + chromedriver (installed by the fixture as root when missing), or a skip with the
    printed reason where they cannot be installed."""
    from clvlayer.dashboard import browser

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
