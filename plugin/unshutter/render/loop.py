"""The render loop: read -> process -> write, one source frame after another.

A frame's outputs are finished with its neighbours' decompositions
(``Node.settle``): at 360 degrees they blend toward the previous and next
frames' mid-exposure frames, below 360 (even timing) its closed-shutter
outputs are interpolated toward the next frame's first sub-frame. So a
decomposed frame waits, *pending*, until the next one is decomposed; the
range's last frame waits for the lookahead frame after it, and at 360 degrees
its first reads the lookbehind frame before it
(:class:`unshutter.render.numbering.Numbering`).
"""

from __future__ import annotations

from typing import Callable, Iterable

from unshutter.node import FrameResult
from unshutter.retime import Carried
from unshutter.render.resume import FrameJob
from unshutter.render.sink import Sink
from unshutter.render.source import FrameSource, Sharp, decomposed

Settle = Callable[[FrameResult, Carried | None, FrameResult | None], None]


def render(jobs: Iterable[FrameJob], source: FrameSource, sink: Sink, settle: Settle, waits: bool) -> None:
    """Decompose and write the jobs' frames in order (``sink`` open); skip the complete ones.

    ``waits``: a frame's outputs wait for the next frame's sub-frames; ``settle(result, before, after)``
    finishes them with what the previous frame carried and the next frame's result.
    """
    pending: tuple[FrameJob, Sharp] | None = None
    behind: Carried | None = None  # what the frame before the next one to settle carries
    for job, sharp in decomposed(jobs, source):  # read -> process
        if pending is not None:  # this frame was decomposed for the pending one too
            assert sharp is not None
            settle(pending[1].result, behind, sharp.result)
            behind = pending[1].result.carried
            sink.write(*pending)
            pending = None
        if job.lookahead:
            continue
        if job.lookbehind or job.complete:
            behind = sharp.result.carried if sharp is not None else None  # decomposed for the frame after it
            if job.complete and not job.lookbehind:
                sink.skip(job)
        elif waits:
            assert sharp is not None
            pending = (job, sharp)
        else:
            assert sharp is not None
            sink.write(job, sharp)  # -> write
        # the loop variable would keep this frame's sub-frames alive while the next frame is
        # decomposed (the sink holds them itself while it writes): 0.7 GB more at 4K
        sharp = None
    if pending is not None:  # the clip's last frame: no frame after it
        settle(pending[1].result, behind, None)
        sink.write(*pending)
