"""`clv report --out DIR`: every chart as PNG (or its empty state), KPI tiles and action lists on one HTML page."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from clvlayer.cli import main
from clvlayer.dashboard import charts, data


def test_report_on_the_sample_writes_every_chart(sample_warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    assert main(["report", "--out", str(out), "--warehouse", str(sample_warehouse)]) == 0
    page = (out / "index.html").read_text()
    for key in charts.CHARTS:
        with Image.open(out / f"{key}.png") as image:
            assert image.width > 600 and image.height > 200, key
        assert f'src="{key}.png"' in page
    assert "empty" not in re.findall(r'class="(\w+)"', page)
    for text in ("Net revenue", "+33,639", "LTV formula A", "change vs 3 months earlier (2025-03-30)",
                 "LTV/CAC at 12 months by channel", 'email</div><div class="value">15.15'):
        assert text in page, text
    reorder = pd.read_csv(out / "reorder_list.csv")
    assert len(reorder) == len(data.reorder_list(sample_warehouse, data.Filters())) > 0
    assert len(pd.read_csv(out / "at_risk_high_value.csv")) > 0


def test_report_on_an_orders_only_warehouse_says_what_is_missing(orders_only_warehouse: Path,
                                                                 tmp_path: Path) -> None:
    out = tmp_path / "report"
    assert main(["report", "--out", str(out), "--warehouse", str(orders_only_warehouse)]) == 0
    page = (out / "index.html").read_text()
    assert "No marketing spend in the input: CAC, LTV/CAC and payback are unavailable" in page
    assert "No order items in the input" in page
    assert "no marketing spend in the input: CAC, LTV/CAC and payback unavailable" in page  # the overview's note
    for key in ("channel_ltv_to_cac", "cac_by_channel", "ltv_to_cac_heatmap", "payback_heatmap",
                "category_penetration"):
        assert not (out / f"{key}.png").exists()
    for key in ("retention_heatmap", "channel_cohort_curves", "value_tiers", "p_alive_vs_clv", "holdout"):
        assert (out / f"{key}.png").exists()


def test_report_without_a_warehouse_fails_with_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["report", "--out", str(tmp_path / "r"), "--warehouse", str(tmp_path / "none.duckdb")]) == 2
    assert "make build" in capsys.readouterr().err
