"""A frame's files are written while the next frame is decomposed (frames up to OVERLAP_PIXELS, and
larger ones whose files hold 8 or 16 bits), still in order, one frame at a time, and a failed write
still fails the run."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from unshutter.errors import OutputError, UnshutterError
from unshutter.node import FrameResult, Node, NodeParams, Prepared
from unshutter.pipeline import RunConfig, run
from unshutter.render import sink, source


def _traced_run(
    clip: str,
    out: Path,
    monkeypatch: pytest.MonkeyPatch,
    fail_at: int | None = None,
    frames: tuple[int, int] = (1002, 1004),
    nan_at: tuple[int, int] | None = None,
) -> tuple[list[tuple[float, str, object]], list[dict]]:
    """Run with slow writes; returns the time-ordered log of (time, what, which) and the events."""
    log: list[tuple[float, str, object]] = []
    lock = threading.Lock()
    real = sink.write_image
    calls = []

    def slow_write(path: Path, *args: object, **kwargs: object) -> None:
        with lock:
            calls.append(path.name)
            n = len(calls)
        if fail_at is not None and n == fail_at:
            raise OutputError(f"{path}: disk full")
        time.sleep(0.15)
        real(path, *args, **kwargs)  # type: ignore[arg-type]
        with lock:
            log.append((time.monotonic(), "written", path.name))
            log.append((time.monotonic(), "thread", threading.current_thread().name))

    class TracedNode(Node):
        def prepare(self, frame: int, *args: object, **kwargs: object) -> Prepared:  # a frame's processing starts
            with lock:
                log.append((time.monotonic(), "decompose", frame))
            return super().prepare(frame, *args, **kwargs)  # type: ignore[arg-type]

        def finish(self, prep: Prepared, *args: object, **kwargs: object) -> FrameResult:
            res = super().finish(prep, *args, **kwargs)  # type: ignore[arg-type]
            if nan_at is not None and prep.frame == nan_at[0]:
                res.subframes[nan_at[1], 3, 5, 1] = np.nan
            return res

    monkeypatch.setattr(sink, "write_image", slow_write)
    monkeypatch.setattr(source, "PREFETCH_PIXELS", 0)  # the loop itself goes on to the next frame (no prefetch)
    monkeypatch.setattr(sink, "write_threads", lambda: 2)
    events: list[dict] = []
    params = NodeParams(factor=3, follow=0.0)  # no frame waits for the next one
    cfg = RunConfig(clip, str(out), params, frames=frames)
    try:
        run(cfg, events.append, node=TracedNode(params, device="cpu"))
    finally:
        log.sort(key=lambda e: e[0])
    return log, events


def test_writes_of_a_frame_overlap_the_next_decomposition(
    fresh_hdr_clip: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log, events = _traced_run(fresh_hdr_clip, tmp_path / "o", monkeypatch)
    t_dec = {f: t for t, what, f in log if what == "decompose"}
    t_written = [t for t, what, _ in log if what == "written"]
    # frame 1003 started decomposing before frame 1002's three files were all written
    assert t_dec[1003] < sorted(t_written)[2]
    # frames are reported in order, each once all its files exist, and the run wrote everything
    frames = [e for e in events if e["event"] == "frame"]
    assert [e["frame"] for e in frames] == [1002, 1003, 1004]
    done = next(e for e in events if e["event"] == "done")
    assert done["written"] == 9 and len(list((tmp_path / "o").glob("*.exr"))) == 9


def test_one_frame_is_written_at_a_time_in_order(
    fresh_hdr_clip: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log, _ = _traced_run(fresh_hdr_clip, tmp_path / "o", monkeypatch)
    names = [str(name) for _, what, name in log if what == "written"]
    numbers = [int(n.split(".")[1]) for n in names]
    # outputs of source frame f are a + (f - a) * 3 + k (a = 1001): each frame's three files before the next's
    frames = [(n - 1001) // 3 for n in numbers]
    assert frames == sorted(frames) and len(frames) == 9


def test_large_frames_are_written_before_the_next_decomposition(
    fresh_hdr_clip: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sink, "OVERLAP_PIXELS", 96 * 64 - 1)  # the clip is 96x64: "too large" now
    log, events = _traced_run(fresh_hdr_clip, tmp_path / "o", monkeypatch)
    t_dec = {f: t for t, what, f in log if what == "decompose"}
    t_written = sorted(t for t, what, _ in log if what == "written")
    assert t_dec[1003] > t_written[2] and t_dec[1004] > t_written[5]
    assert [e["frame"] for e in events if e["event"] == "frame"] == [1002, 1003, 1004]
    # and by one writer: one frame-sized encoding buffer at a time
    assert {name for _, what, name in log if what == "thread"} == {"unshutter-write_0"}


def test_frames_behind_the_loop_leave_the_cache(fresh_hdr_clip: str) -> None:
    from unshutter import color
    from unshutter.io.clip import open_clip
    from unshutter.render.source import FrameCache

    clip = open_clip(fresh_hdr_clip)
    cache = FrameCache(clip, color.ColorTransform(color.default_colorspace(True)))
    for f in (1001, 1002, 1003):
        cache.get(f)
    cache.forget_before(1002)
    assert list(cache._data) == [1002, 1003]


def test_a_failed_write_of_the_last_frame_fails_the_run_without_a_manifest(
    fresh_hdr_clip: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "o"
    with pytest.raises(OutputError, match="disk full"):
        _traced_run(fresh_hdr_clip, out, monkeypatch, fail_at=5, frames=(1002, 1003))
    assert not list(out.glob("*.json")) and not list(out.glob("*.tmp*"))
    assert not [t for t in threading.enumerate() if t.name.startswith("unshutter-write")]


@pytest.fixture()
def png_clip(tmp_path: Path) -> str:
    """6 frames, 96x64 8-bit PNG from 1001 (a row of 288 values: quantized exactly, see image_file)."""
    from unshutter.bench.speed import write_clip

    return write_clip(tmp_path / "png", 96, 64, 6, "png")


def test_large_frames_whose_files_hold_8_bits_overlap_in_the_files_own_type(
    png_clip: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Frames above OVERLAP_PIXELS (as 4K) wait for their writes in 8 bits, not float32: the next frame is
    decomposed meanwhile, frames still finish in order, one at a time, by one writer, and the files are
    the ones the float path writes before the loop goes on, byte for byte."""
    monkeypatch.setattr(sink, "OVERLAP_PIXELS", 96 * 64 - 1)  # the clip is 96x64: "too large" now
    log, events = _traced_run(png_clip, tmp_path / "q", monkeypatch)
    t_dec = {f: t for t, what, f in log if what == "decompose"}
    names = [str(name) for _, what, name in log if what == "written"]
    assert t_dec[1003] < sorted(t for t, what, _ in log if what == "written")[2]
    frames = [(int(n.split(".")[1]) - 1001) // 3 for n in names]
    assert frames == sorted(frames) and len(frames) == 9
    assert [e["frame"] for e in events if e["event"] == "frame"] == [1002, 1003, 1004]
    assert {name for _, what, name in log if what == "thread"} == {"unshutter-write_0"}

    monkeypatch.setattr(sink, "quantized_type", lambda *args: None)  # float32 sub-frames: written before going on
    log, _ = _traced_run(png_clip, tmp_path / "f", monkeypatch)
    t_dec = {f: t for t, what, f in log if what == "decompose"}
    assert t_dec[1003] > sorted(t for t, what, _ in log if what == "written")[2]
    quantized, written = sorted((tmp_path / "q").glob("*.png")), sorted((tmp_path / "f").glob("*.png"))
    assert [p.name for p in quantized] == [p.name for p in written] and len(written) == 9
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(quantized, written))


def test_a_large_frame_that_cannot_be_converted_fails_before_the_next_decomposition(
    png_clip: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A NaN in a large frame's sub-frame fails the run as before: its other files are written (whole),
    the failing one is not, and the next frame is not decomposed."""
    monkeypatch.setattr(sink, "OVERLAP_PIXELS", 0)
    out = tmp_path / "o"
    with pytest.raises(UnshutterError, match="NaN values"):
        _traced_run(png_clip, out, monkeypatch, nan_at=(1003, 1))
    assert sorted(p.name for p in out.glob("*.png")) == [f"bench.{n}.png" for n in (1004, 1005, 1006, 1007, 1009)]
    assert not list(out.glob("*.tmp*")) and not list(out.glob("*.json"))


def test_a_failed_write_of_a_large_frame_fails_the_run_without_a_manifest(
    png_clip: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sink, "OVERLAP_PIXELS", 0)
    out = tmp_path / "o"
    with pytest.raises(OutputError, match="disk full"):
        _traced_run(png_clip, out, monkeypatch, fail_at=5, frames=(1002, 1003))
    assert not list(out.glob("*.json")) and not list(out.glob("*.tmp*"))
    assert not [t for t in threading.enumerate() if t.name.startswith("unshutter-write")]
