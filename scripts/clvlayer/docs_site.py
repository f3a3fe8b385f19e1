"""`clv docs`: generate the dbt docs site (models, tests, exposures and their lineage) and serve it.

`dbt docs generate` reads the warehouse's catalog. It runs on a read-only connection (the project's profile with
`access_mode: READ_ONLY` added, written to a temporary profiles folder): the published file is never opened for
writing, so dashboards keep reading it and `clv build` can publish over it meanwhile.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from clvlayer.project import PROFILE_TEMPLATE, PROJECT_ROOT

SITE_FILES = ("index.html", "manifest.json", "catalog.json")


def read_only_profiles(folder: Path) -> Path:
    """Write profiles.yml = profiles.example.yml with every output opened read-only; return the folder."""
    profiles = yaml.safe_load(PROFILE_TEMPLATE.read_text())
    for profile in profiles.values():
        for output in profile["outputs"].values():
            output.setdefault("config_options", {})["access_mode"] = "READ_ONLY"
    (folder / "profiles.yml").write_text(yaml.safe_dump(profiles, sort_keys=False))
    return folder


def run_dbt_read_only(args: list[str], warehouse: Path, raw_data_dir: Path | None = None) -> list[str]:
    """Run `dbt <args>` (docs generate, compile, ...) with the warehouse opened read-only; return its failures."""
    if not warehouse.exists():
        return [f"No published warehouse at {warehouse}: run `make build` (or `clv build`) first."]
    with tempfile.TemporaryDirectory(prefix="clv-read-only-") as tmp:
        profiles = read_only_profiles(Path(tmp))
        report = Path(tmp) / "report.json"
        env = dict(os.environ, DUCKDB_PATH=str(warehouse), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
        env.pop("RAW_DATA_DIR", None)
        if raw_data_dir is not None:  # the staging models compile against the input the warehouse was built from
            env["RAW_DATA_DIR"] = str(raw_data_dir)
        command = [sys.executable, "-m", "clvlayer.dbt_runner", str(report), *args,
                   "--project-dir", str(PROJECT_ROOT), "--profiles-dir", str(profiles)]
        subprocess.run(command, cwd=PROJECT_ROOT, env=env, check=False)
        outcome = json.loads(report.read_text() or "{}") if report.exists() else {}
    if not outcome:
        return [f"dbt {' '.join(args[:2])} did not report (crashed?)"]
    failures = list(outcome.get("failures", []))
    if not outcome.get("success") and not failures:
        failures.append(f"dbt {' '.join(args[:2])} failed (see the log above)")
    return failures


def generate_docs(warehouse: Path, target_path: Path, raw_data_dir: Path | None = None) -> list[str]:
    """`dbt docs generate` into target_path, reading the warehouse read-only. Returns failures (empty = ok)."""
    failures = run_dbt_read_only(["docs", "generate", "--target-path", str(target_path)], warehouse, raw_data_dir)
    missing = [name for name in SITE_FILES if not (target_path / name).exists()]
    if missing and not failures:
        failures.append(f"dbt docs generate did not write {', '.join(missing)} in {target_path}")
    return failures


def docs_server(site: Path, host: str, port: int) -> ThreadingHTTPServer:
    """A static server for the generated site (the docs page loads manifest.json and catalog.json over HTTP)."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    return ThreadingHTTPServer((host, port), handler)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        pass
