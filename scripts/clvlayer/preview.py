"""The pre-flight's preview of values: does each required column parse? (`clv check-input`)

It runs the dbt macro `preview_inputs` (macros/staging/preview.sql) through dbt's runner, so the parse rules are the
staging macros themselves, never a second copy. It parses the first rows of each table only: a warning, not the
decision, which the build makes on every row.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from clvlayer.dbt_inputs import DbtInputs
from clvlayer.dbt_runner import run_dbt
from clvlayer.inputs import InputManifest

MOSTLY = 0.5  # warn when fewer than this share of a column's sampled values parse

FIXES = {
    "amount": "numbers use var decimal_separator (default '.'; set ',' for decimal commas) and no thousands "
              "separators or currency signs",
    "timestamp": "dates must be ISO-8601, or a format in var extra_timestamp_formats (day/month order: var "
                 "date_order)",
    "integer": "whole numbers only",
    "boolean": "true/false, yes/no or 1/0",
    "id": "fill the column: empty values and null tokens (var null_tokens) are missing ids",
    "text": "fill the column: empty values and null tokens (var null_tokens) are missing",
}


def preview_warnings(inputs: DbtInputs, *, sample_rows: int, dbt_args: list[str] | None = None) -> list[str]:
    """Warnings for required columns that are mostly empty or mostly unparseable in the sample of a resolved
    folder (clvlayer.dbt_inputs.prepare_inputs)."""
    manifest = inputs.manifest
    if manifest is None:
        return []
    with tempfile.TemporaryDirectory(prefix="clv-preview-") as tmp:
        outcome = run_dbt(["--quiet", "run-operation", "preview_inputs", "--args",
                           json.dumps({"sample_rows": sample_rows}), *(dbt_args or [])],
                          duckdb_path=Path(tmp) / "preview.duckdb", inputs=inputs)
    if not outcome.success:
        return ["the value preview did not run: " + "; ".join(outcome.failures)]
    warnings: list[str] = []
    for message in outcome.messages:
        if message.startswith("CLV_PREVIEW "):
            warnings += _table_warnings(json.loads(message.removeprefix("CLV_PREVIEW ")), manifest)
    return warnings


def _table_warnings(preview: dict, manifest: InputManifest) -> list[str]:
    table, rows = preview["table"], preview["rows"]
    path = manifest.tables[table].given_path
    warnings = []
    for column, stats in preview["columns"].items():
        values, parsed, kind = stats["values"], stats["parsed"], stats["type"]
        examples = ", ".join(repr(e) for e in stats["examples"]) or "empty values"
        if rows and values < rows * MOSTLY:
            warnings.append(f"{path}: column '{column}' is empty or a null token in {rows - values:,} of the first "
                            f"{rows:,} rows (e.g. {examples}); those rows will be quarantined. Fix: {FIXES['id']}.")
        elif values and parsed < values * MOSTLY:
            warnings.append(f"{path}: column '{column}' ({kind}) does not parse in {values - parsed:,} of the first "
                            f"{values:,} values (e.g. {examples}); those rows will be quarantined. Fix: "
                            f"{FIXES.get(kind, FIXES['text'])}.")
    return warnings
