"""Every relative link in README.md and docs/ points at a file that exists, and each picture is small.

Broken links are how moved documentation rots; pictures over 200 KB bloat
every clone.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.docs.test_commands import ROOT, doc_files

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^\s*(```|~~~)")


def relative_links(path: Path) -> list[tuple[int, str]]:
    """(line, target) of the Markdown links to local files in ``path``, code blocks skipped."""
    out, in_code = [], False
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if FENCE.match(line):
            in_code = not in_code
            continue
        if in_code:
            continue
        for target in LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                continue  # a URL
            out.append((n, target))
    return out


LINKS = [(f, n, t) for f in doc_files() for n, t in relative_links(f) if not t.startswith("#")]
SAME_PAGE = [(f, n, t) for f in doc_files() for n, t in relative_links(f) if t.startswith("#")]


def test_links_are_found() -> None:
    assert len(LINKS) >= 20


@pytest.mark.parametrize(("page", "line", "target"), LINKS, ids=[f"{f.relative_to(ROOT)}:{n}:{t}" for f, n, t in LINKS])
def test_relative_link_resolves(page: Path, line: int, target: str) -> None:
    file_part = unquote(target.split("#", 1)[0])
    assert (page.parent / file_part).exists(), f"{page.relative_to(ROOT)}:{line}: {target} does not exist"


def anchors(page: Path) -> set[str]:
    """GitHub's anchors for the headings of a Markdown page (lower case, punctuation dropped, spaces to -)."""
    found: set[str] = set()
    in_code = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            in_code = not in_code
        elif not in_code and (m := re.match(r"^#{1,6}\s+(.*?)\s*#*$", line)):
            text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", m.group(1))
            found.add(re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-"))
    return found


ANCHORED = [(f, n, t) for f, n, t in LINKS if "#" in t and t.split("#", 1)[0].endswith(".md")]


@pytest.mark.parametrize(
    ("page", "line", "target"), ANCHORED, ids=[f"{f.relative_to(ROOT)}:{n}:{t}" for f, n, t in ANCHORED]
)
def test_anchor_exists(page: Path, line: int, target: str) -> None:
    file_part, anchor = target.split("#", 1)
    linked = page.parent / unquote(file_part)
    assert linked.exists(), f"{page.relative_to(ROOT)}:{line}: {target} does not exist"
    assert anchor in anchors(linked), f"{page.relative_to(ROOT)}:{line}: no heading #{anchor} in {file_part}"


@pytest.mark.parametrize(
    ("page", "line", "target"), SAME_PAGE, ids=[f"{f.relative_to(ROOT)}:{n}:{t}" for f, n, t in SAME_PAGE]
)
def test_same_page_anchor_exists(page: Path, line: int, target: str) -> None:
    assert target[1:] in anchors(page), f"{page.relative_to(ROOT)}:{line}: no heading {target}"


def test_pictures_are_small() -> None:
    pictures = sorted((ROOT / "docs").rglob("*.png"))
    assert pictures, "the settings guide's pictures are missing"
    big = [f"{p.relative_to(ROOT)}: {p.stat().st_size} bytes" for p in pictures if p.stat().st_size > 200_000]
    assert not big
