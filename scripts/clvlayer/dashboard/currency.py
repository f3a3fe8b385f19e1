"""The reporting currency a warehouse's money is in (var `reporting_currency`), to label every money value of the
dashboard and the report.

Read from the warehouse's run record (audit.build_run) when the build recorded its settings there - through the
metrics service when one is configured (its /health names the currency of the run it serves), else from the file -
and otherwise from the project's vars (dbt_project.yml), which is what a build without `--vars reporting_currency`
used."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

VAR = "reporting_currency"


def reporting_currency(warehouse: Path) -> str:
    """The ISO 4217 code of the warehouse's money, upper case (as the staging macros compare it)."""
    from clvlayer.dashboard import service
    from clvlayer.inputs import project_vars
    from clvlayer.publish import embedded_record

    url = service.service_url()
    if url is not None:
        recorded = service.health(url).get(VAR)
    else:
        recorded = _recorded(embedded_record(warehouse) if warehouse.exists() else None)
    return (recorded or str(project_vars().get(VAR) or "USD")).strip().upper()


def _recorded(record: dict[str, Any] | None) -> str | None:
    """The currency a run record names: under its settings or vars, when the build wrote them."""
    for key in ("settings", "vars"):
        values = (record or {}).get(key)
        if isinstance(values, dict) and values.get(VAR):
            return str(values[VAR])
    return None


def money_title(label: str, currency: str) -> str:
    """An axis, legend or column title for a money value: 'net revenue (USD)'."""
    return f"{label} ({currency})"


_MONEY = re.compile(r"revenue|realised_ltv|margin_ltv|ltv_formula_[ab]|predicted_clv|discounted_clv|(^|_)cac($|_)"
                    r"|marketing_spend|gross_margin($|_per)|margin_per_customer|average_check|predicted_ltv")
_NOT_MONEY = ("to_cac", "lift", "tier", "status", "rate", "share", "new_customers", "source")
#: columns holding a rate or share (shown as %)
RATE_PARTS = ("p_alive", "rate", "lift", "error", "share", "coverage")


def is_money(column: str) -> bool:
    """Whether a mart column holds money (in the reporting currency), by its name."""
    return not any(part in column for part in _NOT_MONEY) and bool(_MONEY.search(column))


def is_rate(column: str) -> bool:
    return any(part in column for part in RATE_PARTS)
