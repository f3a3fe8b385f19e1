"""The documentation holds together: every relative link of README.md, DECISIONLOG.md and the docs pages points to a
file that exists and, with `#anchor`, to a heading of that file (GitHub's anchor rules); docs/index.md lists every
docs page; README.md stays a five-minute read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from clvlayer.project import PROJECT_ROOT

DOCS = PROJECT_ROOT / "docs"
PAGES = [PROJECT_ROOT / "README.md", PROJECT_ROOT / "DECISIONLOG.md", *sorted(DOCS.glob("*.md")),
         *sorted((DOCS / "definitions").glob("*.md"))]
# Generated pages the index must link (they are checked like any page).
GENERATED = {DOCS / "settings.md", DOCS / "metrics.md"}

LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"""\b(?:href|src)=["']([^"']+)["']""")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
EXPLICIT_ANCHOR = re.compile(r"""<a\s+(?:id|name)=["']([^"']+)["']""")


def prose_lines(text: str, blank_code: bool = True) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks, with inline code spans blanked unless told not to."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, re.sub(r"`[^`]*`", "code", line) if blank_code else line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: its text without markup, lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    text = page.read_text()
    for _, line in prose_lines(text, blank_code=False):
        match = HEADING.match(line)
        if match:
            base = slug(match.group(2))
            found.add(f"{base}-{seen[base]}" if base in seen else base)
            seen[base] = seen.get(base, 0) + 1
    return found | set(EXPLICIT_ANCHOR.findall(text))


def links(page: Path) -> list[tuple[int, str]]:
    return [(number, target) for number, line in prose_lines(page.read_text())
            for target in LINK.findall(line) + HTML_LINK.findall(line)]


def broken(page: Path, target: str) -> str | None:
    if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
        return None
    path, _, anchor = target.partition("#")
    resolved = (page.parent / path).resolve() if path else page
    if not resolved.exists():
        return f"{path} does not exist"
    if anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
        return f"{resolved.name} has no heading with anchor #{anchor}"
    return None


def test_every_page_has_links_checked() -> None:
    names = {page.relative_to(PROJECT_ROOT).as_posix() for page in PAGES}
    assert {"README.md", "DECISIONLOG.md", "docs/index.md", "docs/metrics.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(PROJECT_ROOT).as_posix())
def test_relative_links_resolve(page: Path) -> None:
    problems = [f"{page.relative_to(PROJECT_ROOT)}:{number}: ({target}) {reason}"
                for number, target in links(page) if (reason := broken(page, target))]
    assert problems == []


def test_index_lists_every_docs_page() -> None:
    index = DOCS / "index.md"
    linked = {(index.parent / target.partition("#")[0]).resolve() for _, target in links(index)}
    pages = {page.resolve() for page in PAGES if page.is_relative_to(DOCS) and page != index}
    assert sorted(str(page.relative_to(PROJECT_ROOT)) for page in pages - linked) == []
    assert {PROJECT_ROOT / "README.md", PROJECT_ROOT / "DECISIONLOG.md", *GENERATED} <= linked


def test_readme_is_a_five_minute_read() -> None:
    lines = (PROJECT_ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 150
    assert [number for number, line in enumerate(lines, start=1) if len(line) > 120] == []


def test_link_checker_catches_breakage(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# A title, with `code`\n\n## Twice\n\n## Twice\n")
    page = tmp_path / "b.md"
    page.write_text("x")
    assert broken(page, "a.md#a-title-with-code") is None
    assert broken(page, "a.md#twice-1") is None
    assert broken(page, "a.md#missing") == "a.md has no heading with anchor #missing"
    assert broken(page, "gone.md") == "gone.md does not exist"
    assert broken(page, "https://example.com/x") is None
