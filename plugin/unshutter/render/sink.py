"""Write: a source frame's sub-frames -> output files, its guidance map and preview thumbnails, its progress event.

A sequence's sub-frames are encoded side by side in writer threads (each
file atomic on its own; a frame is done only when all of them are); a movie
gets them in order. A frame's progress event is sent once it is written.

Frames up to :data:`OVERLAP_PIXELS` are written while the loop decomposes
the next one: :meth:`Sink.write` returns once the writes are started, and
waits for them before the next frame's writes (or a skip, or the end), so
frames still finish in order, one frame's files at a time, and a failed
write ends the run at the next frame at the latest. Larger frames are
written before the loop goes on: a second frame's sub-frames in memory
would cost 0.7 GB at 4K.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import numpy as np

from unshutter import color, threads
from unshutter.decomposer.runtime import WHOLE_FRAME_PIXELS
from unshutter.io import movie
from unshutter.io.clip import Clip
from unshutter.io.image_file import write_image
from unshutter.render.numbering import Numbering
from unshutter.render.resume import FrameJob
from unshutter.render.source import Sharp, merge_channels
from unshutter.render.target import OutputTarget, guidance_debug_path

Progress = Callable[[dict[str, Any]], None]
SKIPPED = "skipped (complete output exists)"

WRITE_THREADS = 2
"""Sub-frames of one source frame encoded and written at the same time (bounded by the thread
budget, :mod:`unshutter.threads`): seven 8-bit 1280x720 PNGs took 0.81 times as long in two
threads as one after another on the shared 2-core machine (load average 15)."""


OVERLAP_PIXELS = WHOLE_FRAME_PIXELS
"""Largest frame whose writing overlaps the next frame's decomposition (one more K-stack held:
2048x1080 x 7 sub-frames x 12 bytes = 186 MB)."""


def write_threads() -> int:
    """Writer threads of a run: :data:`WRITE_THREADS`, at most the process's thread budget."""
    return max(1, min(WRITE_THREADS, threads.configured() or threads.cores()))


class Sink:
    """Where the loop puts each source frame's sub-frames (or says it was skipped).

    Keeps what the manifest and the previews need: the guidance source of each
    frame, the counts, the thumbnails.
    """

    def __init__(
        self,
        clip: Clip,
        target: OutputTarget,
        out_cs: color.ColorTransform,
        num: Numbering,
        emit: Progress,
        codec: str | None = None,
        debug_dir: Path | None = None,
        preview: bool = False,
    ) -> None:
        self.clip, self.target, self.out_cs, self.num, self.emit = clip, target, out_cs, num, emit
        self.debug_dir, self.preview = debug_dir, preview
        self.total = len(num.frames)
        self.written = self.skipped = 0
        self.guidance: dict[str, str] = {}  # source frame -> where its guidance came from
        self.thumbs: list[list[np.ndarray]] = []  # contact sheet rows: first, middle and last frame
        self.thumb_rows = {num.a, (num.a + num.b) // 2, num.b}
        self.anim: list[np.ndarray] = []  # every sub-frame's thumbnail, for the preview movie
        self.movie: movie.MovieWriter | None = None
        if target.movie_path is not None:
            self.movie = movie.MovieWriter(target.movie_path, clip.width, clip.height, num.rate, codec)
        self._pool: ThreadPoolExecutor | None = None
        # the frame whose files are being written: its job, the writes, its guidance source
        self._inflight: tuple[FrameJob, list[Future[None]], str] | None = None
        self.overlap = self.movie is None and clip.width * clip.height <= OVERLAP_PIXELS

    def open(self) -> None:
        """Start the writer threads (:meth:`close` ends them)."""
        # larger frames: one writer, so one frame-sized encoding buffer at a time (peak memory at 4K)
        self._pool = ThreadPoolExecutor(write_threads() if self.overlap else 1, thread_name_prefix="unshutter-write")

    def close(self, ok: bool) -> None:
        """No write is left running once the run returns or fails; a movie is kept only when ``ok``.

        After a loop that went through (``ok``) the last frame's writes are waited for
        here, and a failure among them still fails the run.
        """
        try:
            if ok:
                self.flush()
        except BaseException:
            ok = False
            raise
        finally:
            try:
                if self._pool is not None:
                    self._pool.shutdown(wait=True)
            finally:
                if self.movie is not None:
                    self.movie.close(ok)

    def flush(self) -> None:
        """Wait for the frame whose files are being written; count them and send its event.

        Raises the first failed write's error, in sub-frame order.
        """
        if self._inflight is None:
            return
        job, futures, guidance = self._inflight
        self._inflight = None
        for fut in futures:
            fut.result()
            self.written += 1
        self._event(job, False, guidance)

    def skip(self, job: FrameJob) -> None:
        """``job``'s outputs are complete already."""
        self.flush()  # events in frame order
        self.skipped += self.num.factor
        self.guidance[str(job.frame)] = SKIPPED
        self._event(job, True, SKIPPED)

    def write(self, job: FrameJob, sharp: Sharp) -> None:
        """Write ``job``'s sub-frames (and guidance map, thumbnails); the first failed write raises
        (for an overlapped frame: at the next :meth:`write`, :meth:`skip` or :meth:`close`)."""
        self.flush()  # the previous frame's files first: one frame's writes at a time, in order
        res = sharp.result
        self.guidance[str(job.frame)] = res.guidance_source
        if self.debug_dir is not None:
            from unshutter.guidance.debug import write_guidance_image

            write_guidance_image(guidance_debug_path(self.debug_dir, job.frame), res.guidance)
        if self.movie is not None:
            for k in range(self.num.factor):
                self.movie.write(self.out_cs.from_linear(res.subframes[k]))
                self.written += 1
        else:
            self._start_files(job, sharp)
        if self.preview:
            from unshutter.preview import thumbnail

            t = [thumbnail(res.subframes[k]) for k in range(self.num.factor)]
            if job.frame in self.thumb_rows:
                self.thumbs.append(t)
            self.anim.extend(t)
        if self.movie is not None:
            self._event(job, False, res.guidance_source)
        elif not self.overlap:
            self.flush()

    def _start_files(self, job: FrameJob, sharp: Sharp) -> None:
        """Start writing ``job``'s files; :meth:`flush` waits for them."""
        assert self._pool is not None, "Sink.open() first"
        meta = self.clip.meta

        def write_one(k: int) -> None:
            rgb = self.out_cs.from_linear(sharp.result.subframes[k])
            pixels = merge_channels(rgb, sharp.extra, meta)
            # a buffer of its own (not the sub-frame itself, as an identity transform gives): clipped in place
            scratch = not np.may_share_memory(pixels, sharp.result.subframes)
            write_image(job.paths[k], pixels, meta, job.sig, scratch=scratch)

        # the sub-frames are encoded side by side (OCIO and the image writers release the GIL);
        # each write is atomic on its own, and the frame is done only when all of them are
        futures = [self._pool.submit(write_one, k) for k in range(self.num.factor)]
        self._inflight = (job, futures, sharp.result.guidance_source)

    def _event(self, job: FrameJob, skipped: bool, guidance: str) -> None:
        self.emit(
            {
                "event": "frame",
                "frame": job.frame,
                "index": job.index,
                "total": self.total,
                "outputs": job.outs,
                "skipped": skipped,
                "guidance": guidance,
                "seconds": round(time.monotonic() - job.t0, 3),
            }
        )
