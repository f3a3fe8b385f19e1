"""Run sqlfluff (dbt templater) over models/, macros used in place, against an already seeded warehouse.

Usage: python -m clvlayer.lint [--seed] DUCKDB_PATH PROFILES_DIR [extra sqlfluff args]
The dbt templater compiles each model, and compiling reads the seeded raw tables' columns, hence the warehouse.
--seed loads the seeds into DUCKDB_PATH first (dbt seed; its target folder is DBT_TARGET_PATH when set): `clv test`
starts the lint this way in the background, so the seed is not on the path of its dbt build.

Spark SQL pass: python -m clvlayer.lint --sparksql [extra sqlfluff args] (`make lint-spark`; needs the Spark extra).
The models are compiled for the `spark` target (the spark__ macros, the sample's resolved-input manifest, so no
table is read) and parsed with sqlfluff's sparksql dialect. The local Spark session's files go to a temporary folder.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from clvlayer.dbt_inputs import SAMPLE
from clvlayer.project import PROJECT_ROOT, ensure_profiles_dir


# Not linted with the sparksql dialect (they are in the DuckDB pass of `make test`): their Spark-compiled SQL nests
# deeper and parses into more nodes than sqlfluff's parser allows (600 levels, 100,000 nodes). Raising the limits
# made the pass run 16 minutes and grow to 10 GB without finishing.
SPARK_UNPARSEABLE = ("models/intermediate/int_customers_value_aged.sql", "models/marts/fct_ltv_by_segment.sql",
                     "models/marts/acquisition/fct_channel_economics.sql")


def _sqlfluff(args: list[str]) -> int:
    from sqlfluff.cli.commands import cli

    try:
        cli.main(args=["lint", *args], prog_name="sqlfluff", standalone_mode=False)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv else 2
    if argv[0] == "--sparksql":
        return lint_sparksql(argv[1:])
    seed = argv[0] == "--seed"
    database, profiles_dir, *extra = argv[1:] if seed else argv
    if seed and not seed_database(Path(database)):
        return 1
    os.environ["DUCKDB_PATH"] = database
    os.environ["DBT_PROFILES_DIR"] = profiles_dir
    SAMPLE.apply_to(os.environ)  # sqlfluff runs dbt in this process
    os.chdir(PROJECT_ROOT)
    return _sqlfluff(["models", "analyses", *extra])


def seed_database(database: Path) -> bool:
    """dbt seed into `database` (the raw tables the dbt templater compiles against); False, said, when it fails."""
    from clvlayer.dbt_runner import run_dbt

    target = ["--target-path", os.environ["DBT_TARGET_PATH"]] if os.environ.get("DBT_TARGET_PATH") else []
    seeded = run_dbt(["--quiet", "seed", *target], duckdb_path=database)
    if not seeded.success:
        print("dbt seed (for the lint) failed:\n" + "\n".join(seeded.failures), flush=True)
    return seeded.success


def lint_sparksql(extra: list[str]) -> int:
    from clvlayer.spark import sample_folder, spark_inputs

    work = Path(tempfile.mkdtemp(prefix="clv_lint_spark_"))
    spark_inputs(sample_folder(work / "sample"), dbt_args=None, work_dir=work / "inputs").apply_to(os.environ)
    profiles_dir = ensure_profiles_dir()
    os.environ.update({"DBT_PROFILES_DIR": str(profiles_dir), "SPARK_SCHEMA": "lint"})
    config = work / "sparksql.cfg"
    config.write_text("[sqlfluff]\ndialect = sparksql\ntemplater = dbt\n\n[sqlfluff:templater:dbt]\ntarget = spark\n"
                      f"project_dir = {PROJECT_ROOT}\nprofiles_dir = {profiles_dir}\n")
    os.chdir(work)  # the session's metastore_db/ and spark-warehouse/ land here
    paths = [str(path) for folder in ("models", "analyses") for path in sorted((PROJECT_ROOT / folder).rglob("*.sql"))
             if str(path.relative_to(PROJECT_ROOT)) not in SPARK_UNPARSEABLE]
    skipped = ", ".join(SPARK_UNPARSEABLE)
    print(f"not linted with sparksql (beyond sqlfluff's parse limits; linted with duckdb): {skipped}")
    return _sqlfluff([*paths, "--config", str(config), "--dialect", "sparksql", *extra])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
