"""Read -> process: source frames in scene-linear RGB, decomposed by the node with their neighbours.

:func:`decomposed` is the one place the loop asks for sub-frames. Each
source frame is read three times (as the frame, and as its neighbours'
neighbour), so a small cache keeps the recent ones.

*Prefetch*: while a frame is decomposed, a thread reads the next frame the run
decomposes and computes its guidance (the flow, :meth:`Node.prepare`), for
frames up to :data:`PREFETCH_PIXELS` when the thread budget has two or more
threads. It starts once the frame's network has run, so it shares the cores
with the resampling (one thread) rather than with the network (two threads
that wait for each other at every layer). The loop still gets frames in order and the same results; a
prefetched frame's error is raised when the loop asks for that frame, and a
prefetched frame the loop does not ask for is dropped (with its error).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from unshutter import color, memory, threads
from unshutter.decomposer.runtime import WHOLE_FRAME_PIXELS
from unshutter.io.clip import Clip
from unshutter.io.image_file import ImageMeta
from unshutter.node import FrameResult, Node, Prepared
from unshutter.render.resume import FrameJob

PREFETCH_PIXELS = WHOLE_FRAME_PIXELS
"""Largest frame whose successor is read and flowed while it is decomposed (a 4K frame's
prefetch would hold about 0.4 GB more at the run's peak)."""

KEEP_NEXT_PIXELS = WHOLE_FRAME_PIXELS
"""Largest frame whose successor stays read (in the cache, in linear light) while it is decomposed and
resampled; a larger one's successor is read again for its own turn (a 4K frame's linear copy is 95 MB,
at the run's peak in the resampling; reading it again takes about 0.4 s)."""


def split_channels(pixels: np.ndarray, meta: ImageMeta) -> tuple[np.ndarray, np.ndarray | None]:
    """All channels -> (RGB [H, W, 3], the others [H, W, E] or None)."""
    idx = meta.rgb_indices
    rgb = pixels[..., idx]
    if len(idx) == 1:  # grey
        rgb = np.repeat(rgb, 3, axis=-1)
    elif len(idx) == 2:  # two colour channels (R, G): the third is their mean, dropped again on merge
        rgb = np.concatenate([rgb, rgb.mean(axis=-1, keepdims=True)], axis=-1)
    rest = [i for i in range(pixels.shape[-1]) if i not in idx]
    extra = pixels[..., rest] if rest else None
    return np.ascontiguousarray(rgb, np.float32), extra


def merge_channels(rgb: np.ndarray, extra: np.ndarray | None, meta: ImageMeta) -> np.ndarray:
    """Inverse of :func:`split_channels`. Shape: [H, W, 3] -> [H, W, C] (``rgb`` itself for plain RGB files:
    no frame-sized copy per writer thread, 95 MB at 4K)."""
    c = len(meta.channel_names)
    if c == 3 and list(meta.rgb_indices) == [0, 1, 2]:
        return np.asarray(rgb, np.float32)
    out = np.empty(rgb.shape[:2] + (c,), np.float32)
    idx = meta.rgb_indices
    if len(idx) == 1:
        out[..., idx[0]] = rgb.mean(axis=-1)
    else:
        out[..., idx] = rgb[..., : len(idx)]
    rest = [i for i in range(c) if i not in idx]
    if rest and extra is not None:
        out[..., rest] = extra
    return out


class FrameCache:
    """Linear RGB of recently read frames (each frame is needed three times)."""

    def __init__(self, clip: Clip, cs: color.ColorTransform, size: int = 4) -> None:
        self.clip, self.cs, self.size = clip, cs, size
        self._data: OrderedDict[int, tuple[np.ndarray, np.ndarray | None]] = OrderedDict()

    def get(self, frame: int) -> tuple[np.ndarray, np.ndarray | None]:
        if frame in self._data:
            self._data.move_to_end(frame)
            return self._data[frame]
        pixels = self.clip.read(frame)
        rgb, extra = split_channels(pixels, self.clip.meta)
        item = (self.cs.to_linear(rgb), extra)
        self._data[frame] = item
        while len(self._data) > self.size:
            self._data.popitem(last=False)
        return item

    def forget_after(self, frame: int) -> None:
        """Drop the frames after ``frame`` (they are read again when asked for)."""
        for f in [f for f in self._data if f > frame]:
            del self._data[f]

    def forget_before(self, frame: int) -> None:
        """Drop the frames before ``frame``: the loop goes forward, so they are not read again
        (while a frame is written, its previous one no longer takes room: 95 MB at 4K)."""
        for f in [f for f in self._data if f < frame]:
            del self._data[f]


@dataclass
class Sharp:
    """The sub-frames of one source frame, and its channels besides RGB (written back unchanged)."""

    result: FrameResult
    extra: np.ndarray | None  # [H, W, E] or None


def prefetches(width: int, height: int) -> bool:
    """Whether a run prefetches frames of this size by default: up to :data:`PREFETCH_PIXELS`, and
    only with a thread budget of two or more (``--threads``)."""
    return width * height <= PREFETCH_PIXELS and (threads.configured() or threads.cores()) >= 2


class FrameSource:
    """Source frames of ``clip`` in scene-linear RGB (``cs`` decodes them), decomposed by ``node``.

    ``frames``: the frames the run may decompose, in order; the one after each is
    prefetched while it is decomposed (``prefetch``: None decides by frame size and
    thread budget, see the module's docstring). :meth:`close` ends the prefetch thread.
    """

    def __init__(
        self,
        clip: Clip,
        cs: color.ColorTransform,
        node: Node,
        frames: Sequence[int] = (),
        prefetch: bool | None = None,
    ) -> None:
        self.clip, self.node = clip, node
        self.cache = FrameCache(clip, cs)
        self._lock = threading.Lock()  # the cache, between the loop and the prefetch thread
        self._after = dict(zip(frames, frames[1:]))  # frame -> the next one the run may decompose
        if prefetch is None:
            prefetch = prefetches(clip.width, clip.height)
        if clip.width * clip.height <= WHOLE_FRAME_PIXELS:  # each frame's buffers reused, not faulted in again
            memory.keep_freed_buffers()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="unshutter-prefetch") if prefetch else None
        self._ahead: tuple[int, Future[tuple[Prepared, np.ndarray | None]]] | None = None
        self.before_decompose: Callable[[], None] | None = None
        """Called once each frame is read and prepared, before it is decomposed (a large frame's run waits
        there for the previous frame's writes: they share the cores with the reading and the flow, which
        leave one of them idle, not with the network, and they are done before its memory grows)."""

    def prepare(self, frame: int) -> tuple[Prepared, np.ndarray | None]:
        """Read ``frame`` and its neighbours (those inside the clip), and prepare it: encoding, guidance.
        Returns it with its channels besides RGB."""
        first, last = self.clip.first, self.clip.last
        with self._lock:
            cur, extra = self.cache.get(frame)
            prev = self.cache.get(frame - 1)[0] if frame - 1 >= first else None
            nxt = self.cache.get(frame + 1)[0] if frame + 1 <= last else None
        return self.node.prepare(frame, cur, prev, nxt), extra

    def decompose(self, frame: int) -> Sharp:
        """Read ``frame`` and its neighbours and run the node on them (prefetching the next frame)."""
        prep, extra = self._prepared(frame)
        with self._lock:
            self.cache.forget_before(frame)  # the previous frame is not needed while this one is decomposed
            if self.clip.width * self.clip.height > KEEP_NEXT_PIXELS:
                self.cache.forget_after(frame)
        after = self._after.get(frame)
        pool = self._pool if after is not None else None

        def network_done(stage: str) -> None:
            # the next frame is read and flowed beside this one's resampling, not beside its network
            # (module docstring; measured in docs/speed.md, session 12)
            if stage == "decompose" and pool is not None:
                assert after is not None
                self._ahead = (after, pool.submit(self.prepare, after))

        if self.before_decompose is not None:
            self.before_decompose()
        return Sharp(self.node.finish(prep, on_stage=network_done), extra)

    def _prepared(self, frame: int) -> tuple[Prepared, np.ndarray | None]:
        """``frame`` prepared: by the prefetch when it took this frame, else now."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            if ahead[0] == frame:
                return ahead[1].result()  # its error, if any, is this frame's
            _drop(ahead[1])  # the loop skipped the prefetched frame
        return self.prepare(frame)

    def close(self) -> None:
        """Wait for (or cancel) a prefetch still running and end the thread; its result is dropped."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            _drop(ahead[1])
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _drop(fut: Future[tuple[Prepared, np.ndarray | None]]) -> None:
    """Cancel ``fut`` or wait for it, dropping its result and its error (a frame nobody asked for)."""
    if not fut.cancel():
        try:
            fut.result()
        except BaseException:  # noqa: BLE001 - the frame was not asked for: neither is its error
            pass


def decomposed(jobs: Iterable[FrameJob], source: FrameSource) -> Iterator[tuple[FrameJob, Sharp | None]]:
    """Each job with its sub-frames, or None for a job that needs no decomposition, in order.

    The frames to decompose are the jobs' ``decompose`` flags; a job is planned
    only when the loop asks for it (its outputs are checked then). The source's
    prefetch ends with the loop, however it ends.
    """
    try:
        for job in jobs:
            yield job, source.decompose(job.frame) if job.decompose else None
    finally:
        source.close()
