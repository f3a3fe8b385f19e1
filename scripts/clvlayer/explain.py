"""Say why: what the input did to a build, read from its warehouse file (the kept failed build, or a published one).

Per raw table: rows counted at the source vs rows produced (a reader loss), and the top quarantine reasons with
their counts, three example raw rows and the fix. The text comes from the audit models (audit_row_accounting,
audit_quarantine_summary, whose `fix` column is the macro quarantine_fix); when a failed test stopped the build
before them, the reasons are read from the base_shop__* tables themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

TOP_REASONS = 5
EXAMPLE_WIDTH = 160


@dataclass
class ReasonReport:
    reason: str
    rows: int
    examples: list[str]
    fix: str


@dataclass
class TableReport:
    table: str
    raw_rows: int | None = None
    read_rows: int | None = None
    quarantined_rows: int = 0
    unaccounted_rows: int = 0
    count_method: str = ""
    reasons: list[ReasonReport] = field(default_factory=list)


def _tables(connection) -> set[str]:
    return {f"{s}.{t}" for s, t in connection.execute(
        "select table_schema, table_name from information_schema.tables").fetchall()}


def explain(database: Path, *, max_quarantined_share: float | None = None) -> list[TableReport]:
    """The input report of a warehouse file (read-only). Tables without findings are left out."""
    import duckdb

    reports: dict[str, TableReport] = {}
    with duckdb.connect(str(database), read_only=True) as connection:
        present = _tables(connection)
        if "audit.audit_row_accounting" in present:
            for table, method, raw, read, quarantined, unaccounted in connection.execute(
                    "select source_table, count_method, raw_rows, read_rows, quarantined_rows, unaccounted_rows "
                    "from audit.audit_row_accounting").fetchall():
                reports[table] = TableReport(table, raw, read, quarantined, unaccounted, method)
        if "audit.audit_quarantine_summary" in present:
            rows = connection.execute(
                "select source_table, quarantine_reason, quarantined_rows, example_raw_rows, fix "
                "from audit.audit_quarantine_summary order by source_table, quarantined_rows desc, 2").fetchall()
        else:
            rows = _reasons_from_base(connection, present)
    for table, reason, count, examples, fix in rows:
        report = reports.setdefault(table, TableReport(table))
        if len(report.reasons) < TOP_REASONS:
            report.reasons.append(ReasonReport(reason, count, (examples or "").splitlines()[:3], fix or ""))
        if "audit.audit_row_accounting" not in present:
            report.quarantined_rows += count
    return [r for r in reports.values() if r.reasons or r.unaccounted_rows]


def _reasons_from_base(connection, present: set[str]) -> list[tuple]:
    rows: list[tuple] = []
    for name in sorted(present):
        schema, _, table = name.partition(".")
        if not table.startswith("base_shop__"):
            continue
        source = table.removeprefix("base_shop__")
        rows += connection.execute(
            f'select ?, quarantine_reason, count(*), string_agg(raw_row, chr(10)) filter (where n <= 3), '
            f"'See docs/input_contract.md.' from (select quarantine_reason, coalesce(raw_row, '') as raw_row, "
            f'row_number() over (partition by quarantine_reason order by raw_row) as n from "{schema}"."{table}" '
            f"where quarantine_reason is not null) group by quarantine_reason order by 3 desc", [source]).fetchall()
    return rows


def render(reports: list[TableReport]) -> list[str]:
    """Plain-text lines of a report, for the console."""
    lines: list[str] = []
    for report in reports:
        share = ""
        if report.raw_rows:
            share = f" ({report.quarantined_rows / report.raw_rows:.1%} of {report.raw_rows:,} rows)"
        lines.append(f"{report.table}: {report.quarantined_rows:,} rows quarantined{share}")
        if report.unaccounted_rows:
            lines.append(f"  ! {report.raw_rows:,} rows counted in the source ({report.count_method}) but "
                         f"{report.read_rows:,} read: {report.unaccounted_rows:,} unaccounted. The CSV reader and "
                         "the source disagree about where rows end: look for stray or unbalanced quotes near the "
                         "quarantined lines below.")
        for reason in report.reasons:
            lines.append(f"  {reason.reason}: {reason.rows:,} rows. Fix: {reason.fix}")
            for example in reason.examples:
                shown = example if len(example) <= EXAMPLE_WIDTH else example[:EXAMPLE_WIDTH - 1] + "…"
                lines.append(f"      e.g. {shown}")
    return lines
