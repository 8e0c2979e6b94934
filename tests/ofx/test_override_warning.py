"""Override ranges that miss the host's source clip: the worker says so, the plugin shows a persistent warning."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tests.ofx.conftest import FIRST, FRAMES, read_raw
from tests.ofx.test_worker import PARAMS, Segment, Worker, frames, request, worker  # noqa: F401  (fixtures)

N = 3
BOX = "[[0, 0], [40, 0], [40, 30], [0, 30]]"


def _override(path: Path, span: str) -> Path:
    path.write_text(f"regions:\n  - {{name: car, motion: [8, 0], frames: {span}, polygon: {BOX}}}\n")
    return path


def test_worker_reply_warns_when_ranges_miss_the_clip(worker: Worker, frames: np.ndarray, tmp_path: Path) -> None:  # noqa: F811
    ov = _override(tmp_path / "late.yaml", "4003-4010")
    seg = Segment(f"unshutter-test-{os.getpid()}-w", [frames[0], frames[1], frames[2]])
    try:
        params = {**PARAMS, "overrides": str(ov)}
        got = worker.ask(request(seg, 0, params=params, clip=[1001, 1003]))
        assert got["ok"] and str(ov) in got["warning"] and "region car 4003-4010" in got["warning"], got
        assert "source frames 1001-1003" in got["warning"]
        assert "warning" not in worker.ask(request(seg, 1, params=params))  # an older plugin sends no clip
        assert "warning" not in worker.ask(request(seg, 1, params=params, clip=[1001, 4003]))  # overlaps
        bad = worker.ask(request(seg, 1, params=params, clip=[1003, 1001]))
        assert not bad["ok"] and bad["error"].startswith("clip [1003, 1001]: expected [first, last]"), bad
    finally:
        seg.close()


def test_plugin_shows_a_persistent_warning_once(host, clip, tmp_path: Path) -> None:
    """In the harness host: the render works, the node carries the warning naming file and range; later frames
    do not repeat it; a fixed file clears it."""
    ov = _override(tmp_path / "shot.overrides.yaml", "4003-4010")
    h = host(UNSHUTTER_KEEP_PYTHONPATH="1")  # the worker runs this tree's code
    h.start("general", clip, factor=N, overrideFile=str(ov))
    status, facts = h.render(FIRST + 3, tmp_path / "a.raw")
    assert status == 0, facts
    said = [x for x in facts if x.startswith("persistent_message")]
    assert len(said) == 1 and said[0].startswith("persistent_message OfxMessageWarning unshutter.overrides"), facts
    assert str(ov) in said[0] and "region car 4003-4010" in said[0]
    assert f"source frames {FIRST}-{FIRST + FRAMES - 1}" in said[0]
    assert read_raw(tmp_path / "a.raw")[..., :3].max() > 0.05  # a warning, not a failure
    status, facts = h.render(FIRST + 4, tmp_path / "b.raw")
    assert status == 0 and not [x for x in facts if x.startswith("persistent_message")], facts
    _override(ov, f"{FIRST}-{FIRST + 1}")  # fixed in place: source frame numbers
    status, facts = h.render(FIRST + 5, tmp_path / "c.raw")
    assert status == 0 and "persistent_message_cleared" in facts, facts
    assert not [x for x in facts if x.startswith("persistent_message OfxMessageWarning")]


def test_plugin_with_message_suite_v1_says_it_once(host, clip, tmp_path: Path) -> None:
    """A host without persistent messages gets one plain warning message, not one per frame."""
    ov = _override(tmp_path / "shot.overrides.yaml", "4003-4010")
    h = host(UNSHUTTER_KEEP_PYTHONPATH="1")
    h.ok("suites message=1 progress=2")
    h.start("general", clip, factor=N, overrideFile=str(ov))
    said = []
    for t in (FIRST + 3, FIRST + 4, FIRST + 6):
        status, facts = h.render(t, tmp_path / f"{t}.raw")
        assert status == 0, facts
        said += [x for x in facts if "OfxMessageWarning" in x]
    assert len(said) == 1 and said[0].startswith("message OfxMessageWarning unshutter.overrides"), said
    assert str(ov) in said[0] and "region car 4003-4010" in said[0]
