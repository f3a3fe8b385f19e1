"""The analysts' dashboard (Streamlit) and the static report on the published warehouse.

data.py reads the warehouse (all SQL); charts.py defines each chart once; app.py and views/ are the Streamlit app
(not pages/: Streamlit would take that folder for its older multipage mode); kpis.py builds the overview's tiles;
report.py writes the same charts as PNG + HTML; server.py starts the app; browser.py drives headless Chromium.
"""

from __future__ import annotations

from pathlib import Path

APP_DIR = Path(__file__).resolve().parent
APP_SCRIPT = APP_DIR / "app.py"

# (url path, title, script relative to app.py): the dashboard's pages, in navigation order
PAGES: tuple[tuple[str, str, str], ...] = (
    ("overview", "Overview", "views/overview.py"),
    ("cohorts", "Cohorts", "views/cohorts.py"),
    ("acquisition", "Acquisition", "views/acquisition.py"),
    ("segments", "Segments", "views/segments.py"),
    ("predictive", "Predictive CLV", "views/predictive.py"),
    ("backtest", "Backtest", "views/backtest.py"),
    ("actions", "Actions", "views/actions.py"),
)

# the last line of every page; the browser check waits for it (the page has rendered to its end)
FOOTER = "Customer value dashboard · {title} · warehouse as of {as_of}, read-only"


def footer_prefix(title: str) -> str:
    return FOOTER.split("{as_of}")[0].format(title=title)
