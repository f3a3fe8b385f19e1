"""The Spark build of the embedded sample equals the DuckDB build (docs/scaling.md).

`make test-spark` (pytest -m spark; excluded from `make test`: the Spark build of the sample takes minutes on
two cores). Both engines build the sample from the same input folder (links to seeds/raw_<table>.csv, read by each
engine's CSV path) through their write-audit-publish, with every data and unit test; then every mart and audit
relation is compared: the same columns, the same number of rows, the same rows (matched by sorting on every
column), text / integer / date / flag values equal, numbers within 1e-9 relative (1e-12 absolute near zero), nulls
in the same places. Columns that measure the build itself (NOT_COMPARED: fit_seconds, the load ledger's
loaded_at, dbt_invocation_id and clv_run_id) are not compared.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.spark

pyspark = pytest.importorskip("pyspark", reason="the Spark extra is not installed (make spark-install)")

LAYERS = ("marts", "audit")
#: columns that measure the build itself, not the data: the fits' timings, and the load ledger's run time and ids
#: (audit_load_ledger.loaded_at is the run's start, dbt_invocation_id and clv_run_id its ids: two builds never
#: share them)
NOT_COMPARED = {"fit_seconds", "loaded_at", "dbt_invocation_id", "clv_run_id"}
RELATIVE, ABSOLUTE = 1e-9, 1e-12
#: "<layer>.<relation>": why Spark cannot match DuckDB there (also said in docs/scaling.md). Such a relation is still
#: compared and its differences printed with the reason; the test fails when it matches (then remove it here).
KNOWN_DIFFERENCES: dict[str, str] = {}


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from clvlayer.build import build_warehouse
    from clvlayer.spark import build_spark, sample_folder

    reuse = os.environ.get("CLV_SPARK_PARITY_DIR")  # a finished run's folder: compare again without building
    if reuse:
        return {"duckdb": Path(reuse) / "duckdb" / "customer_value.duckdb", "spark": Path(reuse) / "spark"}
    root = tmp_path_factory.mktemp("spark_parity")
    folder = sample_folder(root / "sample")
    warehouse = root / "duckdb" / "customer_value.duckdb"
    record = build_warehouse(warehouse, folder)
    assert record.published, record.failures
    os.environ["SPARK_HOME_DIR"] = str(root / "spark")
    os.environ["SPARK_SCHEMA"] = "parity"
    try:
        run = build_spark(folder)
    finally:
        os.environ.pop("SPARK_HOME_DIR")
        os.environ.pop("SPARK_SCHEMA")
    assert run.published, run.failures
    print(f"\nSpark build: {run.passed} models and tests passed; seconds {run.seconds}")
    return {"duckdb": warehouse, "spark": root / "spark"}


@pytest.fixture(scope="module")
def spark(builds: dict[str, Path]):
    from pyspark.sql import SparkSession

    home = builds["spark"]
    session = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.warehouse.dir", str(home / "spark-warehouse"))
               .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={home}")  # derby.log there
               .config("spark.hadoop.javax.jdo.option.ConnectionURL",
                       f"jdbc:derby:;databaseName={home / 'metastore_db'};create=false")
               .enableHiveSupport().getOrCreate())
    yield session
    session.stop()


def _duckdb_relations(warehouse: Path) -> dict[str, list[str]]:
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        rows = connection.execute("select table_schema, table_name from information_schema.tables "
                                  "where table_schema in ('marts', 'audit') and table_name <> 'build_run'").fetchall()
    out: dict[str, list[str]] = {layer: [] for layer in LAYERS}
    for schema, name in rows:
        out[schema].append(name)
    return {layer: sorted(names) for layer, names in out.items()}


def _normalise(frame):
    import pandas as pd

    frame = frame.rename(columns=str.lower)
    frame = frame[[c for c in sorted(frame.columns) if c not in NOT_COMPARED]]
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_datetime64_any_dtype(series):
            frame[column] = pd.to_datetime(series).dt.tz_localize(None) if getattr(series.dt, "tz", None) \
                else pd.to_datetime(series)
            frame[column] = frame[column].astype("datetime64[us]").astype(str).where(series.notna(), None)
        elif series.dtype == object and series.map(lambda v: isinstance(v, bool)).any():
            frame[column] = series.map(lambda v: None if v is None else float(v)).astype("Float64")
        elif series.dtype == object and series.map(lambda v: hasattr(v, "as_tuple") or isinstance(v, float)).any():
            frame[column] = series.map(lambda v: None if v is None else float(v)).astype("Float64")
        elif pd.api.types.is_bool_dtype(series) or pd.api.types.is_integer_dtype(series):
            frame[column] = series.astype("Float64")
        elif pd.api.types.is_float_dtype(series):
            frame[column] = series.astype("Float64")
        else:
            frame[column] = series.map(lambda v: None if v is None or (isinstance(v, float) and math.isnan(v))
                                       else str(v))
    keys = list(frame.columns)
    return frame.sort_values(keys, na_position="first", kind="mergesort").reset_index(drop=True)


def _differences(name: str, duck, spark) -> list[str]:
    import pandas as pd

    problems = []
    if list(duck.columns) != list(spark.columns):
        return [f"{name}: columns differ: duckdb {list(duck.columns)} spark {list(spark.columns)}"]
    if len(duck) != len(spark):
        return [f"{name}: {len(duck)} rows on DuckDB, {len(spark)} on Spark"]
    for column in duck.columns:
        left, right = duck[column], spark[column]
        if str(left.dtype) == "Float64" and str(right.dtype) == "Float64":
            nulls = left.isna() != right.isna()
            both = left.notna() & right.notna()
            a, b = left[both].astype(float), right[both].astype(float)
            scale = pd.concat([a.abs(), b.abs()], axis=1).max(axis=1)
            far = (a - b).abs() > (RELATIVE * scale).clip(lower=ABSOLUTE)
            bad = nulls.sum() + far.sum()
            if bad:
                first = (nulls | (both & far.reindex(both.index, fill_value=False))).idxmax()
                problems.append(f"{name}.{column}: {bad} values differ (first at row {first}: duckdb "
                                f"{left[first]!r}, spark {right[first]!r})")
        else:
            a_values = [None if pd.isna(v) else v for v in left.tolist()]
            b_values = [None if pd.isna(v) else v for v in right.tolist()]
            if a_values != b_values:
                index = next(i for i, (x, y) in enumerate(zip(a_values, b_values, strict=True)) if x != y)
                problems.append(f"{name}.{column}: values differ (first at row {index}: duckdb {left[index]!r}, "
                                f"spark {right[index]!r})")
    return problems


@pytest.mark.parametrize("layer", LAYERS)
def test_spark_build_matches_duckdb(builds: dict[str, Path], spark, layer: str) -> None:
    import duckdb

    relations = _duckdb_relations(builds["duckdb"])[layer]
    assert relations, f"no {layer} relations in the DuckDB build"
    published = {row.tableName for row in spark.sql(f"show tables in parity_{layer}").collect()}
    assert set(relations) <= published, f"missing on Spark: {sorted(set(relations) - published)}"
    problems: list[str] = []
    with duckdb.connect(str(builds["duckdb"]), read_only=True) as connection:
        for name in relations:
            duck = _normalise(connection.execute(f'select * from "{layer}"."{name}"').df())
            frame = spark.table(f"parity_{layer}.{name}")
            spark_frame = _normalise(frame.toArrow().to_pandas())
            found = _differences(f"{layer}.{name}", duck, spark_frame)
            print(f"{layer}.{name}: {len(duck)} rows, {len(duck.columns)} columns: "
                  f"{'MATCH' if not found else f'{len(found)} columns differ'}")
            known = KNOWN_DIFFERENCES.get(f"{layer}.{name}")
            if known and found:
                print(f"  known difference ({known}):\n  " + "\n  ".join(found))
            elif known:
                problems.append(f"{layer}.{name} matches now: remove it from KNOWN_DIFFERENCES")
            else:
                problems += found
    assert not problems, "\n".join(problems)
