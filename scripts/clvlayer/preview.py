"""The pre-flight of `clv check-input`: the build's own verdict on every row, and a preview of values.

check_folder builds the build's own staging and audit nodes, with their tests, on every row into a scratch file: the
same checks and thresholds (vars max_quarantined_share and quarantine_threshold_severity, read by the audit test and
by the macro quarantine_verdict, never restated here), so check-input refuses what the build would refuse. The dbt
macro `preview_inputs` (macros/staging/preview.sql) then parses the first rows of each required column with the
staging macros themselves, never a second copy, and warns about columns that mostly do not parse.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
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


# The build's own staging and audit nodes: check-input builds exactly these, so its verdict is the build's.
AUDIT_NODES = ["--select", "+audit_row_accounting", "+audit_quarantine_summary", "--indirect-selection", "cautious",
               "--exclude", "resource_type:unit_test"]


@dataclass
class Verdict:
    """What the build would decide on every row of a folder: refused (an error-severity test failed), the failing
    tests, per table the share quarantined vs the threshold, and the quarantine report (clvlayer.explain); plus the
    preview's warnings on the first rows."""

    refused: bool
    failures: list[str] = field(default_factory=list)
    shares: list[dict] = field(default_factory=list)  # CLV_VERDICT lines of the macro quarantine_verdict
    report: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def over_threshold(self) -> list[dict]:
        return [s for s in self.shares if s["share"] is not None and s["share"] > s["max_share"]]


def check_folder(inputs: DbtInputs, *, sample_rows: int, dbt_args: list[str] | None = None) -> Verdict:
    """Build the staging and audit nodes of a resolved folder (clvlayer.dbt_inputs.prepare_inputs) into a scratch
    file with the build's own tests and thresholds (audit_row_accounting.yml), then run the macro check_input_report
    there: the preview of the first rows and the share quarantined per table against the threshold."""
    from clvlayer.explain import explain, render

    assert inputs.manifest is not None  # a folder always resolves to a manifest
    with tempfile.TemporaryDirectory(prefix="clv-check-input-") as tmp:
        scratch = Path(tmp) / "check_input.duckdb"
        built = run_dbt(["--quiet", "build", *AUDIT_NODES, *(dbt_args or []), *inputs.build_args()],
                        duckdb_path=scratch, inputs=inputs)
        reported = run_dbt(["--quiet", "run-operation", "check_input_report", "--args",
                            json.dumps({"sample_rows": sample_rows}), *(dbt_args or [])],
                           duckdb_path=scratch, inputs=inputs)
        report = render(explain(scratch)) if scratch.exists() else []
    verdict = Verdict(refused=not built.success, failures=built.failures, report=report)
    if not reported.success:
        verdict.warnings.append("the value preview did not run: " + "; ".join(reported.failures))
    for message in reported.messages:
        kind, _, payload = message.partition(" ")
        if kind == "CLV_PREVIEW":
            verdict.warnings += _table_warnings(json.loads(payload), inputs.manifest)
        elif kind == "CLV_VERDICT":
            verdict.shares.append(json.loads(payload))
    return verdict
