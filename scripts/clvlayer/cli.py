"""`clv`: the one command-line entry point of the project.

    clv build                 write-audit-publish the warehouse (sample, or RAW_DATA_DIR / --raw-dir files)
    clv test                  sqlfluff lint + dbt build with every test (temporary warehouse) + pytest -n 2
    clv generate ...          generate synthetic data with known ground truth (Parquet or CSV)
    clv scenario NAME --out D generate a scenario shop (growing, shrinking, ...) with its ground truth (issue 23)
    clv generate-nightly ...  day 0 and the next days' exports of a generated shop (snapshot and batch-folder shapes)
    clv sample                regenerate the embedded sample in seeds/
    clv campaigns ...         simulated campaigns with a known lift, or the published audiences as campaign contacts
    clv check-input DIR       pre-flight check of a folder of raw files against the input contract
    clv status                the live warehouse's run and whether runs.jsonl agrees
    clv dbt -- ARGS           run any dbt command with the project's profile (e.g. clv dbt -- docs generate)
    clv mf -- ARGS            run MetricFlow against the published warehouse (e.g. clv mf -- query --metrics aov)
    clv serve                 the metrics service: MetricFlow loaded, the warehouse read-only, answers over HTTP
    clv query ...             ask the metrics service (e.g. clv query --metrics aov --group-by metric_time__month)
    clv dashboard             serve the analysts' dashboard on the published warehouse (read-only)
    clv report --out DIR      write the dashboard's charts as PNG + one HTML page, and the action lists as CSV
    clv docs                  generate and serve the dbt docs site (lineage with the dashboard and report exposures)
    clv docs-md               regenerate docs/metrics.md from the dbt docs blocks and YAML descriptions
    clv sql "select ..."      SQL on the published warehouse, read-only (also `clv sql < file.sql`; --format csv|json)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from clvlayer.contract import InputError
from clvlayer.project import PROJECT_ROOT, Settings, raw_folder

if TYPE_CHECKING:
    from clvlayer.preview import Verdict

console = Console(stderr=True)


def _cmd_build(args: argparse.Namespace) -> int:
    from clvlayer.build import build_warehouse
    from clvlayer.explain import explain, render
    from clvlayer.publish import DiskFull, LockTimeout

    settings = Settings.from_env()
    warehouse = Path(args.warehouse).resolve() if args.warehouse else settings.warehouse
    raw_dir = raw_folder(args.raw_dir) or settings.raw_data_dir
    if args.target == "spark":
        return _build_spark(raw_dir, args.dbt_args)
    lock_timeout = args.lock_timeout if args.lock_timeout is not None else _env_float("CLV_LOCK_TIMEOUT")
    if args.full_tests:  # read by the dbt child (macros/tests/scoped_tests.sql, tests_sized_to_the_change)
        os.environ["CLV_FULL_TESTS"] = "1"
    if args.refit:  # var clv_refit's default reads CLV_REFIT: an incremental run stays incremental
        os.environ["CLV_REFIT"] = "true"
    try:
        record = build_warehouse(warehouse, raw_dir, dbt_args=args.dbt_args, lock_timeout=lock_timeout,
                                 keep_failed=args.keep_failed, incremental=args.incremental)
    except InputError as error:
        console.print(f"[red]{error}[/red]")
        return 2
    except LockTimeout as error:
        console.print(f"[red]Not built: {error}[/red]")
        return 3
    except DiskFull as error:
        console.print(f"[red]{error}[/red]")
        return 4
    for note in record.notes:
        console.print(f"note: {note}")
    if not record.published:
        console.print(f"[red]Build failed; the published warehouse {warehouse} is unchanged.[/red]")
        console.print(f"Failed build kept for inspection: {record.build_file}")
        for failure in record.failures:
            console.print(f"  - {failure}", markup=False, soft_wrap=True)
        for check in record.failed_checks:
            console.print(f"  It checks: {check}", markup=False, highlight=False, soft_wrap=True)
        build_file = Path(record.build_file)
        if build_file.exists():
            lines = render(explain(build_file))
            if lines:
                console.print("[bold]What the input did[/bold] (audit.audit_quarantine_summary in the kept file):")
                for line in lines:
                    console.print("  " + line, markup=False, highlight=False, soft_wrap=True)
        return 1
    table = Table(title=f"Published {warehouse} (run {record.run_id})")
    table.add_column("mart")
    table.add_column("rows", justify="right")
    for name, rows in record.output_rows.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    console.print(f"{record.tests_passed} models, seeds and tests passed. Input rows: {record.input_rows}")
    lines = render(explain(warehouse))
    if lines:
        console.print("Quarantined input rows (audit.audit_quarantine_summary):")
        for line in lines:
            console.print("  " + line, markup=False, highlight=False, soft_wrap=True)
    return 0


def _build_spark(raw_dir: Path | None, dbt_args: list[str]) -> int:
    from clvlayer.spark import build_spark, spark_home

    try:
        run = build_spark(raw_dir, dbt_args=[a for a in dbt_args if a != "--"])
    except InputError as error:
        console.print(f"[red]{error}[/red]")
        return 2
    timings = ", ".join(f"{name} {seconds:.0f}s" for name, seconds in run.seconds.items())
    if not run.published:
        console.print(f"[red]Spark build failed; the published schemas {run.schema}_* are unchanged.[/red]")
        console.print(f"Failed build kept in schemas {run.build_schema}_* and {spark_home() / '.build' / run.run_id}")
        for failure in run.failures:
            console.print(f"  - {failure}", markup=False, soft_wrap=True)
        return 1
    console.print(f"Published {len(run.published_relations)} relations as {run.schema}_<layer>.<name> views over "
                  f"{run.build_schema}_* (Spark home {spark_home()}); {run.passed} models and tests passed; {timings}")
    return 0


def _env_float(name: str) -> float | None:
    import os

    value = os.environ.get(name, "").strip()
    return float(value) if value else None


def _cmd_status(args: argparse.Namespace) -> int:
    """Which run is live and whether runs.jsonl agrees; when no build holds the lock, the same housekeeping a build
    starts with (runs.jsonl reconciled after a killed publish, folders of killed and old failed builds removed)."""
    from clvlayer.build import keep_failed_builds
    from clvlayer.publish import (LockTimeout, clean_build_dirs, embedded_record, last_published, read_runs,
                                  reconcile_runs, warehouse_lock)

    warehouse = Path(args.warehouse).resolve() if args.warehouse else Settings.from_env().warehouse
    if not warehouse.parent.is_dir():
        console.print(f"No warehouse at {warehouse}.")
        return 1
    try:
        with warehouse_lock(warehouse, run_id="status", timeout=0, say=lambda _: None):
            for note in reconcile_runs(warehouse):
                console.print(f"note: {note}")
            for removed in clean_build_dirs(warehouse, keep_failed=keep_failed_builds()):
                console.print(f"note: removed .build/{removed}")
    except LockTimeout:
        console.print("A build is running; runs.jsonl is not reconciled now.")
    live = embedded_record(warehouse) if warehouse.exists() else None
    latest = last_published(read_runs(warehouse))
    console.print(f"warehouse: {warehouse}")
    console.print(f"live run: {live['run_id'] if live else 'none (no warehouse, or built before run records)'}")
    console.print(f"runs.jsonl last published: {latest['run_id'] if latest else 'none'}")
    return 0 if (live or {}).get("run_id") == (latest or {}).get("run_id") else 1


def _cmd_test(args: argparse.Namespace) -> int:
    """Lint (in the background), build with every data and unit test into a throw-away warehouse, then pytest over
    both cores (clvlayer.suite)."""
    from clvlayer.suite import run_suite

    return run_suite(skip_lint=args.skip_lint, skip_pytest=args.skip_pytest, pytest_args=args.pytest_args)


def _cmd_scenario(args: argparse.Namespace) -> int:
    from clvlayer.generate_scenarios import SCENARIOS, TRUTH_FILE, generate_scenario

    if args.name not in SCENARIOS:
        console.print(f"[red]unknown scenario {args.name!r}: one of {', '.join(SCENARIOS)}[/red]")
        return 2
    truth = generate_scenario(Path(args.out), args.name, customers=args.customers, seed=args.seed)
    console.print(f"{SCENARIOS[args.name].description}: {len(truth):,} buyers, truth in {Path(args.out) / TRUTH_FILE}")
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from clvlayer.generate import generate

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with console.status("generating...") as status:
        truth = generate(out, customers=args.customers, seed=args.seed, start=date.fromisoformat(args.start),
                         end=date.fromisoformat(args.end), fmt=args.format,
                         progress=lambda message: status.update(message), chunk_customers=args.chunk_customers)
    table = Table(title=f"Generated into {out} in {time.perf_counter() - started:.1f}s (seed {args.seed})")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in truth.get("row_counts", {}).items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    return 0


def _cmd_campaigns(args: argparse.Namespace) -> int:
    from clvlayer import generate_campaigns

    out = Path(args.out).resolve()
    if args.from_warehouse:
        rows = generate_campaigns.contacts_from_warehouse(_warehouse_arg(args), out)
        console.print(f"wrote {rows:,} campaign contacts (the published audiences, as delivered) to {out}")
        return 0
    truth = generate_campaigns.simulate(out, campaigns=args.campaigns, customers=args.customers,
                                        effect=args.effect, seed=args.seed)
    console.print(f"wrote orders.csv, campaign_contacts.csv and campaign_truth.json to {out}: {truth['true_lift']}")
    return 0

def _cmd_generate_nightly(args: argparse.Namespace) -> int:
    from clvlayer.generate_nightly import run_cli

    return run_cli(args, console)


def _cmd_sample(args: argparse.Namespace) -> int:
    from clvlayer.generate import write_sample_seeds

    with console.status("regenerating the embedded sample..."):
        truth = write_sample_seeds(PROJECT_ROOT / "seeds")
    console.print(f"seeds/ regenerated: {truth.get('row_counts')}")
    return 0


def _cmd_check_input(args: argparse.Namespace) -> int:
    from clvlayer.dbt_inputs import INPUTS_WORK_DIR, prepare_inputs
    from clvlayer.preview import check_folder

    dbt_args = ["--vars", args.vars] if args.vars else []
    try:
        inputs = prepare_inputs(args.folder or ".", dbt_args=dbt_args,
                                work_dir=INPUTS_WORK_DIR if args.manifest else None)
    except InputError as error:
        console.print(f"[red]{error}[/red]")
        return 2
    manifest = inputs.manifest
    assert manifest is not None  # a folder always resolves to a manifest
    if args.manifest:
        print(inputs.manifest_json)
        return 0
    for name, entry in manifest.tables.items():
        notes = f" ({'; '.join(entry.notes)})" if entry.notes else ""
        console.print(f"[green]ok[/green] {name}: {entry.given_path}, {entry.source_rows:,} rows{notes}",
                      highlight=False)
    if args.no_preview:
        return 0
    return _print_verdict(check_folder(inputs, sample_rows=args.sample_rows, dbt_args=dbt_args), args.sample_rows)


def _print_verdict(verdict: Verdict, sample_rows: int) -> int:
    """The preview and the build's verdict on every row (clvlayer.preview.check_folder): 1 where the build would
    refuse."""
    for warning in verdict.warnings:
        console.print(f"[yellow]warning[/yellow] {warning}", highlight=False, soft_wrap=True)
    if not verdict.warnings:
        console.print(f"Every required column parses in the first {sample_rows:,} rows of each table.")
    for share in verdict.over_threshold():
        word = "refuses" if share["severity"] == "error" else "warns about"
        console.print(f"{share['table']}: {share['quarantined_rows']:,} of {share['raw_rows']:,} rows quarantined "
                      f"({share['share']:.1%}), above the threshold max_quarantined_share = {share['max_share']:.1%}"
                      f": the build {word} this (quarantine_threshold_severity: {share['severity']}).",
                      highlight=False, soft_wrap=True)
    if verdict.refused:
        console.print("[red]refused[/red]: the build would not publish this folder; its audit fails:")
        for failure in verdict.failures:
            console.print(f"  - {failure}", markup=False, soft_wrap=True)
    if verdict.report:
        console.print("[bold]What the input does[/bold] (audit.audit_quarantine_summary, on every row):")
        for line in verdict.report:
            console.print("  " + line, markup=False, highlight=False, soft_wrap=True)
    if verdict.refused:
        console.print("Fix the rows above (or, knowingly, raise var max_quarantined_share or set "
                      "quarantine_threshold_severity: warn) and check again.", highlight=False)
        return 1
    console.print("[green]ok[/green]: the build's checks and thresholds pass on every row.", highlight=False)
    return 0


def _cmd_dbt(args: argparse.Namespace) -> int:
    from clvlayer.dbt_inputs import INPUTS_WORK_DIR, prepare_inputs
    from clvlayer.dbt_runner import run_dbt

    settings = Settings.from_env()
    dbt_args = [a for a in args.dbt_args if a != "--"]
    try:
        inputs = prepare_inputs(settings.raw_data_dir, dbt_args=dbt_args, work_dir=INPUTS_WORK_DIR)
    except InputError as error:
        console.print(f"[red]{error}[/red]")
        return 2
    outcome = run_dbt(dbt_args, duckdb_path=settings.warehouse, inputs=inputs)
    return 0 if outcome.success else 1


def _semantic_manifest_current(warehouse: Path, record: bool = False) -> bool:
    """Whether target/semantic_manifest.json was parsed by `clv mf` for this warehouse and the project as it is now
    (models, macros, dbt_project.yml, scripts/clvlayer: clvlayer.incremental.state_fingerprint) and not rewritten
    since; `record` notes that it just was."""
    import json

    from clvlayer.incremental import state_fingerprint

    manifest = PROJECT_ROOT / "target" / "semantic_manifest.json"
    stamp = manifest.with_name(".clv_mf_parse.json")
    if not manifest.exists():
        return False
    key = {"warehouse": str(warehouse), "project": state_fingerprint(None), "mtime_ns": manifest.stat().st_mtime_ns}
    if record:
        stamp.write_text(json.dumps(key))
        return True
    try:
        return json.loads(stamp.read_text()) == key
    except (OSError, ValueError):
        return False


def run_metricflow(mf_args: list[str], warehouse: Path) -> int:
    """Run the MetricFlow CLI (`mf`) against a warehouse file with the project's profile."""
    import os

    from clvlayer.dbt_runner import run_dbt
    from clvlayer.project import ensure_profiles_dir

    # mf reads target/semantic_manifest.json: parsed against this warehouse so relation names match its file, and
    # reused while the project and the warehouse path are the same (a parse costs more than most queries)
    if not _semantic_manifest_current(warehouse):
        parsed = run_dbt(["--quiet", "parse"], duckdb_path=warehouse)
        if not parsed.success:
            console.print(f"[red]dbt parse failed: {parsed.failures}[/red]")
            return 1
        _semantic_manifest_current(warehouse, record=True)
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


def _cmd_export(args: argparse.Namespace) -> int:
    from clvlayer.exports import ExportError, write_export_file

    out = Path(args.out or f"{args.name.rpartition('.')[2]}.{args.format}").resolve()
    try:
        rows = write_export_file(_warehouse_arg(args), args.name, args.format, out)
    except ExportError as error:
        console.print(f"[red]{error}[/red]")
        return 2
    console.print(f"wrote {rows:,} rows of {args.name if '.' in args.name else 'exports.' + args.name} to {out}")
    return 0


def _warehouse_arg(args: argparse.Namespace) -> Path:
    return Path(args.warehouse).resolve() if args.warehouse else Settings.from_env().warehouse


def _cmd_dashboard(args: argparse.Namespace) -> int:
    from clvlayer.dashboard import server

    warehouse = _warehouse_arg(args)
    if not warehouse.exists():
        console.print(f"[red]No published warehouse at {warehouse}: run `make build` (or `clv build`) first.[/red]")
        return 2
    if args.screenshots:
        return _dashboard_screenshots(warehouse, Path(args.screenshots).resolve(), args.host, args.port)
    console.print(f"Dashboard on {warehouse} (read-only): http://{args.host}:{args.port}  (Ctrl-C stops it)")
    return server.run_foreground(warehouse, args.port, args.host)


def _dashboard_screenshots(warehouse: Path, out: Path, host: str, port: int) -> int:
    """Serve the dashboard, load every page in headless Chromium, save one PNG per page, stop."""
    from clvlayer.dashboard import PAGES, browser, footer_prefix, server

    found, reason = browser.ensure_chromium()
    if found is None:
        console.print(f"[red]Cannot take screenshots: {reason}[/red]")
        return 2
    port = port if port else server.free_port(host)
    base_url = f"http://{host}:{port}"
    with server.serving(server.streamlit_command(port, host), base_url, env=server.streamlit_env(warehouse)):
        shots = browser.capture_pages(found, base_url, [(url, title) for url, title, _ in PAGES], out,
                                      ready_text=footer_prefix)
    for shot in shots:
        console.print(f"[green]saved[/green] {shot}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from clvlayer.dashboard.data import WarehouseUnavailable
    from clvlayer.dashboard.report import write_report

    warehouse = _warehouse_arg(args)
    started = time.perf_counter()
    try:
        with console.status("writing the report...") as status:
            result = write_report(warehouse, Path(args.out).resolve(), progress=status.update)
    except WarehouseUnavailable as error:
        console.print(f"[red]{error}[/red]")
        return 2
    table = Table(title=f"Report in {time.perf_counter() - started:.1f}s: {result.index}")
    table.add_column("chart or list")
    table.add_column("written")
    for key, path in {**result.charts, **result.tables}.items():
        table.add_row(key, path.name)
    for key, reason in result.empty.items():
        table.add_row(key, f"[yellow]empty: {reason}[/yellow]")
    console.print(table)
    return 0


def _cmd_docs(args: argparse.Namespace) -> int:
    from clvlayer.docs_site import docs_server, generate_docs

    warehouse = _warehouse_arg(args)
    site = Path(args.target_path).resolve()
    with console.status("dbt docs generate (read-only on the warehouse)..."):
        failures = generate_docs(warehouse, site, Settings.from_env().raw_data_dir)
    if failures:
        for failure in failures:
            console.print(f"[red]{failure}[/red]")
        return 1
    console.print(f"[green]Docs site written to {site}[/green] (exposures: see the lineage graph)")
    if args.no_serve:
        return 0
    server = docs_server(site, args.host, args.port)
    console.print(f"Serving http://{args.host}:{server.server_address[1]}  (Ctrl-C stops it)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clv", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="write-audit-publish the warehouse")
    build.add_argument("--raw-dir", help="folder of raw files (default: $RAW_DATA_DIR, else the embedded sample)")
    build.add_argument("--warehouse", help="published DuckDB file (default: $DUCKDB_PATH or warehouse/)")
    build.add_argument("--target", choices=["dev", "spark"], default="dev",
                       help="dev: DuckDB (default); spark: Apache Spark via dbt-spark (docs/scaling.md; "
                            "`make spark-install` first)")
    build.add_argument("--lock-timeout", type=float, default=None,
                       help="seconds to wait for another build of the same warehouse (default: $CLV_LOCK_TIMEOUT, "
                            "else no limit; 0 = exit at once)")
    build.add_argument("--incremental", action="store_true",
                       help="start from a copy of the published warehouse and apply only what changed in the input "
                            "(docs/operations.md 'Incremental runs'); in full when there is none or code/settings "
                            "changed")
    build.add_argument("--full-tests", action="store_true",
                       help="run every data test over every row (an incremental run checks the row-level tests of "
                            "its incremental models on the rows it rewrote only)")
    build.add_argument("--refit", action="store_true",
                       help="refit the predictive models on this run whatever their cadence (docs/predictive.md)")
    build.add_argument("--keep-failed", type=int, default=None,
                       help="failed builds kept in .build/ (default: $CLV_KEEP_FAILED_BUILDS, else 3)")
    build.add_argument("dbt_args", nargs=argparse.REMAINDER, help="extra dbt build arguments after --")
    build.set_defaults(func=_cmd_build)

    status = commands.add_parser("status", help="the live warehouse's run, and whether runs.jsonl agrees")
    status.add_argument("--warehouse", help="published DuckDB file (default: $DUCKDB_PATH or warehouse/)")
    status.set_defaults(func=_cmd_status)

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
    gen.add_argument("--chunk-customers", type=int, default=None,
                     help="generate in independent chunks of this many customers appended to the files (memory "
                          "bounded by one chunk, ~3 GB per million customers; same distribution, other draws); "
                          "needed beyond ~5M customers on 24 GB")
    gen.set_defaults(func=_cmd_generate)

    campaigns = commands.add_parser("campaigns", help="simulated campaigns with a known lift (a folder to build), or "
                                    "--from-warehouse: the published audiences as a campaign_contacts file")
    campaigns.add_argument("--out", required=True, help="folder (simulation) or CSV file (--from-warehouse)")
    campaigns.add_argument("--from-warehouse", action="store_true")
    campaigns.add_argument("--warehouse", help="published DuckDB file (default: $DUCKDB_PATH or warehouse/)")
    campaigns.add_argument("--campaigns", type=int, default=100, help="waves per simulated audience")
    campaigns.add_argument("--customers", type=int, default=400, help="customers per wave")
    campaigns.add_argument("--effect", type=float, default=0.10, help="true lift of the purchase probability")
    campaigns.add_argument("--seed", type=int, default=25)
    campaigns.set_defaults(func=_cmd_campaigns)

    scenario = commands.add_parser("scenario", help="generate a scenario shop with its truth (issue 23; CSV)")
    scenario.add_argument("name", help="steady, growing, shrinking, seasonal, short_history, one_time_buyers, "
                                       "channel_lifetimes_2x (clvlayer.generate_scenarios)")
    scenario.add_argument("--customers", type=int, default=8_000)
    scenario.add_argument("--seed", type=int, default=7)
    scenario.add_argument("--out", required=True)
    scenario.set_defaults(func=_cmd_scenario)

    nightly = commands.add_parser("generate-nightly", help="nightly exports of a generated shop (both input shapes)")
    nightly.add_argument("--shop", required=True, help="a `clv generate` folder: day 0")
    nightly.add_argument("--out", required=True)
    nightly.add_argument("--days", type=int, default=2)
    nightly.add_argument("--seed", type=int, default=42)
    nightly.add_argument("--shapes", default="snapshot,batch")
    nightly.add_argument("--format", choices=["parquet", "csv"], default=None, help="default: the shop's")
    nightly.add_argument("--batch-tables", default="orders", help="tables delivered as batch folders")
    nightly.add_argument("--history-files", choices=["day", "month", "one"], default="day")
    nightly.add_argument("--fault", action="append", default=[], help="changed:DAY or vanished:DAY (batch shape)")
    nightly.set_defaults(func=_cmd_generate_nightly)

    sample = commands.add_parser("sample", help="regenerate the embedded sample (seeds/)")
    sample.set_defaults(func=_cmd_sample)

    check = commands.add_parser("check-input", help="check a folder of raw files against the contract")
    check.add_argument("folder")
    check.add_argument("--vars", help="dbt vars (YAML), as for dbt, e.g. '{input_encoding: latin-1}'")
    check.add_argument("--sample-rows", type=int, default=10000, help="rows per table the preview parses")
    check.add_argument("--no-preview", action="store_true",
                       help="structure only (no dbt: neither the preview nor the build's verdict)")
    check.add_argument("--manifest", action="store_true",
                       help="print the resolved-input manifest (JSON) for CLV_INPUT_MANIFEST, to run dbt yourself")
    check.set_defaults(func=_cmd_check_input)

    dbt = commands.add_parser("dbt", help="run dbt with the project's profile: clv dbt -- <dbt args>")
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER)
    dbt.set_defaults(func=_cmd_dbt)

    docs_md = commands.add_parser("docs-md", help="regenerate docs/metrics.md from the dbt docs blocks")
    docs_md.set_defaults(func=_cmd_docs_md)

    mf = commands.add_parser("mf", help="run MetricFlow on the published warehouse: clv mf -- <mf args>")
    mf.add_argument("dbt_args", nargs=argparse.REMAINDER)
    mf.set_defaults(func=_cmd_mf)

    export = commands.add_parser("export", help="write a saved query's export table (schema exports) as CSV/Parquet")
    export.add_argument("name", help="the export's table name, e.g. monthly_net_revenue")
    export.add_argument("--format", choices=["csv", "parquet"], default="csv")
    export.add_argument("--out", help="file to write (default: <name>.<format> here)")
    export.add_argument("--warehouse", help="published DuckDB file (default: $DUCKDB_PATH or warehouse/)")
    export.set_defaults(func=_cmd_export)

    # the metrics service (clvlayer.serve) and its thin client (clvlayer.query_client; `clv query` skips this module)
    from clvlayer import query_client, serve as metrics_service

    serve = commands.add_parser("serve", help="the metrics service over HTTP (docs/analyst_guide.md)")
    metrics_service.add_arguments(serve)
    serve.set_defaults(func=metrics_service.run)
    query = commands.add_parser("query", help="ask the metrics service (a thin client; clv query --help)")
    query_client.add_arguments(query)
    query.set_defaults(func=query_client.run_from_cli)

    dashboard = commands.add_parser("dashboard", help="serve the dashboard on the published warehouse (read-only)")
    dashboard.add_argument("--warehouse", help="DuckDB file (default: $DUCKDB_PATH or warehouse/)")
    dashboard.add_argument("--port", type=int, default=8501, help="port (default 8501; 0 = any free port with "
                           "--screenshots)")
    dashboard.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 for everyone)")
    dashboard.add_argument("--screenshots", metavar="DIR", help="instead of serving: load every page in headless "
                           "Chromium, save <page>.png in DIR and stop (how docs/images is refreshed)")
    dashboard.set_defaults(func=_cmd_dashboard)

    report = commands.add_parser("report", help="write the charts as PNG + one HTML page, action lists as CSV")
    report.add_argument("--out", required=True, help="folder to write index.html, <chart>.png and <list>.csv into")
    report.add_argument("--warehouse", help="DuckDB file (default: $DUCKDB_PATH or warehouse/)")
    report.set_defaults(func=_cmd_report)

    docs = commands.add_parser("docs", help="generate and serve the dbt docs site (with exposures)")
    docs.add_argument("--warehouse", help="DuckDB file the catalog is read from, read-only (default: published)")
    docs.add_argument("--target-path", default=str(PROJECT_ROOT / "target" / "docs"), help="where the site is "
                      "written (default target/docs)")
    docs.add_argument("--port", type=int, default=8080)
    docs.add_argument("--host", default="127.0.0.1")
    docs.add_argument("--no-serve", action="store_true", help="only generate the site")
    docs.set_defaults(func=_cmd_docs)

    from clvlayer.sql_cli import register as register_sql  # `clv sql`: scripts/clvlayer/sql_cli.py
    register_sql(commands)
    return parser


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds like Ctrl-C: a running dbt child is killed, the lock released


def main(argv: list[str] | None = None) -> int:
    import signal

    signal.signal(signal.SIGTERM, _terminate)
    args = build_parser().parse_args(argv)
    if getattr(args, "dbt_args", None) and args.dbt_args[:1] == ["--"]:
        args.dbt_args = args.dbt_args[1:]
    if getattr(args, "pytest_args", None) and args.pytest_args[:1] == ["--"]:
        args.pytest_args = args.pytest_args[1:]
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
