"""Streamlit helpers shared by the pages: the context (warehouse, coverage, filters), cached loads, empty states."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from clvlayer.dashboard import FOOTER, charts, data, service
from clvlayer.dashboard.currency import is_money, is_rate, money_title
from clvlayer.dashboard.data import Coverage, Filters, WarehouseUnavailable
from clvlayer.project import Settings

CONTEXT_KEY = "clv_dashboard_context"


@dataclass(frozen=True)
class Context:
    warehouse: Path
    coverage: Coverage
    filters: Filters


def warehouse_path() -> Path:
    """The published warehouse: $DUCKDB_PATH (set by `clv dashboard --warehouse`), else warehouse/."""
    return Settings.from_env().warehouse


Version = tuple[int, int, int, str]


def warehouse_version(warehouse: Path) -> Version:
    """The cache key of every load: changes whenever `clv build` publishes a new file over the path, or the page
    reads through another metrics service (or none)."""
    stat = warehouse.stat()
    return stat.st_ino, stat.st_mtime_ns, stat.st_size, service.service_url() or ""


@st.cache_data(ttl=600, show_spinner=False, max_entries=500)
def _load(loader: str, warehouse: str, version: Version, args: tuple, kwargs: tuple) -> pd.DataFrame:
    return getattr(data, loader)(Path(warehouse), *args, **dict(kwargs))


@st.cache_data(ttl=600, show_spinner=False, max_entries=500)
def _load_chart(key: str, warehouse: str, version: Version, filters: Filters) -> pd.DataFrame:
    return charts.CHARTS[key].load(Path(warehouse), filters)


def _stop_with(error: WarehouseUnavailable) -> None:
    st.warning(str(error), icon=":material/database:")
    st.stop()


def load(loader: str, warehouse: Path, *args: Any, **kwargs: Any) -> pd.DataFrame:
    """Call `data.<loader>` through the cache; a warehouse problem becomes a warning and stops the page."""
    try:
        return _load(loader, str(warehouse), warehouse_version(warehouse), args, tuple(sorted(kwargs.items())))
    except (WarehouseUnavailable, FileNotFoundError) as error:
        _stop_with(WarehouseUnavailable(str(error)))
        raise  # unreachable: st.stop() raises


@st.cache_data(ttl=600, show_spinner=False)
def _service_tiles(url: str, version: Version) -> service.MetricValues:
    return service.overall_tile_values(url)


def service_run(url: str) -> str | None:
    """The run the metrics service serves (its /health), or None after showing why it cannot be reached."""
    try:
        return str(service.health(url)["run_id"])
    except service.ServiceUnavailable as error:
        st.sidebar.error(str(error), icon=":material/cloud_off:")
        return None


def with_service_values(rows: pd.DataFrame, warehouse: Path) -> tuple[pd.DataFrame, str]:
    """segment_kpis' overall rows with the current values of service.SERVICE_TILE_METRICS replaced by the metrics
    service's answer (when one is configured); and a sentence saying where the current values come from."""
    url = service.service_url()
    if url is None:
        return rows, "fct_ltv_by_segment (no metrics service configured: $CLV_SERVICE_URL)"
    try:
        answer = _service_tiles(url, warehouse_version(warehouse))
    except service.ServiceUnavailable as error:
        st.error(f"{error} The tiles below show the marts' values instead.", icon=":material/cloud_off:")
        return rows, "fct_ltv_by_segment (the metrics service could not be reached)"
    current = rows["as_of_snapshot"] == "current"
    rows = rows.astype({name: "float64" for name in service.SERVICE_TILE_METRICS})
    for name in service.SERVICE_TILE_METRICS:
        rows.loc[current, name] = float(answer.frame[name].iloc[0])
    return rows, (f"the metrics service, run `{answer.run_id}` (`clv query --metrics "
                  f"{','.join(service.SERVICE_TILE_METRICS)}`); earlier snapshots: fct_ltv_by_segment")


def read_coverage(warehouse: Path) -> Coverage:
    try:
        if not warehouse.exists():
            raise WarehouseUnavailable(f"No published warehouse at {warehouse}: run `make build` (or `clv build`).")
        return _coverage(str(warehouse), warehouse_version(warehouse))
    except WarehouseUnavailable as error:
        _stop_with(error)
        raise


@st.cache_data(ttl=600, show_spinner=False)
def _coverage(warehouse: str, version: Version) -> Coverage:
    return Coverage.read(Path(warehouse))


def context() -> Context:
    """What the entry script resolved for this run; when it stopped early (no warehouse), say why again."""
    found = st.session_state.get(CONTEXT_KEY)
    if found is None:
        read_coverage(warehouse_path())  # stops with the reason when the warehouse cannot be read
        st.warning("Open the dashboard through its entry page (`clv dashboard`).")
        st.stop()
    return found


def chart(key: str, ctx: Context, *, caption: str = "") -> pd.DataFrame | None:
    """Draw one chart of the catalog, or its empty state. Returns the data drawn (None when empty)."""
    spec = charts.CHARTS[key]
    try:
        frame = _load_chart(key, str(ctx.warehouse), warehouse_version(ctx.warehouse), ctx.filters)
    except (WarehouseUnavailable, FileNotFoundError) as error:
        _stop_with(WarehouseUnavailable(str(error)))
        raise
    reason = spec.empty(frame, ctx.coverage)
    st.subheader(spec.title)
    if reason:
        empty_state(reason)
        return None
    drawn = spec.figure(frame, ctx.coverage.currency)
    description = drawn.title if isinstance(drawn.title, str) else ""
    drawn.title = alt.Undefined  # the page shows it as the subheader's caption instead
    if isinstance(drawn, (alt.Chart, alt.LayerChart)):
        # stretch to the column's width but keep the spec's plot height (Streamlit's default "fit" would squeeze
        # the plot to make room for long axis labels)
        drawn = drawn.properties(autosize=alt.AutoSizeParams(type="fit-x", contains="padding"))
    if description:
        st.caption(description)
    st.altair_chart(drawn, width="stretch")
    if caption:
        st.caption(caption)
    return frame


def empty_state(reason: str) -> None:
    st.info(reason, icon=":material/info:")


FILTERS = ("date range", "channel", "region", "loyalty")


def filter_scope(ctx: Context, applied: dict[str, str], not_applied: str = "") -> None:
    """Say which sidebar filters a page or section applies and to what, which it does not and why; name the
    filters that are set in the sidebar but have no effect here."""
    whole_span = (ctx.coverage.first_order_on, ctx.coverage.as_of_date)
    active = {"date range": (ctx.filters.date_from, ctx.filters.date_to) != whole_span,
              "channel": bool(ctx.filters.channels), "region": bool(ctx.filters.regions),
              "loyalty": ctx.filters.loyalty != "all"}
    text = ("Filters applied: " + "; ".join(f"**{name}** ({what})" for name, what in applied.items())
            if applied else "No sidebar filter applies here")
    ignored = [name for name in FILTERS if name not in applied]
    if ignored:
        text += f". Not applied: {', '.join(ignored)}" + (f" ({not_applied})" if not_applied else "")
    unused = [name for name in ignored if active[name]]
    if unused:
        text += f". Set in the sidebar but ignored here: {', '.join(unused)}"
    st.caption(f":material/filter_alt: {text}.")


# what a null CAC means, by its cac_status (the marts never publish a CAC of 0 for a channel without spend)
CAC_REASONS = {"no_spend_recorded": "no spend recorded", "no_spend_table": "no spend data (no marketing_spend table)",
               "no_new_customers": "nobody acquired", "not_a_channel_segment": "not a channel"}


def cac_shown(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows for display: CAC as text, the reason instead of an empty cell where it is null (the CSV download
    keeps the mart's values)."""
    if "cac" not in rows or "cac_status" not in rows:
        return rows
    text = [f"{cac:,.2f}" if pd.notna(cac) else CAC_REASONS.get(status, str(status))
            for cac, status in zip(rows["cac"], rows["cac_status"])]
    return rows.assign(cac=text)


def table(frame: pd.DataFrame, currency: str) -> None:
    """st.dataframe with dates as dates, rates as %, money to cents with the currency in its heading (money shown
    as text, such as a CAC replaced by its reason, keeps the heading)."""
    config: dict[str, Any] = {}
    for column, dtype in frame.dtypes.items():
        label = money_title(column, currency) if is_money(column) else None
        if pd.api.types.is_datetime64_any_dtype(dtype):
            config[column] = st.column_config.DateColumn(format="YYYY-MM-DD")
        elif is_rate(column) and pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            config[column] = st.column_config.NumberColumn(format="percent")
        elif pd.api.types.is_float_dtype(dtype) and frame[column].dropna().mod(1).eq(0).all() and not label:
            config[column] = st.column_config.NumberColumn(format="%d")  # counts read as HUGEINT arrive as floats
        elif pd.api.types.is_float_dtype(dtype) or (label and pd.api.types.is_numeric_dtype(dtype)):
            config[column] = st.column_config.NumberColumn(label, format="%.2f")
        elif label:
            config[column] = st.column_config.TextColumn(label)
    st.dataframe(frame, hide_index=True, column_config=config)


def download(frame: pd.DataFrame, label: str, file_name: str) -> None:
    st.download_button(label, frame.to_csv(index=False).encode(), file_name=file_name, mime="text/csv",
                       on_click="ignore", icon=":material/download:")


def footer(ctx: Context, title: str) -> None:
    """The last element of every page (the browser check waits for it: the page has rendered to the end)."""
    st.divider()
    st.caption(FOOTER.format(title=title, as_of=ctx.coverage.as_of_date))
