"""The overview's KPI tiles, built from the loaders' frames: shared by the app and the static report.

Every value is a mart's number as it is; money carries the reporting currency (Coverage.currency). The change on a tile is the difference between two of them (this period
minus the previous one; this as-of snapshot minus an earlier one), in the metric's own unit (percentage points for
rates): the app computes no ratio, not even a relative change.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from clvlayer.dashboard.data import Snapshot

PERIOD_MONTHS = {"Month": 1, "Quarter": 3, "Year": 12}
DEFINITIONS = "definitions: docs/metrics.md"
Format = Callable[[Any], str]


def _missing(value: Any) -> bool:
    return value is None or bool(pd.isna(value))


def _digits(digits: int) -> Format:
    return lambda value: "–" if _missing(value) else f"{float(value):,.{digits}f}"


def _signed(digits: int) -> Format:
    return lambda value: f"{round(float(value), digits) + 0.0:+,.{digits}f}"  # + 0.0: no "-0.0"


def _months(value: Any) -> str:
    return "–" if _missing(value) else f"{float(value):,.1f} mo"


def _percent(value: Any) -> str:
    return "–" if _missing(value) else f"{float(value):.1%}"


def _points(value: Any) -> str:
    return f"{round(float(value) * 100, 1) + 0.0:+.1f} pp"


def in_currency(fmt: Format, currency: str) -> Format:
    """`fmt` with the currency code after the number ('1,234 USD'; a missing value stays '–')."""
    def money(value: Any) -> str:
        text = fmt(value)
        return text if text == "–" else f"{text} {currency}"

    return money


@dataclass(frozen=True)
class Tile:
    label: str
    value: Any
    previous: Any = None
    format: Format = _digits(0)
    change_format: Format = _signed(0)
    help: str = ""

    @property
    def text(self) -> str:
        return self.format(self.value)

    @property
    def flat(self) -> bool:
        """The change rounds to zero at the tile's precision (shown without an up or down colour)."""
        return self.change is not None and not re.search(r"[1-9]", self.change)

    @property
    def change(self) -> str | None:
        """Value minus the previous value, in the tile's unit (None when there is nothing to compare with)."""
        if _missing(self.previous) or _missing(self.value):
            return None
        return self.change_format(float(self.value) - float(self.previous))


def flow_tiles(period_flows: pd.DataFrame, *, currency: str) -> list[Tile]:
    """Net revenue (in `currency`), completed orders, new and active customers: the current period vs the previous
    one."""
    rows = period_flows.set_index("period")
    now, before = rows.loc["current"], rows.loc["previous"]
    span = (f"{now['period_start']:%Y-%m-%d} to {now['period_end']:%Y-%m-%d}; change vs "
            f"{before['period_start']:%Y-%m-%d} to {before['period_end']:%Y-%m-%d}")
    fields = [("Net revenue", "net_revenue"), ("Completed orders", "completed_orders"),
              ("New customers", "new_customers"), ("Active customers", "active_customers")]
    money = {"net_revenue"}
    return [Tile(label, now[field], before[field],
                 *((in_currency(_digits(0), currency), in_currency(_signed(0), currency)) if field in money else ()),
                 help=f"{span}: {before[field]:,.0f}{f' {currency}' if field in money else ''}. Sum over fct_orders "
                 "/ dim_customers.")
            for label, field in fields]


# (tile label, fct_ltv_by_segment column, value format, change format, what it is: the help's first words)
VALUE_TILES: tuple[tuple[str, str, Format, Format, str], ...] = (
    ("Customers", "customers", _digits(0), _signed(0), "Customers"),
    ("Buyers", "buyers", _digits(0), _signed(0), "Customers with a completed order"),
    ("Repeat rate", "repeat_customer_rate", _percent, _points, "Share of buyers who bought again"),
    ("Average check (AOV)", "average_check", _digits(2), _signed(2), "Average check"),
    ("Orders per year", "orders_per_year", _digits(2), _signed(2), "Orders per customer per year"),
    ("Realised LTV", "average_realised_ltv", _digits(1), _signed(1), "Realised LTV per buyer"),
    ("Realised LTV 12 mo", "realised_ltv_12m", _digits(1), _signed(1),
     "Realised LTV in the first 12 months (mature cohorts)"),
    ("Expected lifetime", "expected_lifetime_months", _months, _signed(1), "Expected lifetime in months"),
    ("LTV formula A", "ltv_formula_a", _digits(1), _signed(1), "LTV formula A"),
    ("LTV formula B", "ltv_formula_b", _digits(1), _signed(1), "LTV formula B"),
)
#: the VALUE_TILES columns that are money: their value and change carry the reporting currency
MONEY_COLUMNS = frozenset({"average_check", "average_realised_ltv", "realised_ltv_12m", "ltv_formula_a",
                           "ltv_formula_b"})


def _snapshot_rows(frame: pd.DataFrame, previous: Snapshot | None) -> tuple[pd.Series | None, pd.Series | None]:
    rows = frame.set_index("as_of_snapshot")
    current = rows.loc["current"] if "current" in rows.index else None
    before = rows.loc[previous.name] if previous is not None and previous.name in rows.index else None
    return current, before


def _compared(before: pd.Series | None, column: str, previous: Snapshot | None, fmt: Format) -> str:
    if previous is None:
        return "No earlier as-of snapshot in the warehouse (var ltv_previous_periods_months): no change shown."
    value = None if before is None else before[column]
    return f"Change vs {previous.label}: {fmt(value)}."


def value_tiles(segment_kpis: pd.DataFrame, previous: Snapshot | None, *, currency: str) -> list[Tile]:
    """One segment of fct_ltv_by_segment at the current as-of date, with the change since `previous`; money in
    `currency`."""
    current, before = _snapshot_rows(segment_kpis, previous)
    if current is None:
        return []
    tiles = []
    for label, column, fmt, change, what in VALUE_TILES:
        if column in MONEY_COLUMNS:
            fmt, change = in_currency(fmt, currency), in_currency(change, currency)
        tiles.append(Tile(label, current[column], None if before is None else before[column], fmt, change,
                          f"{what}: fct_ltv_by_segment.{column} ({DEFINITIONS}). "
                          + _compared(before, column, previous, fmt)))
    return tiles


def ltv_to_cac_tiles(channel_rows: pd.DataFrame, previous: Snapshot | None,
                     source: Callable[[str], str] | None = None, *, currency: str = "") -> list[Tile]:
    """LTV/CAC at 12 months of each channel with a CAC (fct_ltv_by_segment's channel rows), with the change;
    `source` says where a channel's figure comes from (the help text)."""
    source = source or (lambda channel: f" of {channel}: fct_ltv_by_segment.ltv_to_cac_12m")
    current = channel_rows[(channel_rows["months_before_current"] == 0) & (channel_rows["cac_status"] == "ok")]
    earlier = (channel_rows[channel_rows["as_of_snapshot"] == previous.name].set_index("channel")
               if previous is not None else pd.DataFrame(columns=["ltv_to_cac_12m"]))
    tiles = []
    for row in current.itertuples():
        before = earlier["ltv_to_cac_12m"].get(row.channel)
        tiles.append(Tile(
            row.channel, row.ltv_to_cac_12m, before, _digits(2), _signed(2),
            f"LTV/CAC at 12 months{source(row.channel)} (CAC {row.cac:,.2f} {currency}; {DEFINITIONS}). "
            + (f"Change vs {previous.label}: {_digits(2)(before)}." if previous is not None else "")))
    return tiles


POOLED_LABEL = "All channels"


def pooled_ltv_to_cac_tiles(pooled_rows: pd.DataFrame, previous: Snapshot | None, *, currency: str = "") -> list[Tile]:
    """LTV/CAC at 12 months with every channel pooled (fct_ltv_by_segment's overall row), with the change; none when
    no channel has a CAC."""
    return ltv_to_cac_tiles(pooled_rows.assign(channel=POOLED_LABEL), previous, lambda _: (
        ", every paid channel pooled (organic customers cost nothing and are not counted): "
        "fct_ltv_by_segment.ltv_to_cac_12m of the overall row"), currency=currency)
