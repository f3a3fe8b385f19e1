"""`clv report --out DIR`: the dashboard's charts as PNG, its KPI tiles and action lists, one HTML page linking them.

For people without the app (and the README pictures). Same loaders (data.py), same chart definitions (charts.py),
default filters (everything up to the as-of date); the overview compares the quarter to the as-of date with the
quarter before, like the app's default.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from clvlayer.dashboard import PAGES, charts, data, kpis
from clvlayer.dashboard.currency import is_money, is_rate, money_title
from clvlayer.dashboard.data import Coverage, Filters, comparison_periods

# loaders the report reads besides the charts' (models/exposures.yml declares their marts)
EXTRA_DATASETS = ("data_coverage", "ltv_snapshots", "period_flows", "segment_kpis", "channel_ltv_to_cac",
                  "pooled_ltv_to_cac", "reorder_list", "at_risk_high_value", "backtest_verdicts", "backtest_overall")
PNG_SCALE = 2


def report_datasets() -> set[str]:
    return {spec.dataset for spec in charts.CHARTS.values()} | set(EXTRA_DATASETS)


@dataclass
class ReportResult:
    index: Path
    charts: dict[str, Path] = field(default_factory=dict)
    empty: dict[str, str] = field(default_factory=dict)
    tables: dict[str, Path] = field(default_factory=dict)


def render_png(chart: object, path: Path) -> Path:
    import vl_convert

    path.write_bytes(vl_convert.vegalite_to_png(chart.to_dict(), scale=PNG_SCALE))
    return path


def _tiles_html(tiles: list[kpis.Tile], with_change: bool) -> str:
    cells = []
    for tile in tiles:
        sign = "flat" if tile.flat else "down" if tile.change and tile.change.startswith("-") else "up"
        change = (f'<div class="change {sign}">{html.escape(tile.change)}</div>'
                  if with_change and tile.change else "")
        cells.append(f'<div class="tile" title="{html.escape(tile.help)}"><div class="label">'
                     f'{html.escape(tile.label)}</div><div class="value">{html.escape(tile.text)}</div>{change}</div>')
    return f'<div class="tiles">{"".join(cells)}</div>'


def _table_html(frame: pd.DataFrame, currency: str, rows: int = 20) -> str:
    """The first rows, rates as %, money columns headed with the currency."""
    shown = frame.head(rows).copy()
    for column in shown.columns:
        if is_rate(column) and pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].map(lambda value: "–" if pd.isna(value) else f"{value:.1%}")
    shown = shown.rename(columns={c: money_title(c, currency) for c in shown.columns if is_money(c)})
    return shown.to_html(index=False, na_rep="–", float_format=lambda value: f"{value:,.2f}", classes="list",
                         border=0)


STYLE = """body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1400px;color:#222}
h1{margin-bottom:.2rem} .meta{color:#666} .missing{background:#eef5fb;padding:.6rem 1rem;border-radius:6px}
.tiles{display:flex;flex-wrap:wrap;gap:.8rem;margin:.8rem 0} .tile{border:1px solid #ddd;border-radius:8px;
padding:.6rem 1rem;min-width:10rem} .label{color:#555;font-size:.9rem} .value{font-size:1.7rem}
.change{font-size:.9rem} .up{color:#2a7} .down{color:#c33} .flat{color:#777} .empty{color:#555;background:#f4f4f4;padding:.6rem 1rem;border-radius:6px}
figure{margin:1rem 0} img{max-width:100%} table.list{border-collapse:collapse;font-size:.85rem}
table.list td,table.list th{border-bottom:1px solid #eee;padding:.2rem .5rem;text-align:right}"""


def _page_sections(result: ReportResult) -> list[str]:
    sections = []
    for url_path, title, _ in PAGES:
        blocks = []
        for spec in charts.charts_of(url_path):
            if spec.key in result.charts:
                blocks.append(f'<figure><img src="{spec.key}.png" alt="{html.escape(spec.title)}">'
                              f'<figcaption>{html.escape(spec.title)}</figcaption></figure>')
            else:
                blocks.append(f'<h3>{html.escape(spec.title)}</h3><p class="empty">'
                              f'{html.escape(result.empty[spec.key])}</p>')
        if blocks:  # the overview's heading is written with its KPI tiles
            heading = "" if url_path == "overview" else f'<h2 id="{url_path}">{html.escape(title)}</h2>'
            sections.append(heading + "".join(blocks))
    return sections


def write_report(warehouse: Path, out: Path, filters: Filters | None = None,
                 progress: Callable[[str], None] | None = None) -> ReportResult:
    """Write every chart (PNG, or its empty state), the KPI tiles and the action lists (CSV) under `out`."""
    out.mkdir(parents=True, exist_ok=True)
    coverage = Coverage.read(warehouse)
    filters = filters or Filters(date_from=coverage.first_order_on, date_to=coverage.as_of_date)
    result = ReportResult(index=out / "index.html")
    for spec in charts.CHARTS.values():
        if progress:
            progress(f"chart {spec.key}")
        frame = spec.load(warehouse, filters)
        reason = spec.empty(frame, coverage)
        if reason:
            result.empty[spec.key] = reason
        else:
            result.charts[spec.key] = render_png(spec.figure(frame, coverage.currency), out / f"{spec.key}.png")
    overview = _overview_html(warehouse, filters, coverage)
    lists = []
    for name, title in (("reorder_list", "Due for a reorder reminder"),
                        ("at_risk_high_value", "At-risk high-value customers (P(alive) < 0.5, top and high tiers)")):
        frame = getattr(data, name)(warehouse, filters)
        path = out / f"{name}.csv"
        frame.to_csv(path, index=False)
        result.tables[name] = path
        lists.append(f'<h3>{html.escape(title)}: {len(frame):,} customers (<a href="{path.name}">CSV</a>)</h3>'
                     + (_table_html(frame, coverage.currency) if len(frame) else '<p class="empty">Nobody on this list.</p>'))
    missing = ("<div class=\"missing\">The input lacks some optional tables:<ul>"
               + "".join(f"<li>{html.escape(note)}</li>" for note in coverage.missing) + "</ul></div>"
               if coverage.missing else "")
    written = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    result.index.write_text(
        f"<!doctype html><html><head><meta charset=\"utf-8\"><title>Customer value report</title>"
        f"<style>{STYLE}</style></head><body><h1>Customer value report</h1>"
        f"<p class=\"meta\">Warehouse {html.escape(str(warehouse))}, as of {coverage.as_of_date}; written {written} "
        f"by <code>clv report</code>. Money in {html.escape(coverage.currency)} (var reporting_currency).</p>{missing}{overview}"
        + "".join(_page_sections(result)) + _backtest_html(warehouse, coverage.currency)
        + f"<h2 id=\"actions\">Actions</h2>{''.join(lists)}</body></html>", encoding="utf-8")
    return result


def _backtest_html(warehouse: Path, currency: str) -> str:
    """The dashboard's Backtest page as tables: the verdict per question and the overall segment's cells."""
    verdicts, cells = data.backtest_verdicts(warehouse), data.backtest_overall(warehouse)
    body = (_table_html(verdicts, currency) if len(verdicts)
            else '<p class="empty">No backtest cell has an actual yet.</p>')
    return ('<h2 id="backtest">Backtest: which value to trust</h2>' + body
            + "<h3>Overall: estimate vs actual per buyer</h3>" + _table_html(cells, currency, rows=40))


def _overview_html(warehouse: Path, filters: Filters, coverage: Coverage) -> str:
    if filters.date_to is None:
        return '<h2 id="overview">Overview</h2><p class="empty">No completed order in the warehouse.</p>'
    current, previous = comparison_periods(filters.date_to, kpis.PERIOD_MONTHS["Quarter"])
    currency = coverage.currency
    flows = kpis.flow_tiles(data.period_flows(warehouse, filters, current, previous), currency=currency)
    snapshot = coverage.previous_snapshots[0] if coverage.previous_snapshots else None
    values = kpis.value_tiles(data.segment_kpis(warehouse), snapshot, currency=currency)
    ratios = ((kpis.pooled_ltv_to_cac_tiles(data.pooled_ltv_to_cac(warehouse), snapshot, currency=currency)
               if not filters.channels else [])
              + kpis.ltv_to_cac_tiles(data.channel_ltv_to_cac(warehouse, filters), snapshot, currency=currency))
    change = f"change vs {snapshot.label}" if snapshot else "no earlier as-of snapshot"
    no_ratio = next((note for note in coverage.missing if "marketing spend" in note),
                    "no channel has marketing spend recorded")
    return (f'<h2 id="overview">Overview</h2><h3>{current.start} to {current.end} vs {previous.start} to '
            f'{previous.end}</h3>{_tiles_html(flows, True)}<h3>Customer value as of {coverage.as_of_date}, all '
            f'customers ({html.escape(change)})</h3>{_tiles_html(values, True)}<h3>LTV/CAC at 12 months by channel'
            f'</h3>' + (_tiles_html(ratios, True) if ratios else f'<p class="empty">{html.escape(no_ratio)}</p>'))
