"""Write: a source frame's sub-frames -> output files, its guidance map and preview thumbnails, its progress event.

A sequence's sub-frames are encoded side by side in writer threads (each
file atomic on its own; a frame is done only when all of them are); a movie
gets them in order. A frame's progress event is sent once it is written.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import numpy as np

from unshutter import color, threads
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


def write_threads() -> int:
    """Writer threads of a run: :data:`WRITE_THREADS`, at most the process's thread budget."""
    return max(1, min(WRITE_THREADS, threads.configured() or threads.cores()))


class Sink:
    """Where the loop puts each source frame's sub-frames (or says it was skipped).

    Keeps what the manifest and the previews need: the guidance source of each
    frame, the counts, the thumbnails.
    """

    def __init__(self, clip: Clip, target: OutputTarget, out_cs: color.ColorTransform, num: Numbering,
                 emit: Progress, codec: str | None = None, debug_dir: Path | None = None,
                 preview: bool = False) -> None:
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

    def open(self) -> None:
        """Start the writer threads (:meth:`close` ends them)."""
        self._pool = ThreadPoolExecutor(write_threads(), thread_name_prefix="unshutter-write")

    def close(self, ok: bool) -> None:
        """No write is left running once the run returns or fails; a movie is kept only when ``ok``."""
        try:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
        finally:
            if self.movie is not None:
                self.movie.close(ok)

    def skip(self, job: FrameJob) -> None:
        """``job``'s outputs are complete already."""
        self.skipped += self.num.factor
        self.guidance[str(job.frame)] = SKIPPED
        self._event(job, True, SKIPPED)

    def write(self, job: FrameJob, sharp: Sharp) -> None:
        """Write ``job``'s sub-frames (and guidance map, thumbnails); the first failed write raises."""
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
            self._write_files(job, sharp)
        if self.preview:
            from unshutter.preview import thumbnail

            t = [thumbnail(res.subframes[k]) for k in range(self.num.factor)]
            if job.frame in self.thumb_rows:
                self.thumbs.append(t)
            self.anim.extend(t)
        self._event(job, False, res.guidance_source)

    def _write_files(self, job: FrameJob, sharp: Sharp) -> None:
        assert self._pool is not None, "Sink.open() first"
        meta = self.clip.meta

        def write_one(k: int) -> None:
            rgb = self.out_cs.from_linear(sharp.result.subframes[k])
            write_image(job.paths[k], merge_channels(rgb, sharp.extra, meta), meta, job.sig)

        # the sub-frames are encoded side by side (OCIO and the image writers release the GIL);
        # each write is atomic on its own, and the frame is done only when all of them are
        for fut in [self._pool.submit(write_one, k) for k in range(self.num.factor)]:
            fut.result()  # the first failure, in sub-frame order, ends the run
            self.written += 1

    def _event(self, job: FrameJob, skipped: bool, guidance: str) -> None:
        self.emit({"event": "frame", "frame": job.frame, "index": job.index, "total": self.total,
                   "outputs": job.outs, "skipped": skipped, "guidance": guidance,
                   "seconds": round(time.monotonic() - job.t0, 3)})
