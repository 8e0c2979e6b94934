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

from typing import Iterator

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
    mid: np.ndarray,
    blurred: np.ndarray,
    motion: np.ndarray,
    exposure: float,
    iterations: int = ITERATIONS,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """``mid`` sharpened against ``blurred`` along ``motion`` over ``exposure`` frame intervals.

    Light is positive: pixel channels where either frame is negative (out-of-gamut
    scene-linear values) keep ``mid``. ``out``: where the result goes, which may be
    ``mid`` itself (it is read a band of rows ahead of being written): at 4K no
    frame-sized array besides the caller's.

    Shape: mid, blurred [H, W, 3] linear, motion [H, W, 2] px per frame interval -> [H, W, 3]
    """
    if iterations <= 0:
        if out is not None and out is not mid:
            out[...] = mid
            return out
        return mid
    mid = np.ascontiguousarray(mid, np.float32)
    motion = np.ascontiguousarray(motion, np.float32)
    h, w = mid.shape[:2]
    scale = work_scale(h, w)
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        small = cv2.resize(mid, size, interpolation=cv2.INTER_AREA)
        tsmall = _shrunk_light(blurred, size)
        msmall = cv2.resize(motion, size, interpolation=cv2.INTER_AREA)
        msmall *= np.float32(scale)
        gain = kernels.deblur_motion(small, tsmall, msmall, float(exposure), int(iterations), SPACING, MAX_TAPS)
        gain -= np.maximum(small, DEBLUR_EPS)  # the deconvolution starts from the frame floored at its epsilon
        del small, tsmall, msmall
        bands = _grown(gain, w, h)
        out = np.empty((h, w, 3), np.float32) if out is None else out
    else:
        target = np.maximum(np.ascontiguousarray(blurred, np.float32), np.float32(0.0))
        sharp = kernels.deblur_motion(mid, target, motion, float(exposure), int(iterations), SPACING, MAX_TAPS)
        del target
        bands = ((y0, y1, sharp[y0:y1]) for y0, y1 in memory.row_bands(h, BAND_ROWS))
        out = sharp if out is None else out
    for y0, y1, band in bands:  # in bands: no frame-sized masks at 4K, and ``mid``'s rows read before ``out``'s are set
        if scale < 1.0:
            band += mid[y0:y1]  # mid + the gain
            np.maximum(band, np.float32(0.0), out=band)  # the gain is positive light only at its own size
        negative = mid[y0:y1] < 0.0
        negative |= blurred[y0:y1] < 0.0
        if negative.any():
            band[negative] = mid[y0:y1][negative]
        if not np.may_share_memory(band, out):
            out[y0:y1] = band
    return out


def _shrunk_light(blurred: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``blurred`` floored at 0 and shrunk to ``size`` (width, height) by area, a band of rows at a time when the
    height shrinks by a whole factor (each small row is then the mean of its own rows: the same values as the
    whole frame shrunk, without a floored full-size copy, 95 MB at 4K).

    Shape: [H, W, 3] -> [size[1], size[0], 3] float32
    """
    h = blurred.shape[0]
    r = h // size[1]
    if r * size[1] != h:
        floored = np.maximum(np.ascontiguousarray(blurred, np.float32), np.float32(0.0))
        return cv2.resize(floored, size, interpolation=cv2.INTER_AREA)
    small = np.empty((size[1], size[0], 3), np.float32)
    for y0, y1 in memory.row_bands(h, max(r, BAND_ROWS - BAND_ROWS % r)):
        floored = np.maximum(np.ascontiguousarray(blurred[y0:y1], np.float32), np.float32(0.0))
        small[y0 // r : y1 // r] = cv2.resize(floored, (size[0], (y1 - y0) // r), interpolation=cv2.INTER_AREA)
    return small


def _grown(gain: np.ndarray, w: int, h: int) -> Iterator[tuple[int, int, np.ndarray]]:
    """``gain`` resized to ``w`` x ``h`` (bilinear), as ``(y0, y1, rows y0:y1)`` a band at a time.

    When the height grows by a whole factor r, a band's rows come from the small rows they fall between and one
    more on either side, resized on their own: OpenCV maps output row y to (y + 0.5) / r - 0.5, so those rows
    get the same coordinates, weights and values as in the whole frame resized, and no full-size gain is made.

    Shape: [h', w', 3] -> bands of [y1 - y0, w, 3] float32
    """
    hs = gain.shape[0]
    r = h // hs
    if r * hs != h:
        whole = cv2.resize(gain, (w, h), interpolation=cv2.INTER_LINEAR)
        for y0, y1 in memory.row_bands(h, BAND_ROWS):
            yield y0, y1, whole[y0:y1]
        return
    for y0, y1 in memory.row_bands(h, BAND_ROWS):
        s0, s1 = max(0, y0 // r - 1), min(hs, -(-y1 // r) + 1)
        rows = cv2.resize(gain[s0:s1], (w, (s1 - s0) * r), interpolation=cv2.INTER_LINEAR)
        yield y0, y1, rows[y0 - s0 * r : y1 - s0 * r]
