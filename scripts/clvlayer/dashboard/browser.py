"""Headless Chromium for the end-to-end check and the README screenshots.

`ensure_chromium()` finds Debian's `chromium` + `chromium-driver` and installs them with apt-get when they are
missing and the process is root (the project's own test setup: nothing is installed by hand). `capture_pages()`
loads each dashboard page in a real browser, waits until Streamlit has rendered it, fails on any exception or
error element and saves a full-height screenshot per page.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CHROMIUM_PACKAGES = ("chromium", "chromium-driver")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--hide-scrollbars", "--force-device-scale-factor=1")
# an exception, st.error, or a modal (Streamlit's "Page not found" dialog) is a failed render
ERROR_SELECTORS = ('[data-testid="stException"]', '[data-testid="stAlertContentError"]', '[role="dialog"]')


@dataclass(frozen=True)
class Browser:
    chromium: Path
    chromedriver: Path


def find_chromium() -> Browser | None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return Browser(Path(chromium), Path(driver)) if chromium and driver else None


def ensure_chromium(timeout: float = 900) -> tuple[Browser | None, str]:
    """Return (browser, "") or (None, why it is unavailable). Installs the Debian packages when root."""
    found = find_chromium()
    if found:
        return found, ""
    if shutil.which("apt-get") is None:
        return None, "chromium + chromedriver are not installed and apt-get is not available to install them"
    if os.geteuid() != 0:
        return None, "chromium + chromedriver are not installed; installing them needs root (apt-get)"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    steps = (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", *CHROMIUM_PACKAGES])
    for step in steps:
        try:
            done = subprocess.run(step, env=env, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return None, f"`{' '.join(step)}` did not finish in {timeout:.0f}s"
        if done.returncode != 0:
            return None, f"`{' '.join(step)}` failed: {(done.stderr or done.stdout).strip()[-500:]}"
    found = find_chromium()
    return (found, "") if found else (None, "apt-get installed chromium but chromium/chromedriver are not on PATH")


@contextmanager
def chrome_driver(browser: Browser, width: int = 1400, height: int = 1000) -> Iterator[object]:
    """A Selenium Chrome session on Debian's chromium, with a fresh profile, removed afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = Path(tempfile.mkdtemp(prefix="clv-chromium-"))
    options = webdriver.ChromeOptions()
    options.binary_location = str(browser.chromium)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(browser.chromedriver)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class PageRenderError(AssertionError):
    """A page did not render, or rendered an exception / error element."""


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise PageRenderError(f"timed out after {timeout:.0f}s waiting for {what}")


def render_page(driver, url: str, title: str, timeout: float = 60, ready_text: str | None = None) -> None:
    """Open `url`; wait for the page title, for `ready_text` (the page's last element) when given, for the script
    run to finish, for every chart to be drawn and for the page height to settle. Fail on an error element."""
    from selenium.webdriver.common.by import By

    driver.get(url)

    def has_title() -> bool:
        return any(title == h.text.strip() for h in driver.find_elements(By.CSS_SELECTOR, "h1"))

    def has_ready_text() -> bool:
        return ready_text is None or ready_text in driver.find_element(By.TAG_NAME, "body").text

    def finished() -> bool:
        busy = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"], [data-testid="stSkeleton"], '
                                    '[data-testid="stAppSkeleton"]')
        return not busy

    def charts_drawn() -> bool:
        charts = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stVegaLiteChart"]')
        return all(chart.find_elements(By.CSS_SELECTOR, "canvas, svg") for chart in charts)

    heights: list[int] = []

    def settled() -> bool:
        heights.append(int(driver.execute_script(_HEIGHT_JS)))
        return len(heights) >= 3 and heights[-1] == heights[-2] == heights[-3]

    def errors() -> list[str]:
        return [e.text.strip()[:300] or selector for selector in ERROR_SELECTORS
                for e in driver.find_elements(By.CSS_SELECTOR, selector)]

    for check, what in ((has_title, f"the page title {title!r}"), (has_ready_text, f"the text {ready_text!r}"),
                        (finished, "the script run to finish"), (charts_drawn, "the charts to draw"),
                        (settled, "the page height to settle")):
        if errors():
            break
        _wait(check, timeout, f"{what} at {url}")
    found = errors()
    if found:
        raise PageRenderError(f"{url} shows an error: {found}")


_HEIGHT_JS = ("const m = document.querySelector('[data-testid=\"stMain\"]');"
              "return Math.max(m ? m.scrollHeight : 0, document.body.scrollHeight);")


def screenshot(driver, path: Path, max_height: int = 7000) -> Path:
    """Save the whole page: grow the window to the height of Streamlit's scrolling main area first."""
    height = driver.execute_script(_HEIGHT_JS)
    width = driver.get_window_size()["width"]
    driver.set_window_size(width, min(int(height) + 120, max_height))
    time.sleep(0.5)
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
    return path


def capture_with(driver, base_url: str, pages: Sequence[tuple[str, str]], out_dir: Path, timeout: float = 60,
                 ready_text: Callable[[str], str] | None = None) -> list[Path]:
    """Render each (url_path, title) page of the app at base_url in an open browser session and save
    `<url_path>.png` in out_dir. The first page is the app's default page, which Streamlit serves at the root URL."""
    shots: list[Path] = []
    for index, (url_path, title) in enumerate(pages):
        driver.set_window_size(1400, 1000)
        render_page(driver, f"{base_url.rstrip('/')}/{url_path if index else ''}", title, timeout,
                    ready_text(title) if ready_text else None)
        shots.append(screenshot(driver, out_dir / f"{url_path}.png"))
    return shots


def capture_pages(browser: Browser, base_url: str, pages: Sequence[tuple[str, str]], out_dir: Path,
                  timeout: float = 60, ready_text: Callable[[str], str] | None = None) -> list[Path]:
    """capture_with() in a browser session of its own."""
    with chrome_driver(browser) as driver:
        return capture_with(driver, base_url, pages, out_dir, timeout, ready_text)
