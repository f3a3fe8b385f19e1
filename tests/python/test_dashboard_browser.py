"""End to end in a real headless Chromium: `clv dashboard` serves every page and each renders without an error.

Chromium and chromedriver are Debian's packages; the fixture installs them (apt-get, as root) when missing and
skips with the reason only where they cannot be installed. Screenshots land in the test's tmp folder (printed);
`clv dashboard --screenshots docs/images` refreshes the README pictures with the same code.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PIL import Image

from clvlayer.dashboard import PAGES, browser, footer_prefix, server


@pytest.fixture(scope="session")
def chromium() -> browser.Browser:
    found, reason = browser.ensure_chromium()
    if found is None:
        print(f"\nbrowser check skipped: {reason}")
        pytest.skip(reason)
    return found


def _is_mostly_blank(path: Path) -> bool:
    with Image.open(path) as image:
        colours = image.convert("L").resize((200, 200)).getcolors(maxcolors=256 * 256) or []
    return len(colours) < 20


def test_clv_dashboard_serves_every_page_in_chromium(chromium: browser.Browser, sample_warehouse: Path,
                                                     tmp_path: Path) -> None:
    port = server.free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "clvlayer.cli", "dashboard", "--warehouse", str(sample_warehouse),
               "--port", str(port)]
    with server.serving(command, base_url, log=tmp_path / "dashboard.log"):
        shots = browser.capture_pages(chromium, base_url, [(url, title) for url, title, _ in PAGES],
                                      tmp_path / "screenshots", ready_text=footer_prefix)
    print(f"\nscreenshots: {tmp_path / 'screenshots'}")
    assert [shot.name for shot in shots] == [f"{url}.png" for url, _, _ in PAGES]
    for shot in shots:
        with Image.open(shot) as image:
            assert image.width == 1400 and image.height > 900, shot
        assert not _is_mostly_blank(shot), f"{shot} looks empty"


def test_a_page_with_an_error_fails_the_check(chromium: browser.Browser, tmp_path: Path) -> None:
    """The check can fail: a page that raises shows Streamlit's exception element, which fails the render."""
    port = server.free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "streamlit", "run", str(tmp_path / "broken.py"), "--server.port", str(port),
               "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    (tmp_path / "broken.py").write_text("import streamlit as st\nst.title('Broken')\nraise RuntimeError('boom')\n")
    with server.serving(command, base_url, log=tmp_path / "broken.log"):
        with pytest.raises(browser.PageRenderError, match="boom|error"):
            browser.capture_pages(chromium, base_url, [("", "Broken")], tmp_path, timeout=30)
