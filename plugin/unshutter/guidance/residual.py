"""How badly a motion explains a neighbouring frame: the photometric residual along it.

The learned trust (:mod:`unshutter.guidance.trust`), an override's check
against the neighbours (:func:`unshutter.guidance.overrides.neighbour_match`)
and ``bench flow``'s cost of a motion all weigh a motion by how well a
neighbour sampled along it matches the frame; one function, so they weigh
it alike.
"""

from __future__ import annotations

import cv2
import numpy as np


def residual_along(cur: np.ndarray, other: np.ndarray, motion: np.ndarray, sign: float, window: int) -> np.ndarray:
    """Box mean (``window`` px square) of ``|cur - other(p + sign * motion)|``, ``other`` sampled bilinearly
    with its edges replicated (and rounded to its own type, as a grey frame's pixels are).

    Shape: cur [H, W] float32, other [H, W] (uint8 grey), motion [H, W, 2] px -> [H, W] float32
    """
    h, w = cur.shape
    xs = np.arange(w, dtype=np.float32)[None, :]  # broadcast by the sums: no frame-sized grids (190 MB at 4K)
    ys = np.arange(h, dtype=np.float32)[:, None]
    moved = cv2.remap(
        other,
        xs + np.float32(sign) * motion[..., 0],
        ys + np.float32(sign) * motion[..., 1],
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return cv2.blur(np.abs(cur - moved.astype(np.float32)), (window, window))
