"""The next frame's read and flow run in a thread while a frame is decomposed (frames up to
PREFETCH_PIXELS): same files, same order, same errors as without it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from unshutter import threads
from unshutter.bench.speed import write_clip
from unshutter.errors import UnshutterError
from unshutter.node import Node, NodeParams, Prepared
from unshutter.pipeline import RunConfig, run
from unshutter.render import source


def _prefetch(monkeypatch: pytest.MonkeyPatch, on: bool) -> None:
    """Prefetch on (a two-thread budget, whatever this machine has) or off."""
    monkeypatch.setattr(threads, "configured", lambda: 2)
    monkeypatch.setattr(source, "PREFETCH_PIXELS", source.PREFETCH_PIXELS if on else 0)


def _files(folder: Path) -> dict[str, bytes]:
    """The images written (the manifest holds run times, so it differs from run to run)."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if not p.name.endswith(".json")}


def _run(clip: str, out: Path, params: NodeParams, frames: tuple[int, int]) -> dict[str, bytes]:
    run(RunConfig(clip, str(out), params, frames=frames), node=Node(params, device="cpu"))
    return _files(out)


@pytest.fixture()
def png_clip(tmp_path: Path) -> str:
    """6 frames of 8-bit PNG, 160x96, a textured pan (the speed bench's clip)."""
    return write_clip(tmp_path / "png", 160, 96, 6, "png")


# 180: frames wait for the next one, and a lookahead frame; 360: the frame before the range too
@pytest.mark.parametrize("shutter", [360.0, 180.0])
def test_outputs_are_byte_identical_with_and_without_prefetch(
    png_clip: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shutter: float
) -> None:
    got = {}
    for on in (False, True):
        _prefetch(monkeypatch, on)
        got[on] = _run(png_clip, tmp_path / f"o{on}", NodeParams(factor=3, shutter=shutter), (1002, 1004))
    assert len(got[True]) == 9
    assert got[True] == got[False]


def test_hdr_exr_outputs_are_byte_identical_with_and_without_prefetch(
    hdr_clip: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    got = {}
    for on in (False, True):
        _prefetch(monkeypatch, on)
        got[on] = _run(hdr_clip, tmp_path / f"o{on}", NodeParams(factor=2), (1001, 1006))
    assert len(got[True]) == 12 and got[True] == got[False]


def test_the_next_frame_is_prepared_in_a_thread_while_this_one_is_resampled(
    png_clip: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The prefetch starts once a frame's network has run: the network has the cores to itself."""
    _prefetch(monkeypatch, True)
    log: list[tuple[float, str, int, str]] = []
    lock = threading.Lock()

    class TracedNode(Node):
        def prepare(self, frame: int, *args: object, **kwargs: object) -> Prepared:
            with lock:
                log.append((time.monotonic(), "prepare", frame, threading.current_thread().name))
            return super().prepare(frame, *args, **kwargs)  # type: ignore[arg-type]

        def _decompose(self, *args: object, **kwargs: object) -> np.ndarray:
            out = super()._decompose(*args, **kwargs)  # type: ignore[arg-type]
            with lock:
                log.append((time.monotonic(), "network", len([e for e in log if e[1] == "network"]), ""))
            return out

        def finish(self, prep: Prepared, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
            time.sleep(0.3)  # a slow decomposition: the prefetch starts well inside it
            out = super().finish(prep, *args, **kwargs)  # type: ignore[arg-type]
            with lock:
                log.append((time.monotonic(), "finished", prep.frame, threading.current_thread().name))
            return out

    params = NodeParams(factor=2, follow=0.0)  # nothing waits for a neighbour
    run(RunConfig(png_clip, str(tmp_path / "o"), params, frames=(1002, 1004)), node=TracedNode(params, device="cpu"))
    log.sort()
    prepared = {f: (t, name) for t, what, f, name in log if what == "prepare"}
    finished = {f: t for t, what, f, _ in log if what == "finished"}
    assert sorted(prepared) == [1002, 1003, 1004]  # each frame prepared once
    assert not prepared[1002][1].startswith("unshutter-prefetch")  # the first one by the loop itself
    network = {1002 + i: t for t, what, i, _ in log if what == "network"}
    for f in (1003, 1004):  # the others in the prefetch thread, after the network of the frame before them
        assert prepared[f][1].startswith("unshutter-prefetch")  # and before that frame was done
        assert network[f - 1] < prepared[f][0] < finished[f - 1]
    assert [f for _, what, f, _ in log if what == "finished"] == [1002, 1003, 1004]
    assert not any(t.name.startswith("unshutter-prefetch") for t in threading.enumerate())  # ended with the run


def test_a_bad_next_frame_fails_the_run_as_without_prefetch(
    png_clip: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Frame 1005 is cut short: frame 1004 (its neighbour) fails, 1002 and 1003 are written whole (with
    nothing waiting for a neighbour's decomposition: follow 0)."""
    bad = Path(png_clip.replace("####", "1005"))
    bad.write_bytes(bad.read_bytes()[:200])
    outcome = {}
    for on in (False, True):
        _prefetch(monkeypatch, on)
        out = tmp_path / f"o{on}"
        with pytest.raises(UnshutterError) as err:
            run(RunConfig(png_clip, str(out), NodeParams(factor=2, follow=0.0), frames=(1002, 1004)))
        outcome[on] = (str(err.value), _files(out))
    assert "1005" in outcome[True][0]
    assert len(outcome[True][1]) == 4  # two frames' outputs, each whole
    assert outcome[True] == outcome[False]


def test_a_prefetched_frame_the_loop_skips_is_dropped(
    png_clip: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Resume: frame 1003's outputs are complete, so after 1002 the loop asks for 1004, not 1003."""
    _prefetch(monkeypatch, True)
    params = NodeParams(factor=2)
    out = tmp_path / "o"
    whole = _run(png_clip, out, params, (1002, 1004))
    names = sorted(whole)  # two outputs per frame, in frame order
    for name in names[:2] + names[4:]:  # frames 1002 and 1004
        (out / name).unlink()
    events: list[dict] = []
    run(RunConfig(png_clip, str(out), params, frames=(1002, 1004)), events.append, node=Node(params, device="cpu"))
    assert [e["skipped"] for e in events if e["event"] == "frame"] == [False, True, False]
    assert _files(out) == whole


@pytest.mark.parametrize(("size", "kept"), [((160, 96), True), ((2560, 1440), False)])
def test_frames_up_to_2k_keep_freed_buffers_for_the_next_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: tuple[int, int], kept: bool
) -> None:
    """A render of frames up to 2048x1080 keeps its freed buffers in the heap (no page faults to map the
    next frame's again); larger frames leave glibc as it is (their peak memory comes first)."""
    from unshutter import color, memory
    from unshutter.pipeline import open_clip

    calls: list[bool] = []
    monkeypatch.setattr(memory, "keep_freed_buffers", lambda: calls.append(True) or True)
    w, h = size
    clip = open_clip(write_clip(tmp_path / "c", w, h, 2, "png"))
    src = source.FrameSource(clip, color.ColorTransform("srgb"), node=None, frames=[1001, 1002], prefetch=False)  # type: ignore[arg-type]
    src.close()
    assert calls == ([True] if kept else [])
