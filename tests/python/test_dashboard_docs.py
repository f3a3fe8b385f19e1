"""`clv docs`: the docs site is generated read-only and its lineage shows the dashboard and report exposures."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from clvlayer.cli import main
from clvlayer.dashboard import data, report
from clvlayer.docs_site import docs_server

EXPOSURES = {"exposure.customer_value.clv_dashboard": "Customer value dashboard",
             "exposure.customer_value.clv_static_report": "Customer value static report"}


def _readers() -> dict[str, set[str]]:
    """The marts each exposure reads: the dashboard every loader's, the report its own loaders'."""
    return {"exposure.customer_value.clv_dashboard": data.marts_read(),
            "exposure.customer_value.clv_static_report": data.marts_read(sorted(report.report_datasets()))}


def test_manifest_has_the_exposures_with_the_marts_they_read(docs_site: Path) -> None:
    """`clv docs` (fixture docs_site: generated once, read-only on the warehouse) declares who reads what."""
    manifest = json.loads((docs_site / "manifest.json").read_text())
    assert set(manifest["exposures"]) == set(EXPOSURES)
    for unique_id, marts in _readers().items():
        nodes = manifest["exposures"][unique_id]["depends_on"]["nodes"]
        assert set(nodes) == {f"model.customer_value.{mart}" for mart in marts}
        for node in nodes:  # lineage: each mart lists the exposure as a child
            assert unique_id in manifest["child_map"][node]
    catalog = json.loads((docs_site / "catalog.json").read_text())
    assert "model.customer_value.fct_channel_economics" in catalog["nodes"]


def test_clv_docs_without_a_warehouse_fails_with_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["docs", "--no-serve", "--warehouse", str(tmp_path / "none.duckdb"),
                 "--target-path", str(tmp_path / "site")]) == 1
    assert "make build" in capsys.readouterr().err


def test_docs_site_shows_the_exposure_lineage_in_chromium(docs_site: Path, chrome, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    server = docs_server(docs_site, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    driver = chrome
    driver.set_window_size(1400, 900)
    try:
        for unique_id, label in EXPOSURES.items():
            driver.get(f"{base_url}/#!/exposure/{unique_id}")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                text = driver.find_element(By.TAG_NAME, "body").text
                if label in text and "fct_segment_comparison" in text:
                    break
                time.sleep(0.3)
            assert label in text and "Depends On" in text
            assert all(mart in text for mart in _readers()[unique_id]), unique_id
        driver.find_element(By.CSS_SELECTOR, 'a[title="View Lineage Graph"]').click()
        time.sleep(2)
        assert "Lineage Graph" in driver.find_element(By.TAG_NAME, "body").text
        driver.save_screenshot(str(tmp_path / "docs_lineage.png"))
    finally:
        server.shutdown()
        server.server_close()
    print(f"\nscreenshot: {tmp_path / 'docs_lineage.png'}")
