"""Streamlit entry point: page config, the sidebar filters every page shares, navigation.

Run it with `clv dashboard` (which sets DUCKDB_PATH to the published warehouse), not by hand.
"""

from __future__ import annotations

from datetime import date

import streamlit as st

from clvlayer.dashboard import APP_DIR, PAGES, ui
from clvlayer.dashboard.data import LOYALTY_CHOICES, Coverage, Filters
from clvlayer.dashboard.service import service_url
from clvlayer.project import PROJECT_ROOT

st.set_page_config(page_title="Customer value", page_icon=":material/insights:", layout="wide")

LOYALTY_LABELS = {"all": "all customers", "members": "loyalty members", "non_members": "non-members"}


def _date_range(coverage: Coverage) -> tuple[date | None, date | None]:
    first, last = coverage.first_order_on, coverage.as_of_date
    if first is None or last is None:
        st.sidebar.caption("No completed order in the warehouse: no date range to choose.")
        return None, None
    picked = st.sidebar.date_input("Date range", value=(first, last), min_value=first, max_value=last,
                                   key="date_range", help="Cohort months, order months and launches shown; "
                                   "its end is the period the overview compares with the one before.")
    picked = tuple(picked) if isinstance(picked, (tuple, list)) else (picked,)
    start = picked[0] if picked else first
    end = picked[1] if len(picked) > 1 else last  # while the second date is being picked
    return start, end


def _options(warehouse, dimension: str) -> list[str]:
    frame = ui.load("filter_options", warehouse)
    return frame.loc[frame["dimension"] == dimension, "value"].tolist()


def sidebar(warehouse, coverage: Coverage) -> Filters:
    st.sidebar.header("Filters")
    start, end = _date_range(coverage)
    channels = st.sidebar.multiselect(
        "Acquisition channel", _options(warehouse, "channel"), key="channels", placeholder="all channels",
        disabled=not coverage.has_channels,
        help=None if coverage.has_channels else "No acquisition channel in the input (customers table).")
    regions = st.sidebar.multiselect(
        "Region", _options(warehouse, "region"), key="regions", placeholder="all regions",
        disabled=not coverage.has_regions,
        help=None if coverage.has_regions else "No region in the input (customers table).")
    loyalty = st.sidebar.radio(
        "Loyalty", LOYALTY_CHOICES, format_func=LOYALTY_LABELS.get, key="loyalty",
        disabled=not coverage.has_loyalty_members,
        help=None if coverage.has_loyalty_members else "No loyalty members in the input.")
    st.sidebar.divider()
    shown = warehouse.relative_to(PROJECT_ROOT) if warehouse.is_relative_to(PROJECT_ROOT) else warehouse
    st.sidebar.caption(f"Warehouse: `{shown}`  \nAs of {coverage.as_of_date or '–'} (read-only)")
    url = service_url()
    if url:
        run_id = ui.service_run(url)
        if run_id:
            st.sidebar.caption(f"Metrics service: `{url}`  \nServing run `{run_id}`")
    return Filters(date_from=start, date_to=end, channels=tuple(channels), regions=tuple(regions),
                   loyalty=loyalty or "all")


def main() -> None:
    pages = [st.Page(str(APP_DIR / script), title=title, url_path=url_path, default=index == 0)
             for index, (url_path, title, script) in enumerate(PAGES)]
    navigation = st.navigation(pages)
    st.session_state.pop(ui.CONTEXT_KEY, None)  # never let a page run on the previous run's context
    warehouse = ui.warehouse_path()
    coverage = ui.read_coverage(warehouse)
    filters = sidebar(warehouse, coverage)
    st.session_state[ui.CONTEXT_KEY] = ui.Context(warehouse=warehouse, coverage=coverage, filters=filters)
    navigation.run()


main()
