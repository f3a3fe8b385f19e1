"""`clv`: the one command-line entry point of the project.

    clv build                 write-audit-publish the warehouse (sample, or RAW_DATA_DIR / --raw-dir files)
    clv test                  sqlfluff lint + dbt build with every test (temporary warehouse) + pytest
    clv generate ...          generate synthetic data with known ground truth (Parquet or CSV)
    clv sample                regenerate the embedded sample in seeds/
    clv check-input DIR       pre-flight check of a folder of raw files against the input contract
    clv dbt -- ARGS           run any dbt command with the project's profile (e.g. clv dbt -- docs generate)
    clv mf -- ARGS            run MetricFlow against the published warehouse (e.g. clv mf -- query --metrics aov)
    clv docs-md               regenerate docs/metrics.md from the dbt docs blocks and YAML descriptions
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.table import Table

from clvlayer.contract import InputError, check_input_folder
from clvlayer.project import PROJECT_ROOT, Settings

console = Console(stderr=True)


def _cmd_build(args: argparse.Namespace) -> int:
    from clvlayer.build import build_warehouse

    settings = Settings.from_env()
    warehouse = Path(args.warehouse).resolve() if args.warehouse else settings.warehouse
    raw_dir = Path(args.raw_dir).resolve() if args.raw_dir else settings.raw_data_dir
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    try:
        record = build_warehouse(warehouse, raw_dir, dbt_args=args.dbt_args)
    except InputError as error:
        console.print(f"[red]{error}[/red]")
        return 2
    if not record.published:
        console.print(f"[red]Build failed; the published warehouse {warehouse} is unchanged.[/red]")
        console.print(f"Failed build kept for inspection: {record.build_file}")
        for failure in record.failures:
            console.print(f"  - {failure}")
        return 1
    table = Table(title=f"Published {warehouse} (run {record.run_id})")
    table.add_column("mart")
    table.add_column("rows", justify="right")
    for name, rows in record.output_rows.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    console.print(f"{record.tests_passed} models, seeds and tests passed. Input rows: {record.input_rows}")
    return 0


def _run_step(name: str, command: list[str]) -> tuple[str, bool, float]:
    console.rule(f"[bold]{name}")
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=PROJECT_ROOT, check=False)
    return name, completed.returncode == 0, time.perf_counter() - started


def _cmd_test(args: argparse.Namespace) -> int:
    """Lint, build with every data and unit test into a throw-away warehouse, then pytest."""
    from clvlayer.dbt_runner import run_dbt
    from clvlayer.project import ensure_profiles_dir

    results: list[tuple[str, bool, float]] = []
    with tempfile.TemporaryDirectory(prefix="clv-test-") as tmp:
        database = Path(tmp) / "test.duckdb"
        if not args.skip_lint:
            # sqlfluff's dbt templater compiles against a built warehouse: load the seeds first
            seeded = run_dbt(["seed"], duckdb_path=database)
            if not seeded.success:
                results.append(("dbt seed (for lint)", False, 0.0))
            else:
                profiles = ensure_profiles_dir()
                lint_env_cmd = [sys.executable, "-m", "clvlayer.lint", str(database), str(profiles)]
                results.append(_run_step("sqlfluff lint (dbt templater)", lint_env_cmd))
        console.rule("[bold]dbt build (all models, data tests and unit tests)")
        started = time.perf_counter()
        outcome = run_dbt(["build", "--target-path", str(Path(tmp) / "target")], duckdb_path=database)
        for failure in outcome.failures:
            console.print(f"[red]  - {failure}[/red]")
        results.append(("dbt build", outcome.success, time.perf_counter() - started))
    if not args.skip_pytest:
        results.append(_run_step("pytest", [sys.executable, "-m", "pytest", "-q", *args.pytest_args]))
    table = Table(title="clv test")
    table.add_column("step")
    table.add_column("result")
    table.add_column("seconds", justify="right")
    for name, ok, seconds in results:
        table.add_row(name, "[green]pass[/green]" if ok else "[red]FAIL[/red]", f"{seconds:.1f}")
    console.print(table)
    return 0 if all(ok for _, ok, _ in results) else 1


def _cmd_generate(args: argparse.Namespace) -> int:
    from clvlayer.generate import generate

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with console.status("generating...") as status:
        truth = generate(out, customers=args.customers, seed=args.seed, start=date.fromisoformat(args.start),
                         end=date.fromisoformat(args.end), fmt=args.format,
                         progress=lambda message: status.update(message))
    table = Table(title=f"Generated into {out} in {time.perf_counter() - started:.1f}s (seed {args.seed})")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in truth.get("row_counts", {}).items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    from clvlayer.generate import write_sample_seeds

    with console.status("regenerating the embedded sample..."):
        truth = write_sample_seeds(PROJECT_ROOT / "seeds")
    console.print(f"seeds/ regenerated: {truth.get('row_counts')}")
    return 0


def _cmd_check_input(args: argparse.Namespace) -> int:
    try:
        found = check_input_folder(Path(args.folder).resolve())
    except InputError as error:
        console.print(f"[red]{error}[/red]")
        return 2
    for table, path in found.items():
        console.print(f"[green]ok[/green] {table}: {path}")
    return 0


def _cmd_dbt(args: argparse.Namespace) -> int:
    from clvlayer.dbt_runner import run_dbt

    settings = Settings.from_env()
    dbt_args = [a for a in args.dbt_args if a != "--"]
    outcome = run_dbt(dbt_args, duckdb_path=settings.warehouse, raw_data_dir=settings.raw_data_dir)
    return 0 if outcome.success else 1


def run_metricflow(mf_args: list[str], warehouse: Path) -> int:
    """Run the MetricFlow CLI (`mf`) against a warehouse file with the project's profile."""
    import os

    from clvlayer.dbt_runner import run_dbt
    from clvlayer.project import ensure_profiles_dir

    # mf reads target/semantic_manifest.json: parse against this warehouse so relation names match its file
    parsed = run_dbt(["--quiet", "parse"], duckdb_path=warehouse)
    if not parsed.success:
        console.print(f"[red]dbt parse failed: {parsed.failures}[/red]")
        return 1
    env = dict(os.environ, DBT_PROFILES_DIR=str(ensure_profiles_dir()), DUCKDB_PATH=str(warehouse))
    env.pop("RAW_DATA_DIR", None)
    command = [sys.executable, "-c", "from dbt_metricflow.cli.main import cli; cli()", *mf_args]
    return subprocess.run(command, cwd=PROJECT_ROOT, env=env, check=False).returncode


def _cmd_docs_md(args: argparse.Namespace) -> int:
    from clvlayer.dbt_runner import run_dbt
    from clvlayer.docs_md import write

    with tempfile.TemporaryDirectory(prefix="clv-docs-") as tmp:
        parsed = run_dbt(["--quiet", "parse", "--target-path", tmp], duckdb_path=Path(tmp) / "parse.duckdb")
        if not parsed.success:
            console.print(f"[red]dbt parse failed: {parsed.failures}[/red]")
            return 1
        console.print(f"wrote {write(Path(tmp))}")
    return 0


def _cmd_mf(args: argparse.Namespace) -> int:
    return run_metricflow([a for a in args.dbt_args if a != "--"], Settings.from_env().warehouse)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clv", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="write-audit-publish the warehouse")
    build.add_argument("--raw-dir", help="folder of raw files (default: $RAW_DATA_DIR, else the embedded sample)")
    build.add_argument("--warehouse", help="published DuckDB file (default: $DUCKDB_PATH or warehouse/)")
    build.add_argument("dbt_args", nargs=argparse.REMAINDER, help="extra dbt build arguments after --")
    build.set_defaults(func=_cmd_build)

    test = commands.add_parser("test", help="lint, dbt build with all tests, pytest")
    test.add_argument("--skip-lint", action="store_true")
    test.add_argument("--skip-pytest", action="store_true")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER, help="extra pytest arguments after --")
    test.set_defaults(func=_cmd_test)

    gen = commands.add_parser("generate", help="generate synthetic data with ground truth")
    gen.add_argument("--customers", type=int, default=100_000)
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--start", default="2023-01-01")
    gen.add_argument("--end", default="2025-06-30")
    gen.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    gen.add_argument("--out", required=True)
    gen.set_defaults(func=_cmd_generate)

    sample = commands.add_parser("sample", help="regenerate the embedded sample (seeds/)")
    sample.set_defaults(func=_cmd_sample)

    check = commands.add_parser("check-input", help="check a folder of raw files against the contract")
    check.add_argument("folder")
    check.set_defaults(func=_cmd_check_input)

    dbt = commands.add_parser("dbt", help="run dbt with the project's profile: clv dbt -- <dbt args>")
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER)
    dbt.set_defaults(func=_cmd_dbt)

    docs_md = commands.add_parser("docs-md", help="regenerate docs/metrics.md from the dbt docs blocks")
    docs_md.set_defaults(func=_cmd_docs_md)

    mf = commands.add_parser("mf", help="run MetricFlow on the published warehouse: clv mf -- <mf args>")
    mf.add_argument("dbt_args", nargs=argparse.REMAINDER)
    mf.set_defaults(func=_cmd_mf)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "dbt_args", None) and args.dbt_args[:1] == ["--"]:
        args.dbt_args = args.dbt_args[1:]
    if getattr(args, "pytest_args", None) and args.pytest_args[:1] == ["--"]:
        args.pytest_args = args.pytest_args[1:]
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
