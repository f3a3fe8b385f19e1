"""`clv build --target spark`: the same project built on Apache Spark (dbt-spark, `method: session`), write-audit-publish.

1. inputs  - the one resolver (clvlayer.inputs) checks and describes the input folder, as for DuckDB; the embedded
             sample is read as a folder of links to seeds/raw_<table>.csv, so Spark reads the sample through the
             same CSV path as a user's files (no dbt seed). CSV files that are not UTF-8 (or start with Excel's
             sep= line) are read through a UTF-8 copy in the build folder; the manifest's `spark_path` names it.
2. write   - one child process holds one Spark session (one JVM, one Derby metastore) for the whole build, and
             runs the STAGES in order, each: dbt builds (and tests) the models the stage's step reads that no
             earlier stage built, then the step reads them through the session, runs the SAME functions the DuckDB
             Python models call and writes each result as <model>__predictive_step next to the model:
             a. predictive_step: inputs +int_customers_rfm_summarised, +int_customers_rfm_calibrated,
                +int_clv_settings_resolved; clvlayer.clv_models (fit_or_reuse, predict_holdout, select_model,
                score_customers) for the four models of models/intermediate/predictive/*.py;
             b. backtest_step: inputs +int_customers_rfm_backtest, +int_customers_rfm_labelled and the predictive
                models; clvlayer.backtest (backtest_segment_predictions, current_segment_intervals) for the two
                models of models/intermediate/backtest/*.py;
             c. dbt builds and tests the rest. On Spark the six Python models are disabled (dbt_project.yml) and
                same-named SQL models (models/intermediate/{predictive,backtest}/spark/) select the steps' rows,
                so every ref is unchanged. A Spark build is always a full build: the incremental models are tables
                on Spark (their config depends on target.type), so the refit cadence has no stored fit to reuse
                and fit_or_reuse always fits (the DuckDB build of a new warehouse does the same).
3. audit   - every model, data test and unit test runs in 2a/2c into the run's own schemas
             (<SPARK_SCHEMA>_build_<run>_<layer>); any failure stops here and nothing is published.
4. publish - each relation of the run's schemas is published as a view <SPARK_SCHEMA>_<layer>.<name> over it
             (CREATE OR REPLACE VIEW: readers switch relation by relation), published views of relations the run
             no longer has are dropped, then the schemas of older runs are dropped. Spark cannot rename a table
             across databases, and dbt's own relations reference each other by name, so the swap is by views.

The session's files (metastore_db/, spark-warehouse/, derby.log) live in the Spark home folder (SPARK_HOME_DIR,
default warehouse/spark/): the child runs there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from clvlayer.contract import load_contract
from clvlayer.dbt_runner import node_outcomes, run_child
from clvlayer.dbt_inputs import DbtInputs, prepare_inputs
from clvlayer.inputs import InputManifest, _transcode
from clvlayer.project import PROJECT_ROOT, ensure_profiles_dir

PREDICTIVE_INPUTS = ("int_customers_rfm_summarised", "int_customers_rfm_calibrated", "int_clv_settings_resolved")
PREDICTIVE_SUFFIX = "__predictive_step"
DEFAULT_SCHEMA = "customer_value"


@dataclass
class SparkRun:
    run_id: str
    schema: str  # published schema prefix (SPARK_SCHEMA)
    build_schema: str  # this run's target schema
    input: str = "embedded sample (seeds)"
    success: bool = False
    published: bool = False
    passed: int = 0
    failures: list[str] = field(default_factory=list)
    published_relations: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def spark_home() -> Path:
    home = Path(os.environ.get("SPARK_HOME_DIR", str(PROJECT_ROOT / "warehouse" / "spark")))
    return home if home.is_absolute() else PROJECT_ROOT / home


def published_schema() -> str:
    schema = os.environ.get("SPARK_SCHEMA", DEFAULT_SCHEMA).strip().lower()
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
        raise ValueError(f"SPARK_SCHEMA={schema!r} is not a plain schema name. Fix: use letters, digits and _.")
    return schema


# --- inputs --------------------------------------------------------------------------------------------------------

def sample_folder(folder: Path) -> Path:
    """The embedded sample as an input folder: <table>.csv links to seeds/raw_<table>.csv."""
    folder.mkdir(parents=True, exist_ok=True)
    for table in load_contract():
        seed = PROJECT_ROOT / "seeds" / f"raw_{table}.csv"
        if seed.exists():
            (folder / f"{table}.csv").symlink_to(seed)
    return folder


def spark_inputs(folder: Path, *, dbt_args: list[str] | None, work_dir: Path) -> DbtInputs:
    """The one input path (clvlayer.dbt_inputs.prepare_inputs) with the manifest dbt reads on Spark."""
    inputs = prepare_inputs(folder, dbt_args=dbt_args, work_dir=work_dir)
    assert inputs.manifest is not None  # a folder always resolves to a manifest
    return inputs.with_manifest(spark_manifest(inputs.manifest, work_dir))


def spark_manifest(manifest: InputManifest, work_dir: Path) -> dict[str, Any]:
    """The resolver's manifest plus, per CSV table, the UTF-8 file Spark reads (spark_path): the resolver's own
    UTF-8 copy, else a copy made here for encodings DuckDB reads natively (UTF-16, Latin-1), and without Excel's
    sep= line."""
    document = json.loads(manifest.to_json())
    for name, entry in document["tables"].items():
        if entry["format"] != "csv":
            continue
        path = Path(entry.get("read_path") or entry["path"])
        if path == Path(entry["path"]) and (entry.get("encoding") or "utf-8") != "utf-8":
            copy = work_dir / f"{name}.spark.utf8.csv"
            _transcode(path, entry["encoding"], copy)
            path = copy
        if entry.get("header_lines", 1) > 1:
            trimmed = work_dir / f"{name}.spark.csv"
            with path.open("rb") as source, trimmed.open("wb") as sink:
                source.readline()  # sep=
                shutil.copyfileobj(source, sink)
            path = trimmed
        entry["spark_path"] = str(path)
    return document


# --- the parent: one build -----------------------------------------------------------------------------------------

def build_spark(raw_data_dir: Path | None, *, dbt_args: list[str] | None = None, publish: bool = True) -> SparkRun:
    """Write-audit-publish on Spark (module docstring). Raises InputError for a bad input folder."""
    home = spark_home()
    home.mkdir(parents=True, exist_ok=True)
    run_id = datetime.now(timezone.utc).strftime("%Y%m%dt%H%M%S") + "_" + uuid.uuid4().hex[:6]
    schema = published_schema()
    run = SparkRun(run_id=run_id, schema=schema, build_schema=f"{schema}_build_{run_id}")
    build_dir = home / ".build" / run_id
    build_dir.mkdir(parents=True)
    started = time.monotonic()
    try:
        folder = raw_data_dir if raw_data_dir is not None else sample_folder(build_dir / "sample")
        inputs = spark_inputs(folder, dbt_args=dbt_args, work_dir=build_dir / "inputs")
        if raw_data_dir is not None:
            run.input = str(inputs.folder)
        run.seconds["inputs"] = round(time.monotonic() - started, 1)
        config = {"run": asdict(run), "dbt_args": list(dbt_args or []), "publish": publish,
                  "target_path": str(home / "target"), "profiles_dir": str(ensure_profiles_dir())}
        # one run time for the run's dbt invocations (macros/incremental.sql this_run_loaded_at)
        env = dict(os.environ, SPARK_SCHEMA=run.build_schema, DBT_SEND_ANONYMOUS_USAGE_STATS="false",
                   PYSPARK_PYTHON=sys.executable,
                   CLV_RUN_STARTED_AT=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f"))
        inputs.apply_to(env)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump(config, handle)
            config_file = Path(handle.name)
        try:
            run_child([sys.executable, "-m", "clvlayer.spark", str(config_file)], env=env, cwd=home,
                      pid_file=build_dir / "spark.pid")
            result = json.loads(config_file.read_text()).get("result") or {}
        finally:
            config_file.unlink(missing_ok=True)
        for key, value in result.items():
            setattr(run, key, value)
        if not result:
            run.failures.append("the Spark build process did not report (crashed?)")
    finally:
        run.seconds["total"] = round(time.monotonic() - started, 1)
        (build_dir / "run.json").write_text(json.dumps(asdict(run), indent=2))
        if run.published:
            shutil.rmtree(build_dir, ignore_errors=True)
    return run


# --- the child: one Spark session for dbt, the predictive step and the publish ------------------------------------

def _dbt(args: list[str], config: dict[str, Any]) -> tuple[bool, int, list[str]]:
    from dbt.cli.main import dbtRunner

    command = [*args, "--target", "spark", "--project-dir", str(PROJECT_ROOT), "--profiles-dir",
               config["profiles_dir"], "--target-path", config["target_path"], *config["dbt_args"]]
    result = dbtRunner().invoke(command)
    failures, passed = node_outcomes(result)
    return bool(result.success), passed, failures


def _manifest(config: dict[str, Any]) -> dict[str, Any]:
    return json.loads((Path(config["target_path"]) / "manifest.json").read_text())


def _ancestors(manifest: dict[str, Any], names: Iterable[str]) -> set[str]:
    """Unique ids of the named models and every node they depend on."""
    parents = manifest["parent_map"]
    stack = [f"model.customer_value.{name}" for name in names]
    seen: set[str] = set()
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack += parents.get(node, [])
    return seen


def _relation(manifest: dict[str, Any], name: str) -> str:
    node = manifest["nodes"][f"model.customer_value.{name}"]
    return f"{node['schema']}.{node.get('alias') or node['name']}"


def _read(spark: Any, relation: str) -> Any:
    """A table as pandas: decimals as doubles and lower-case column names (as DuckDB's .df() gives them)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DecimalType

    frame = spark.table(relation)
    frame = frame.select([F.col(f.name).cast("double").alias(f.name.lower()) if isinstance(f.dataType, DecimalType)
                          else F.col(f.name).alias(f.name.lower()) for f in frame.schema.fields])
    return frame.toArrow().to_pandas()


def _write(spark: Any, frame: Any, relation: str) -> None:
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.cast(pa.schema([pa.field(f.name, pa.string() if pa.types.is_large_string(f.type) else f.type)
                                  for f in table.schema]))
    spark.createDataFrame(table).write.mode("overwrite").format("parquet").saveAsTable(relation)


def _write_outputs(spark: Any, manifest: dict[str, Any], outputs: dict[str, Any]) -> dict[str, int]:
    """Each result written next to its (Spark SQL) model, as <model>__predictive_step; the row counts."""
    for name, frame in outputs.items():
        schema = manifest["nodes"][f"model.customer_value.{name}"]["schema"]
        _write(spark, frame, f"{schema}.{name}{PREDICTIVE_SUFFIX}")
    return {name: len(frame) for name, frame in outputs.items()}


def _read_parameters_file(path: str) -> Any:
    """var clv_parameters_from's file (parquet or CSV) as the DuckDB model reads it (`select * from 'path'`, DuckDB's
    own readers), so both engines score with the same parameters."""
    import duckdb

    with duckdb.connect() as connection:
        return connection.execute("select * from " + "'" + path.replace("'", "''") + "'").df()


def predictive_step(spark: Any, manifest: dict[str, Any], frames: dict[str, Any]) -> dict[str, int]:
    """The DuckDB Python models' chain (models/intermediate/predictive/*.py) on frames read through Spark: the same
    clvlayer.clv_models calls in the same order, each result written next to its model as <model>__predictive_step
    and kept in ``frames`` for the later steps (the rows the tables hold)."""
    from clvlayer.clv_models import (FINITE_PREDICTIONS, assert_finite, fit_or_reuse, predict_holdout,
                                     score_customers, select_model)

    settings = frames["int_clv_settings_resolved"] = _read(spark, _relation(manifest, "int_clv_settings_resolved"))
    full = _read(spark, _relation(manifest, "int_customers_rfm_summarised"))
    calibration = _read(spark, _relation(manifest, "int_customers_rfm_calibrated"))
    # Spark builds in full (no stored fit): a first fit, or the rows of var clv_parameters_from
    fitted = fit_or_reuse(full, calibration, settings, None, _read_parameters_file)
    holdout = predict_holdout(calibration, fitted, settings)
    assert_finite(holdout, ["predicted_holdout_purchases", "holdout_log_likelihood", "holdout_interval_coverage"])
    selected = select_model(holdout, settings)
    scored = score_customers(full, fitted, settings, selected)
    assert_finite(scored, FINITE_PREDICTIONS)
    outputs = {"int_clv_models_fitted": fitted, "int_customers_holdout_predicted": holdout,
               "int_clv_model_selected": selected, "int_customers_clv_predicted": scored}
    frames.update(outputs)
    return _write_outputs(spark, manifest, outputs)


def backtest_step(spark: Any, manifest: dict[str, Any], frames: dict[str, Any]) -> dict[str, int]:
    """The backtest's two Python models (models/intermediate/backtest/*.py): the same clvlayer.backtest calls on
    the segment tables read through Spark and the predictive step's fits and choice (``frames``)."""
    from clvlayer.backtest import backtest_horizons, backtest_segment_predictions, current_segment_intervals

    node = manifest["nodes"]["model.customer_value.int_segments_backtest_predicted"]
    settings, selected = frames["int_clv_settings_resolved"], frames["int_clv_model_selected"]
    outputs = {
        "int_segments_backtest_predicted": backtest_segment_predictions(
            _read(spark, _relation(manifest, "int_customers_rfm_backtest")), settings, selected,
            max_buyers=int(node["config"]["max_buyers"]), horizons=backtest_horizons(node["config"]["horizons"])),
        "int_segments_clv_intervals": current_segment_intervals(
            _read(spark, _relation(manifest, "int_customers_rfm_labelled")), frames["int_clv_models_fitted"],
            settings, selected, _read(spark, _relation(manifest, "int_customers_rfm_calibrated")),
            _read(spark, _relation(manifest, "int_customers_holdout_tiered"))),
    }
    return _write_outputs(spark, manifest, outputs)


@dataclass(frozen=True)
class Stage:
    """dbt builds (and tests) the models ``inputs`` need that no earlier stage built, then ``step`` computes the
    Python models' rows from them through the session."""

    name: str
    inputs: tuple[str, ...]
    step: Any


#: the steps in order: the backtest reads the predictive models' SQL stand-ins (the fits and the chosen model)
STAGES = (
    Stage("predictive_step", PREDICTIVE_INPUTS, predictive_step),
    Stage("backtest_step", ("int_customers_rfm_backtest", "int_customers_rfm_labelled", "int_clv_models_fitted",
                            "int_clv_model_selected", "int_customers_holdout_tiered"), backtest_step),
)


def publish_views(spark: Any, build_schema: str, schema: str) -> list[str]:
    """Publish every relation of the run's schemas as a view in the matching published schema (module docstring),
    drop published views the run no longer has, then drop older runs' schemas."""
    prefix = build_schema + "_"
    layers = [row[0] for row in spark.sql("show databases").collect() if row[0].startswith(prefix)]
    published = []
    for database in layers:
        layer = database[len(prefix):]
        if layer == "raw":  # the input tables point at the input files of this run only
            continue
        target = f"{schema}_{layer}"
        spark.sql(f"create database if not exists {target}")
        names = sorted(row.tableName for row in spark.sql(f"show tables in {database}").collect()
                       if not row.isTemporary)
        for name in names:
            spark.sql(f"create or replace view {target}.{name} as select * from {database}.{name}")
            published.append(f"{target}.{name}")
        for row in spark.sql(f"show tables in {target}").collect():
            if not row.isTemporary and row.tableName not in names:
                spark.sql(f"drop view if exists {target}.{row.tableName}")
    for row in spark.sql("show databases").collect():
        if row[0].startswith(f"{schema}_build_") and not row[0].startswith(prefix):
            spark.sql(f"drop database if exists {row[0]} cascade")
    return published


def _stage_selection(manifest: dict[str, Any], inputs: Iterable[str], built: set[str]) -> tuple[list[str], set[str]]:
    """dbt --select for a stage after the first: the models ``inputs`` need that are not ``built`` yet, and the data
    tests joining them to ``built`` models (indirect selection `cautious` leaves those out: not all their models are
    selected), so every test runs once, in the stage that builds its last model. Returns (names, model ids)."""
    models = {uid for uid in _ancestors(manifest, inputs) if uid.startswith("model.") and uid not in built}
    tests = []
    for uid, node in manifest["nodes"].items():
        if node["resource_type"] != "test":
            continue
        parents = {parent for parent in manifest["parent_map"].get(uid, []) if parent.startswith("model.")}
        if parents & models and not parents <= models and parents <= models | built:
            tests.append(node["name"])
    return sorted(manifest["nodes"][uid]["name"] for uid in models) + sorted(tests), models


def _child_main(config_file: str) -> int:
    config = json.loads(Path(config_file).read_text())
    run = config["run"]
    result: dict[str, Any] = {"failures": [], "passed": 0, "seconds": dict(run["seconds"]), "predictive_rows": {}}

    def step(name: str, started: float) -> None:
        result["seconds"][name] = round(time.monotonic() - started, 1)

    def dbt_build(select: list[str], *extra: str) -> bool:
        ok, passed, failures = _dbt(["build", "--select", *select, "--exclude", "resource_type:seed", *extra], config)
        result["passed"] += passed
        result["failures"] += failures
        return ok

    try:
        built: set[str] = set()
        frames: dict[str, Any] = {}
        spark = None
        ok = True
        for number, stage in enumerate(STAGES):
            started = time.monotonic()
            if number == 0:  # no manifest yet: dbt selects the stage's models itself
                ok = dbt_build([f"+{name}" for name in stage.inputs], "--indirect-selection", "cautious")
                manifest = _manifest(config)
                models = {uid for uid in _ancestors(manifest, stage.inputs) if uid.startswith("model.")}
            else:
                select, models = _stage_selection(manifest, stage.inputs, built)
                ok = dbt_build(select, "--indirect-selection", "cautious")
            built |= models
            step(f"dbt_before_{stage.name}", started)
            if not ok:
                break
            from pyspark.sql import SparkSession

            started = time.monotonic()
            spark = SparkSession.builder.getOrCreate()
            result["predictive_rows"].update(stage.step(spark, manifest, frames))
            step(stage.name, started)
        if ok:
            started = time.monotonic()
            rest = sorted(node["name"] for uid, node in manifest["nodes"].items()
                          if node["resource_type"] == "model" and uid not in built)
            ok = dbt_build(rest)
            step("dbt_rest", started)
            if ok and config["publish"] and spark is not None:
                started = time.monotonic()
                result["published_relations"] = publish_views(spark, run["build_schema"], run["schema"])
                result["published"] = True
                step("publish", started)
        result["success"] = ok
    except Exception as error:  # reported to the parent, which prints it
        result["failures"].append(f"{type(error).__name__}: {error}")
        result["success"] = False
    config["result"] = result
    Path(config_file).write_text(json.dumps(config))
    return 0 if result.get("success") else 1


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1]))
