"""Read -> process: source frames in scene-linear RGB, decomposed by the node with their neighbours.

This is the stage a read/flow prefetch belongs in (:func:`decomposed` is
the one place the loop asks for sub-frames): each source frame is read
three times (as the frame, and as its neighbours' neighbour), so a small
cache keeps the recent ones.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from unshutter import color
from unshutter.io.clip import Clip
from unshutter.io.image_file import ImageMeta
from unshutter.node import FrameResult, Node
from unshutter.render.resume import FrameJob


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


class FrameSource:
    """Source frames of ``clip`` in scene-linear RGB (``cs`` decodes them), decomposed by ``node``."""

    def __init__(self, clip: Clip, cs: color.ColorTransform, node: Node) -> None:
        self.clip, self.node = clip, node
        self.cache = FrameCache(clip, cs)

    def decompose(self, frame: int) -> Sharp:
        """Read ``frame`` and its neighbours (those inside the clip) and run the node on them."""
        first, last = self.clip.first, self.clip.last
        cur = self.cache.get(frame)[0]
        prev = self.cache.get(frame - 1)[0] if frame - 1 >= first else None
        nxt = self.cache.get(frame + 1)[0] if frame + 1 <= last else None
        res = self.node.process(frame, cur, prev, nxt)
        self.cache.forget_before(frame)
        return Sharp(res, self.cache.get(frame)[1])


def decomposed(jobs: Iterable[FrameJob], source: FrameSource) -> Iterator[tuple[FrameJob, Sharp | None]]:
    """Each job with its sub-frames, or None for a job that needs no decomposition, in order.

    The frames to decompose are the jobs' ``decompose`` flags; a job is planned
    only when the loop asks for it (its outputs are checked then).
    """
    for job in jobs:
        yield job, source.decompose(job.frame) if job.decompose else None
