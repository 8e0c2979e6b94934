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
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # a URL or an anchor on the same page
            out.append((n, target))
    return out


LINKS = [(f, n, t) for f in doc_files() for n, t in relative_links(f)]


def test_links_are_found() -> None:
    assert len(LINKS) >= 20


@pytest.mark.parametrize(("page", "line", "target"), LINKS,
                         ids=[f"{f.relative_to(ROOT)}:{n}:{t}" for f, n, t in LINKS])
def test_relative_link_resolves(page: Path, line: int, target: str) -> None:
    file_part = unquote(target.split("#", 1)[0])
    assert (page.parent / file_part).exists(), f"{page.relative_to(ROOT)}:{line}: {target} does not exist"


def test_pictures_are_small() -> None:
    pictures = sorted((ROOT / "docs").rglob("*.png"))
    assert pictures, "the settings guide's pictures are missing"
    big = [f"{p.relative_to(ROOT)}: {p.stat().st_size} bytes" for p in pictures if p.stat().st_size > 200_000]
    assert not big
