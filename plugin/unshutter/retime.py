"""From the model's K sub-frames to the N the user asked for, with exact reblur."""
from __future__ import annotations

import numpy as np

from unshutter import kernels
from unshutter.errors import ParameterError

MAX_FACTOR = 16


def check_params(factor: int, shutter: float) -> None:
    if not isinstance(factor, (int, np.integer)) or not 1 <= int(factor) <= MAX_FACTOR:
        raise ParameterError(f"--factor {factor}: must be an integer from 1 to {MAX_FACTOR}")
    if not (0.0 < float(shutter) <= 360.0):
        raise ParameterError(f"--shutter {shutter}: must be an angle in (0, 360] degrees")


BAND_ROWS = 128
"""Rows per band when resampling: the work is per pixel, so bands bound the temporaries."""


def retime(sub_linear: np.ndarray, blurred_linear: np.ndarray, factor: int, reuse: bool = False) -> np.ndarray:
    """K linear sub-frames -> ``factor`` sub-frames at slice middles.

    For factor >= 2 the result's linear mean equals ``blurred_linear`` exactly;
    factor 1 returns the sharp sub-frame at the middle of the exposure. Works
    in bands of rows so that a 4K frame needs no full-size temporaries beyond
    the result; with ``reuse`` and ``factor`` <= K the result is written into
    ``sub_linear``'s own memory (each band is read before it is overwritten).

    Shape:
        sub_linear: [K, H, W, 3], blurred_linear: [H, W, 3] -> [N, H, W, 3]
    """
    k, h, w, c = sub_linear.shape
    n = int(factor)
    if reuse and n <= k and sub_linear.dtype == np.float32 and sub_linear.flags.c_contiguous:
        out = sub_linear[:n]
    else:
        out = np.empty((n, h, w, c), np.float32)
    for y0 in range(0, h, BAND_ROWS):
        y1 = min(h, y0 + BAND_ROWS)
        band = kernels.resample_subframes(np.ascontiguousarray(sub_linear[:, y0:y1], np.float32), n)
        if n >= 2:
            band = kernels.reblur_project(band, np.ascontiguousarray(blurred_linear[y0:y1], np.float32))
        out[:, y0:y1] = band
    return out


def output_frame(first: int, frame: int, factor: int, k: int) -> int:
    """Output number of sub-frame ``k`` of source ``frame`` (DESIGN.md contract)."""
    return first + (frame - first) * factor + k


def subframe_time(k: int, factor: int, shutter: float = 360.0) -> float:
    """Time of output sub-frame k in source frame intervals after the exposure opens."""
    return (k + 0.5) / factor * shutter / 360.0
