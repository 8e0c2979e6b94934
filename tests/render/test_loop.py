"""The render loop holds no frame's sub-frames longer than the sink needs them (peak memory at 4K)."""

from __future__ import annotations

import weakref
from pathlib import Path

import pytest

from unshutter.node import FrameResult, Node, NodeParams, Prepared
from unshutter.pipeline import RunConfig, run
from unshutter.render import sink


@pytest.mark.parametrize(
    "follow, alive",
    [
        (0.0, [0, 0, 0]),  # nothing waits: each frame is written before the next is decomposed
        # the frames before, in and after the range; only the one waiting for the next is alive
        (1.0, [0, 0, 1, 1, 1]),
    ],
)
def test_a_written_frame_is_freed_before_the_next_one_is_decomposed(
    hdr_clip: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, follow: float, alive: list[int]
) -> None:
    """Frames the sink writes before the loop goes on (above OVERLAP_PIXELS, as 4K): once written,
    nothing keeps their sub-frames while the next frame is decomposed; at 360 degrees (outputs blend
    toward the neighbours) only the one frame that waits for the next is alive."""
    monkeypatch.setattr(sink, "OVERLAP_PIXELS", 0)
    results: list[weakref.ref[FrameResult]] = []
    alive_at_finish: list[int] = []

    class TracedNode(Node):
        def finish(self, prep: Prepared, *args: object, **kwargs: object) -> FrameResult:
            alive_at_finish.append(sum(r() is not None for r in results))
            res = super().finish(prep, *args, **kwargs)  # type: ignore[arg-type]
            results.append(weakref.ref(res))
            return res

    params = NodeParams(factor=2, follow=follow)
    run(RunConfig(hdr_clip, str(tmp_path / "o"), params, frames=(1002, 1004)), node=TracedNode(params, device="cpu"))
    assert alive_at_finish == alive


def test_a_large_frame_whose_writes_are_pending_holds_no_sub_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large frames with 8-bit files are written while the next one is read and flowed (render.sink): what
    waits for the writer is the files' 8-bit pixels, the float sub-frames are freed before the next frame
    is prepared, and the writes are done before it is decomposed (where its memory grows)."""
    import time

    from unshutter.bench.speed import write_clip
    from unshutter.render import source

    clip = write_clip(tmp_path / "png", 96, 64, 5, "png")
    monkeypatch.setattr(sink, "OVERLAP_PIXELS", 0)
    monkeypatch.setattr(source, "PREFETCH_PIXELS", 0)  # as a 4K frame: prepared on the loop's own thread
    real, done = sink.write_image, []

    def slow_write(path: Path, *args: object, **kwargs: object) -> None:
        time.sleep(1.0)  # longer than the next frame's reading and flow: the loop waits before its decomposition
        real(path, *args, **kwargs)  # type: ignore[arg-type]
        done.append(path.name)

    monkeypatch.setattr(sink, "write_image", slow_write)
    results: list[weakref.ref[FrameResult]] = []
    at_prepare: list[tuple[int, int]] = []  # (results alive, files written) as each frame is prepared
    at_finish: list[int] = []  # files written as each frame is decomposed

    class TracedNode(Node):
        def prepare(self, *args: object, **kwargs: object) -> Prepared:
            at_prepare.append((sum(r() is not None for r in results), len(done)))
            return super().prepare(*args, **kwargs)  # type: ignore[arg-type]

        def finish(self, prep: Prepared, *args: object, **kwargs: object) -> FrameResult:
            at_finish.append(len(done))
            res = super().finish(prep, *args, **kwargs)  # type: ignore[arg-type]
            results.append(weakref.ref(res))
            return res

    params = NodeParams(factor=2, follow=0.0)
    run(RunConfig(clip, str(tmp_path / "o"), params, frames=(1002, 1004)), node=TracedNode(params, device="cpu"))
    # each frame is prepared while the previous frame's two files are still being written, and
    # decomposed once they are
    assert at_prepare == [(0, 0), (0, 0), (0, 2)]
    assert at_finish == [0, 2, 4]


def test_a_large_frames_successor_is_read_again_not_held_while_it_is_decomposed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above KEEP_NEXT_PIXELS (as 4K) a frame's successor, read for its flow, leaves the cache before the
    frame is decomposed and resampled (95 MB at 4K, at the run's peak) and is read again for its own
    turn: the cache holds only the frame itself then, and the files are the same to the byte."""
    from unshutter.bench.speed import write_clip
    from unshutter.render import source

    clip = write_clip(tmp_path / "png", 96, 64, 5, "png")
    monkeypatch.setattr(sink, "OVERLAP_PIXELS", 0)
    monkeypatch.setattr(source, "PREFETCH_PIXELS", 0)
    caches: list[source.FrameCache] = []
    init = source.FrameCache.__init__

    def recorded(self: source.FrameCache, *args: object, **kwargs: object) -> None:
        init(self, *args, **kwargs)  # type: ignore[arg-type]
        caches.append(self)

    monkeypatch.setattr(source.FrameCache, "__init__", recorded)
    held: list[list[int]] = []

    class TracedNode(Node):
        def finish(self, prep: Prepared, *args: object, **kwargs: object) -> FrameResult:
            held.append(sorted(caches[-1]._data))
            return super().finish(prep, *args, **kwargs)  # type: ignore[arg-type]

    params = NodeParams(factor=2, follow=0.0)

    def files(name: str) -> dict[str, bytes]:
        run(RunConfig(clip, str(tmp_path / name / "o"), params, frames=(1002, 1004)), node=TracedNode(params))
        return {p.name: p.read_bytes() for p in sorted((tmp_path / name).glob("*.png"))}

    kept = files("kept")
    assert held == [[1002, 1003], [1003, 1004], [1004, 1005]]
    held.clear()
    monkeypatch.setattr(source, "KEEP_NEXT_PIXELS", 0)
    assert files("read_again") == kept
    assert held == [[1002], [1003], [1004]]
