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
