"""Media and a Resolve-shaped timeline for the OTIO round-trip tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hosts.media import mp4, png_sequence

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """shotA/shotA.1001-1010.png, shotC/shotC.1001-1006.png, shotB.mp4 (8 frames), all 64x48."""
    root = tmp_path_factory.mktemp("media")
    png_sequence(root / "shotA", "shotA", 1001, 10, seed=1)
    png_sequence(root / "shotC", "shotC", 1001, 6, seed=2)
    mp4(root / "shotB.mp4", 8, seed=3)
    return root


@pytest.fixture()
def resolve_otio(media: Path, tmp_path: Path) -> Path:
    """tests/timeline/data/resolve_export.otio with its @MEDIA@ placeholder pointing at ``media``."""
    text = (DATA / "resolve_export.otio").read_text(encoding="utf-8").replace("@MEDIA@", str(media))
    p = tmp_path / "reel3.otio"
    p.write_text(text, encoding="utf-8")
    return p
