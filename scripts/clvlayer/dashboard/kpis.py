"""The overview's KPI tiles, built from the loaders' frames: shared by the app and the static report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

PERIOD_MONTHS = {"Month": 1, "Quarter": 3, "Year": 12}
NO_PREVIOUS_AS_OF = ("Change vs the previous as-of date needs an as-of-date series in the warehouse (the segment "
                     "LTV mart); this warehouse has one as-of date.")


def _digits(digits: int) -> Callable[[Any], str]:
    return lambda value: "–" if value is None or pd.isna(value) else f"{float(value):,.{digits}f}"


def _percent(value: Any) -> str:
    return "–" if value is None or pd.isna(value) else f"{float(value):.1%}"


@dataclass(frozen=True)
class Tile:
    label: str
    value: Any
    previous: Any = None
    format: Callable[[Any], str] = _digits(0)
    help: str = ""

    @property
    def text(self) -> str:
        return self.format(self.value)

    @property
    def change(self) -> str | None:
        """Relative change vs the previous period (None when there is nothing to compare with)."""
        if self.previous is None or pd.isna(self.previous) or pd.isna(self.value) or float(self.previous) == 0:
            return None
        return f"{float(self.value) / float(self.previous) - 1:+.1%}"


def flow_tiles(period_kpis: pd.DataFrame) -> list[Tile]:
    """Net revenue, orders, AOV, new and active customers: current period vs the previous one."""
    rows = period_kpis.set_index("period")
    now, before = rows.loc["current"], rows.loc["previous"]
    span = (f"{now['period_start']:%Y-%m-%d} to {now['period_end']:%Y-%m-%d}; change vs "
            f"{before['period_start']:%Y-%m-%d} to {before['period_end']:%Y-%m-%d}")
    fields = [("Net revenue", "net_revenue", _digits(0)), ("Completed orders", "completed_orders", _digits(0)),
              ("AOV", "aov", _digits(2)), ("New customers", "new_customers", _digits(0)),
              ("Active customers", "active_customers", _digits(0))]
    return [Tile(label, now[field], before[field], fmt, span) for label, field, fmt in fields]


def value_tiles(customer_value: pd.DataFrame, ltv_to_cac: pd.DataFrame) -> list[Tile]:
    """Customer value at the as-of date (no previous value: one as-of date in the warehouse)."""
    kpis = customer_value.iloc[0]
    ratio_12m = ltv_to_cac.set_index("horizon_months")["ltv_to_cac"].get(12)
    return [Tile("Customers (buyers)", kpis["buyers"], help=NO_PREVIOUS_AS_OF),
            Tile("Realised LTV", kpis["average_realised_ltv"], format=_digits(1), help=NO_PREVIOUS_AS_OF),
            Tile("LTV formula A", kpis["ltv_formula_a"], format=_digits(1), help=NO_PREVIOUS_AS_OF),
            Tile("LTV formula B", kpis["average_ltv_formula_b"], format=_digits(1), help=NO_PREVIOUS_AS_OF),
            Tile("Orders / customer / year", kpis["orders_per_year"], format=_digits(2), help=NO_PREVIOUS_AS_OF),
            Tile("Repeat rate", kpis["repeat_customer_rate"], format=_percent, help=NO_PREVIOUS_AS_OF),
            Tile("LTV/CAC 12 months", ratio_12m, format=_digits(2),
                 help="Margin of paid cohorts (in the date range) 12 months old / their spend. "
                 + NO_PREVIOUS_AS_OF)]
