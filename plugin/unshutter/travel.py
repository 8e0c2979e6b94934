"""Make the sub-frames travel with the scene's motion.

The decomposer's sub-frames hedge toward the blurred frame, and whatever the
exact reblur adds to them is the same image in every sub-frame: either way a
residue of the blur stays put inside a source frame and jumps at the next one,
which playback shows as a pop every N frames (see MODEL_CARD.md, "Motion").
Three remedies, all along the per-pixel motion ``m`` (px per frame interval):

- :func:`follow`: blend each sub-frame toward the mid-exposure sub-frame
  carried to its time along ``m``;
- :func:`travel_residue`: the reblur's correction is carried along ``m`` to
  each sub-frame's time instead of being added in place, with a zero-mean
  remainder so the mean still equals the input exactly;
- :func:`gap_frames`: output frames in the closed-shutter gap, interpolated
  from the last sharp sub-frame of a frame and the first of the next, each
  carried along its own motion.

Warps are backward (the value at p comes from p - t * m(p)) with OpenCV's
bilinear remap and replicated borders.
"""
from __future__ import annotations

import cv2
import numpy as np


class Warper:
    """Backward warps of images of one size along one motion field, by different times."""

    def __init__(self, motion: np.ndarray) -> None:
        """Shape: motion [H, W, 2] px per frame interval (x, y; y down)."""
        h, w = motion.shape[:2]
        self.motion = np.ascontiguousarray(motion, np.float32)
        self._xs = np.arange(w, dtype=np.float32)[None, :]
        self._ys = np.arange(h, dtype=np.float32)[:, None]

    def __call__(self, img: np.ndarray, t: float) -> np.ndarray:
        """``img`` as it looks ``t`` frame intervals later. Shape: [H, W, C] -> [H, W, C]."""
        if t == 0.0:
            return img.copy()
        tt = np.float32(t)
        mx = self._xs - tt * self.motion[..., 0]
        my = self._ys - tt * self.motion[..., 1]
        out = cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return out.reshape(img.shape)


def warp_consistency(motion: np.ndarray, rel: float = 0.25, floor: float = 1.0) -> np.ndarray:
    """How far a backward warp along ``motion`` holds, per pixel, over half a span either way: 1 to 0.

    A backward warp takes the value at p from p - t * m(p), which is only
    right when the motion there is the same: at the edge of a region drawn with
    its own vector (an override) the source lands on another motion for a
    band as wide as the motion, and carrying sub-frames along it smears the
    object instead of moving it. The weight falls linearly with the largest
    difference |m(p - t * m(p)) - m(p)| for t = -1/2 and +1/2, reaching 0 at
    ``rel`` times the motion's length (at least ``floor`` px).

    Shape: motion [H, W, 2] px per span (e.g. per exposure) -> [H, W] float32
    """
    h, w = motion.shape[:2]
    m = np.ascontiguousarray(motion, np.float32)
    xs = np.arange(w, dtype=np.float32)[None, :]
    ys = np.arange(h, dtype=np.float32)[:, None]
    worst = np.zeros((h, w), np.float32)
    for t in (-0.5, 0.5):
        at_src = cv2.remap(m, xs - np.float32(t) * m[..., 0], ys - np.float32(t) * m[..., 1], cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
        np.maximum(worst, np.hypot(at_src[..., 0] - m[..., 0], at_src[..., 1] - m[..., 1]), out=worst)
    limit = np.maximum(np.float32(floor), np.float32(rel) * np.hypot(m[..., 0], m[..., 1]))
    return np.clip(1.0 - worst / limit, 0.0, 1.0).astype(np.float32)


def follow(sub: np.ndarray, mid: np.ndarray, warper: Warper, offsets: np.ndarray, weight: np.ndarray) -> None:
    """Blend each sub-frame toward ``mid`` carried to its time (in place).

    ``weight`` is 0 where the motion is unknown (no flow): there the decomposer's
    own sub-frames are kept.

    Shape:
        sub: [N, H, W, 3], mid: [H, W, 3], offsets: [N] frame intervals from mid-exposure,
        weight: [H, W] in [0, 1]
    """
    wgt = weight[..., None].astype(np.float32)
    for k, t in enumerate(offsets):
        moved = warper(mid, float(t))
        sub[k] += wgt * (moved - sub[k])


def travel_residue(sub: np.ndarray, target: np.ndarray, warper: Warper, offsets: np.ndarray) -> None:
    """Carry the reblur correction along the motion (in place); call before the exact projection.

    With R = target - mean(sub), sub-frame k gets ``warp(R, t_k) - mean_j warp(R, t_j)``:
    zero in the mean, so the exact (uniform) projection that follows adds the
    rest and the mean still equals ``target``, while R itself travels with the
    scene instead of standing still in every sub-frame.

    Shape:
        sub: [N, H, W, 3], target: [H, W, 3], offsets: [N]
    """
    n = sub.shape[0]
    if n < 2:
        return
    resid = target - sub.mean(axis=0, dtype=np.float32)
    # two passes over the warps instead of an [N, H, W, 3] temporary: bounded memory at 4K
    mean_moved = np.zeros_like(resid)
    for t in offsets:
        mean_moved += warper(resid, float(t))
    mean_moved *= np.float32(1.0 / n)
    for k, t in enumerate(offsets):
        sub[k] += warper(resid, float(t)) - mean_moved


def gap_frames(last: np.ndarray, last_time: float, warp_last: Warper,
               first: np.ndarray | None, first_time: float, warp_first: Warper | None,
               times: tuple[float, ...] | list[float]) -> np.ndarray:
    """Frames in the closed-shutter gap between two sharp sub-frames.

    ``last`` (shown at ``last_time``) is carried forward along its motion and
    ``first`` (the next source frame's first sub-frame, at ``first_time`` on the
    same clock, i.e. 1 + its own time) backward along the next frame's motion;
    the two are cross-faded by time. Without a next frame (the clip's end, a
    cut) ``last`` is carried forward alone.

    Shape:
        last, first: [H, W, 3] -> [G, H, W, 3]
    """
    out = np.empty((len(times),) + last.shape, np.float32)
    for i, t in enumerate(times):
        a = warp_last(last, t - last_time)
        if first is None or warp_first is None:
            out[i] = a
            continue
        w = np.float32((t - last_time) / (first_time - last_time))
        b = warp_first(first, t - first_time)
        out[i] = a + w * (b - a)
    return out
