"""Write: a source frame's sub-frames -> output files, its guidance map and preview thumbnails, its progress event.

A sequence's sub-frames are encoded side by side in writer threads (each
file atomic on its own; a frame is done only when all of them are); a movie
gets them in order. A frame's progress event is sent once it is written.

A frame's files are written while the loop goes on to the next one:
:meth:`Sink.write` returns once the writes are started, and waits for them
before the next frame's writes (or a skip, or the end), so frames still
finish in order, one frame's files at a time, and a failed write ends the
run at the next frame at the latest. Frames up to :data:`OVERLAP_PIXELS`
wait in float32 in the writer threads' queue while the next one is
decomposed. Larger frames (4K) would hold 0.7 GB of sub-frames that way:
they are first converted, on the loop's turn and in bands of rows, to the 8
or 16 bits the files hold (:func:`unshutter.io.image_file.quantize`, 0.17 GB
for seven 8-bit 4K sub-frames), each sub-frame dropped once its file is
written, and they are written while the next frame is read and its motion
found (one core is idle then); the run waits for them before that frame is
decomposed (:attr:`unshutter.render.source.FrameSource.before_decompose`):
the network's two threads would share the cores with the writer, and its
memory grows from there. Larger frames whose files hold other pixel types
(half or float EXR, 10-bit DPX, rows whose conversion OpenImageIO rounds
differently) are written before the loop goes on.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable

import numpy as np

from unshutter import color, memory, threads
from unshutter.decomposer.runtime import WHOLE_FRAME_PIXELS
from unshutter.io import movie
from unshutter.io.clip import Clip
from unshutter.io.image_file import ImageMeta, nan_error, quantize, quantized_type, write_image
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
"""Largest frame whose sub-frames wait for the writer threads in float32 while the next frame is
decomposed (one more K-stack held: 2048x1080 x 7 sub-frames x 12 bytes = 186 MB); larger ones wait
in the files' own pixel type while the next frame is read and flowed (module docstring)."""

ENCODE_ROWS = 256
"""Rows of a large frame's sub-frame converted for its file at a time (colour space, channels, bits):
no frame-sized float temporary beside the sub-frames; a 3840-pixel band's buffers (11 MB) are mapped
on their own and go back to the system as soon as they are freed (:mod:`unshutter.memory`)."""


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
        self.small = small = clip.width * clip.height <= OVERLAP_PIXELS
        ext = target.pattern.suffix if target.pattern is not None else ""
        # larger frames wait for their writes in the files' own integer type, when it is exact (module docstring)
        self.quantized = None if small or self.movie is not None else quantized_type(clip.meta, ext, clip.width)
        self.overlap = self.movie is None and (small or self.quantized is not None)

    def open(self) -> None:
        """Start the writer threads (:meth:`close` ends them)."""
        # larger frames: one writer (in float32: one frame-sized encoding buffer at a time; and a second
        # writer thread's heap kept 60-70 MB more resident for the rest of a 4K run)
        self._pool = ThreadPoolExecutor(
            write_threads() if self.overlap and self.small else 1, thread_name_prefix="unshutter-write"
        )

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
        if self.quantized is not None:
            self._start_quantized(job, sharp)
            return
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

    def _start_quantized(self, job: FrameJob, sharp: Sharp) -> None:
        """Convert ``job``'s sub-frames to the files' integer type, the loop's thread and the writer thread
        side by side (the writer takes every other one, first in its queue: a 4K sub-frame's conversion is
        most of its writing), and start each one's write once it is converted: the float sub-frames can go
        once this returns. A sub-frame that cannot be converted fails at its turn among the writes, and the
        frame is waited for at once then, as a frame written before the loop goes on (its error comes
        before the next frame is decomposed)."""
        assert self._pool is not None and self.quantized is not None
        meta, subframes, extra = self.clip.meta, sharp.result.subframes, sharp.extra
        n = self.num.factor
        theirs = {k: self._pool.submit(self._quantize, job.paths[k], subframes[k], extra) for k in range(1, n, 2)}
        futures: list[Future[None]] = []
        failed = False
        for k in range(n):
            if k in theirs:
                futures.append(self._pool.submit(_write_converted, theirs[k], job.paths[k], meta, job.sig))
                continue
            try:
                pixels = self._quantize(job.paths[k], subframes[k], extra)
            except Exception as exc:  # noqa: BLE001 - raised in sub-frame order by flush, as a failed write
                futures.append(self._pool.submit(_raise, exc))
                failed = True
                continue
            futures.append(self._pool.submit(write_image, job.paths[k], pixels, meta, job.sig))
            del pixels  # the writer's task holds it until its file is written
        wait(theirs.values())  # the writer's conversions read the float sub-frames
        failed = failed or any(f.exception() is not None for f in theirs.values())
        self._inflight = (job, futures, sharp.result.guidance_source)
        if failed:
            self.flush()

    def _quantize(self, path: Path, sub: np.ndarray, extra: np.ndarray | None) -> np.ndarray:
        """One sub-frame in the file's colour space, channels and integer type, :data:`ENCODE_ROWS` rows at a
        time (a colour transform works pixel by pixel: the values of a whole-frame conversion).

        Shape: sub [H, W, 3] scene-linear, extra [H, W, E] or None -> [H, W, C] uint8 or uint16
        """
        assert self.quantized is not None
        meta = self.clip.meta
        h, w = sub.shape[:2]
        out = np.empty((h, w, len(meta.channel_names)), self.quantized)
        nan = 0
        for y0, y1 in memory.row_bands(h, ENCODE_ROWS):
            rgb = self.out_cs.from_linear(sub[y0:y1])
            nan += quantize(merge_channels(rgb, None if extra is None else extra[y0:y1], meta), out[y0:y1])
        if nan:
            raise nan_error(path, nan)
        return out

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


def _write_converted(pixels: Future[np.ndarray], path: Path, meta: ImageMeta, sig: str) -> None:
    """Write a sub-frame the writer converted (its conversion's error, if any, is this write's)."""
    write_image(path, pixels.result(), meta, sig)


def _raise(exc: BaseException) -> None:
    """A write task that fails with ``exc`` (a sub-frame that could not be converted for its file)."""
    raise exc
