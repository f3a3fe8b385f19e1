"""From a raw folder (or none: the embedded sample) to what a dbt invocation needs: the one path every command
takes (`clv build`, `clv check-input`, `clv dbt`, the lint, the preview, the Spark build and the dbt-duckdb plugin
that plain `dbt build` reaches it through, clvlayer.dbt_plugin).

`prepare_inputs` checks the input vars once, resolves the folder once (clvlayer.inputs.resolve_inputs, which checks
the vars itself when it has a folder) and returns a `DbtInputs`, whose `env()` is the whole environment contract
between clvlayer and dbt: RAW_DATA_DIR (the folder; for the docs and dbt's own users) and CLV_INPUT_MANIFEST (the
resolved-input manifest the staging macros read; set, it overrides any resolving inside dbt). The folder is
normalised here, by clvlayer.project.raw_folder (the one rule).
"""

from __future__ import annotations

import json
import re
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clvlayer.inputs import MANIFEST_ENV, InputManifest, check_input_vars, project_vars, resolve_inputs
from clvlayer.project import PROJECT_ROOT, RAW_DIR_ENV, raw_folder

# Helper files of a resolve outside a build (`clv dbt`, `clv check-input --manifest`, plain dbt)
INPUTS_WORK_DIR = PROJECT_ROOT / "target" / "clv_inputs"
# A folder build reads the files through the manifest: the sample's seeds are not loaded.
SKIP_SEEDS = ["--exclude", "resource_type:seed"]


@dataclass(frozen=True)
class DbtInputs:
    """The input of one dbt invocation: a resolved folder, or the embedded sample (folder and manifest None)."""

    folder: Path | None = None
    manifest: InputManifest | None = None
    manifest_json: str | None = None  # what dbt reads: the manifest, or a target's variant of it (Spark)

    def env(self) -> dict[str, str | None]:
        """The environment variables dbt reads the input from (None = unset: a clv command never inherits them)."""
        return {RAW_DIR_ENV: str(self.folder) if self.folder is not None else None,
                **manifest_env(self.manifest_json)}

    def apply_to(self, env: MutableMapping[str, str]) -> None:
        """Set (or unset) those variables in `env`, a child's environment or os.environ (stale parts removed)."""
        for key in [key for key in env if PART_NAME.fullmatch(key)]:
            env.pop(key)
        for key, value in self.env().items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value

    def build_args(self) -> list[str]:
        """`dbt build` arguments this input needs."""
        return list(SKIP_SEEDS) if self.folder is not None else []

    def with_manifest(self, document: dict[str, Any]) -> "DbtInputs":
        """The same input with another manifest document for dbt (the Spark target's, with its spark_path)."""
        return DbtInputs(self.folder, self.manifest, json.dumps(document))


SAMPLE = DbtInputs()

#: Linux refuses a single environment string over 128 KiB (MAX_ARG_STRLEN), and a batch folder of hundreds of files
#: makes a manifest longer than that: it then travels in parts CLV_INPUT_MANIFEST_1..n, with CLV_INPUT_MANIFEST
#: holding "@parts:<n>" (macros/staging/raw_relation.sql input_manifest joins them).
PART_CHARS = 100_000
PARTS_PREFIX = "@parts:"
PART_NAME = re.compile(rf"{MANIFEST_ENV}_\d+")


def manifest_env(text: str | None) -> dict[str, str | None]:
    """The manifest's environment variables: itself, or its parts when it is too long for one (the JSON is ASCII)."""
    if text is None or len(text) <= PART_CHARS:
        return {MANIFEST_ENV: text}
    parts = [text[start:start + PART_CHARS] for start in range(0, len(text), PART_CHARS)]
    return {MANIFEST_ENV: f"{PARTS_PREFIX}{len(parts)}",
            **{f"{MANIFEST_ENV}_{index}": part for index, part in enumerate(parts, start=1)}}


def prepare_inputs(folder: str | Path | None, *, dbt_args: list[str] | None = None,
                   work_dir: Path | None = None) -> DbtInputs:
    """Check the input vars and resolve `folder` (None or empty: the embedded sample), each once, the folder
    normalised by clvlayer.project.raw_folder. Raises InputError.

    work_dir: where the resolver may write helper files (a UTF-8 copy of a file in an encoding DuckDB cannot read);
    created when needed; None for a check that must not write anything.
    """
    folder = raw_folder(folder)
    if folder is None:
        check_input_vars(project_vars(dbt_args))
        return SAMPLE
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
    manifest = resolve_inputs(folder, dbt_args=dbt_args, work_dir=work_dir)
    return DbtInputs(folder, manifest, manifest.to_json())
