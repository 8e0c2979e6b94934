"""The render loop: read -> process -> write, one source frame after another.

Below 360 degrees (even timing) a frame's closed-shutter outputs are
interpolated toward the next frame's first sub-frame (``Node.fill_gap``), so
a decomposed frame waits, *pending*, until the next one is decomposed; the
range's last frame waits for the lookahead frame after it
(:class:`unshutter.render.numbering.Numbering`).
"""

from __future__ import annotations

from typing import Callable, Iterable

from unshutter.node import FrameResult
from unshutter.render.resume import FrameJob
from unshutter.render.sink import Sink
from unshutter.render.source import FrameSource, Sharp, decomposed

FillGap = Callable[[FrameResult, FrameResult], None]


def render(jobs: Iterable[FrameJob], source: FrameSource, sink: Sink, fill_gap: FillGap, waits: bool) -> None:
    """Decompose and write the jobs' frames in order (``sink`` open); skip the complete ones.

    ``waits``: a frame's outputs wait for the next frame's sub-frames (``fill_gap``
    interpolates its closed-shutter outputs toward them).
    """
    pending: tuple[FrameJob, Sharp] | None = None
    for job, sharp in decomposed(jobs, source):  # read -> process
        if pending is not None:  # this frame was decomposed for the pending one's gap too
            assert sharp is not None
            fill_gap(pending[1].result, sharp.result)
            sink.write(*pending)
            pending = None
        if job.lookahead:
            continue
        if job.complete:
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
        sink.write(*pending)
