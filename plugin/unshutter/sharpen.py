"""The mid-exposure frame deblurred along the motion, before the sub-frames are carried along it.

The node makes its outputs travel by carrying the decomposer's mid-exposure
sub-frame along the scene's motion (:func:`unshutter.travel.follow`). Where
the network left a fast object smeared, that carries a smear: it moves, but
reads as blur. Knowing the motion, the blur of each pixel is known too (the
mean of the scene along its path over the exposure), so a few
Richardson-Lucy iterations along it, started from the network's own frame,
restore much of the edge the exposure averaged away. Richardson-Lucy keeps
light positive and its early iterations stay close to the start, which is
what makes it usable with an estimated motion (MODEL_CARD.md, "Session 6").
"""

from __future__ import annotations

import cv2
import numpy as np

from unshutter import kernels, memory
from unshutter.kernels.reference import DEBLUR_EPS

ITERATIONS = 20
"""Richardson-Lucy iterations: more sharpen further and ring at edges where the motion is off."""

SPACING = 1.5
"""Pixels between the samples of the blur model along each pixel's path."""

MAX_TAPS = 64
"""At most this many samples per pixel (a 96 px path at 1.5 px)."""

BAND_ROWS = 128
"""Rows at a time where the negative light is put back (bounded temporaries at 4K)."""

PIXEL_BUDGET = 600_000
"""Frames larger than this are deconvolved at half size (again, until they fit), the gain added to the full-size
frame: the cost stays near that of a 1024x576 frame (720p runs at 1/2, 4K at 1/4)."""


def work_scale(h: int, w: int) -> float:
    """The fraction of the frame's size the deconvolution runs at: 1, 1/2, 1/4, ..."""
    s = 1.0
    while s * s * h * w > PIXEL_BUDGET and min(h, w) * s >= 32:
        s *= 0.5
    return s


def along_motion(
    mid: np.ndarray, blurred: np.ndarray, motion: np.ndarray, exposure: float, iterations: int = ITERATIONS
) -> np.ndarray:
    """``mid`` sharpened against ``blurred`` along ``motion`` over ``exposure`` frame intervals.

    Light is positive: pixel channels where either frame is negative (out-of-gamut
    scene-linear values) keep ``mid``.

    Shape: mid, blurred [H, W, 3] linear, motion [H, W, 2] px per frame interval -> [H, W, 3]
    """
    if iterations <= 0:
        return mid
    mid = np.ascontiguousarray(mid, np.float32)
    target = np.maximum(np.ascontiguousarray(blurred, np.float32), np.float32(0.0))
    motion = np.ascontiguousarray(motion, np.float32)
    h, w = mid.shape[:2]
    scale = work_scale(h, w)
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        small = cv2.resize(mid, size, interpolation=cv2.INTER_AREA)
        tsmall = cv2.resize(target, size, interpolation=cv2.INTER_AREA)
        del target  # a frame's worth (95 MB at 4K) less while the gain is brought back to full size
        msmall = cv2.resize(motion, size, interpolation=cv2.INTER_AREA)
        msmall *= np.float32(scale)
        gain = kernels.deblur_motion(small, tsmall, msmall, float(exposure), int(iterations), SPACING, MAX_TAPS)
        gain -= np.maximum(small, DEBLUR_EPS)  # the deconvolution starts from the frame floored at its epsilon
        del small, tsmall, msmall
        out = cv2.resize(gain, (w, h), interpolation=cv2.INTER_LINEAR)
        del gain
        out += mid  # mid + the gain, in the resized gain's own buffer (one frame-sized temporary less)
        np.maximum(out, np.float32(0.0), out=out)  # the gain is positive light only at its own size
    else:
        out = kernels.deblur_motion(mid, target, motion, float(exposure), int(iterations), SPACING, MAX_TAPS)
    for y0, y1 in memory.row_bands(h, BAND_ROWS):  # in bands: no frame-sized masks at 4K
        negative = mid[y0:y1] < 0.0
        negative |= blurred[y0:y1] < 0.0
        if negative.any():
            out[y0:y1][negative] = mid[y0:y1][negative]
    return out
