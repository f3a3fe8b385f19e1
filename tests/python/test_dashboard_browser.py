"""End to end in a real headless Chromium: `clv dashboard` serves every page and each renders without an error.

Chromium and chromedriver are Debian's packages; the `chromium` fixture (conftest.py) installs them (apt-get, as
root) when missing and skips with the reason only where they cannot be installed. One dashboard process and one
browser session serve both checks. Screenshots land in the test's tmp folder (printed);
`clv dashboard --screenshots docs/images` refreshes the README pictures with the same code.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from clvlayer.dashboard import PAGES, browser, footer_prefix, server


@pytest.fixture(scope="session")
def dashboard(sample_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`clv dashboard` on the sample warehouse, as a user starts it; yields its base URL."""
    port = server.free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "clvlayer.cli", "dashboard", "--warehouse", str(sample_warehouse),
               "--port", str(port)]
    with server.serving(command, base_url, log=tmp_path_factory.mktemp("dashboard") / "dashboard.log"):
        yield base_url


def _is_mostly_blank(path: Path) -> bool:
    with Image.open(path) as image:
        colours = image.convert("L").resize((200, 200)).getcolors(maxcolors=256 * 256) or []
    return len(colours) < 20


def test_clv_dashboard_serves_every_page_in_chromium(chrome, dashboard: str, tmp_path: Path) -> None:
    shots = browser.capture_with(chrome, dashboard, [(url, title) for url, title, _ in PAGES],
                                 tmp_path / "screenshots", ready_text=footer_prefix)
    print(f"\nscreenshots: {tmp_path / 'screenshots'}")
    assert [shot.name for shot in shots] == [f"{url}.png" for url, _, _ in PAGES]
    for shot in shots:
        with Image.open(shot) as image:
            assert image.width == 1400 and image.height > 900, shot
        assert not _is_mostly_blank(shot), f"{shot} looks empty"


def test_a_page_with_an_error_fails_the_check(chrome, dashboard: str) -> None:
    """The check can fail: an unknown page makes the running app show its "Page not found" dialog, an error
    element, and the render fails (exceptions and st.error are the other error elements it looks for)."""
    chrome.set_window_size(1400, 1000)
    with pytest.raises(browser.PageRenderError, match="shows an error"):
        browser.render_page(chrome, f"{dashboard}/no-such-page", "Overview", timeout=30,
                            ready_text=footer_prefix("Overview"))
