"""A coarse motion field by exhaustive symmetric block matching: the start DIS needs for large motions.

DIS works coarse to fine, and at its coarse levels a fast object is a few
pixels among the static or panning scene around it; it then refines a motion
that is far too short, even between *sharp* frames (on bikes' fast car DIS
reads about 6 px of the 50 px the car moves per 7 source frames). Searching
every displacement up to a quarter of the frame at a low resolution does not
have that blind spot. The search is symmetric, on the three frames the node
has: a block of frame f is compared with frame f+1 at +d and with frame f-1
at -d, and the cost keeps the better side mostly (``min + 0.25 max``), so a
block that one neighbour occludes still finds its motion in the other.
The result is only a start: DIS refines it at full resolution.
"""

from __future__ import annotations

import cv2
import numpy as np

WORK_SIDE = 160
"""Long side (px) of the frames the search runs on."""
BLOCK = 8
"""Template side (working px)."""
STEP = 6
"""Blocks are taken every STEP working px (4 reads bikes' fast car a little better, at twice the time)."""
REACH = 0.25
"""Largest displacement searched, as a fraction of the long side (per frame interval)."""
SMALL_MOTION_BIAS = 0.05
"""Cost (RMS grey levels) per working px of displacement: near-ties go to the smaller motion."""
OTHER_SIDE = 0.25
"""Weight of the worse of the two sides in the cost (the better side gets 1)."""


def _grid(sh: int, sw: int) -> tuple[list[int], list[int]]:
    return list(range(0, max(1, sh - BLOCK + 1), STEP)), list(range(0, max(1, sw - BLOCK + 1), STEP))


def _search(p: np.ndarray, c: np.ndarray, n: np.ndarray, r: int) -> np.ndarray:
    """Per block of ``c``, the displacement within ``r`` with the lowest cost.

    ``p`` and ``n`` are padded by ``r``. Cost of d: RMS difference to n at +d
    and to p at -d, the better side at full weight and the worse at
    OTHER_SIDE, plus SMALL_MOTION_BIAS * |d|.

    Shape: p, n [sh + 2r, sw + 2r], c [sh, sw] float32 -> [ny, nx, 2] float32
    """
    ys, xs = _grid(*c.shape)
    dy, dx = np.mgrid[-r : r + 1, -r : r + 1].astype(np.float32)
    bias = (np.float32(SMALL_MOTION_BIAS) * np.sqrt(dx * dx + dy * dy)).ravel()
    area = np.float32(1.0 / (BLOCK * BLOCK))
    span = BLOCK + 2 * r
    out = np.zeros((len(ys), len(xs), 2), np.float32)
    for i, y in enumerate(ys):  # one row of blocks at a time: the cost arithmetic runs once per row
        cf = np.stack(
            [
                cv2.matchTemplate(n[y : y + span, x : x + span], c[y : y + BLOCK, x : x + BLOCK], cv2.TM_SQDIFF)
                for x in xs
            ]
        ).reshape(len(xs), -1)
        cb = np.stack(
            [
                cv2.matchTemplate(p[y : y + span, x : x + span], c[y : y + BLOCK, x : x + BLOCK], cv2.TM_SQDIFF)[
                    ::-1, ::-1
                ]
                for x in xs
            ]
        ).reshape(len(xs), -1)
        lo = np.sqrt(np.minimum(cf, cb) * area)
        hi = np.sqrt(np.maximum(cf, cb) * area)
        k = np.argmin(lo + np.float32(OTHER_SIDE) * hi + bias, axis=1)
        out[i, :, 0] = dx.ravel()[k]
        out[i, :, 1] = dy.ravel()[k]
    return out


def _median3(field: np.ndarray) -> np.ndarray:
    """3x3 median of each component (a lone wrong block takes its neighbours' motion)."""
    if min(field.shape[:2]) < 3:
        return field
    return np.stack([cv2.medianBlur(np.ascontiguousarray(field[..., a]), 3) for a in range(2)], axis=-1)


def _frames(prev: np.ndarray, cur: np.ndarray, nxt: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h, w = cur.shape[:2]
    scale = min(1.0, side / max(h, w))
    size = (max(BLOCK, round(w * scale)), max(BLOCK, round(h * scale)))
    p, c, n = (cv2.resize(x, size, interpolation=cv2.INTER_AREA).astype(np.float32) for x in (prev, cur, nxt))
    return p, c, n


def block_motion(prev: np.ndarray, cur: np.ndarray, nxt: np.ndarray) -> np.ndarray:
    """Coarse motion of ``cur`` per frame interval (earliest to latest), at full resolution.

    Every displacement up to REACH of the long side, on frames WORK_SIDE long.

    Shape: prev, cur, nxt [H, W] uint8 -> [H, W, 2] float32 (x, y)
    """
    h, w = cur.shape[:2]
    p, c, n = _frames(prev, cur, nxt, WORK_SIDE)
    r = max(2, int(round(REACH * max(c.shape))))
    pp, nn = (cv2.copyMakeBorder(x, r, r, r, r, cv2.BORDER_REPLICATE) for x in (p, n))
    field = _median3(_search(pp, c, nn, r))
    sh, sw = c.shape
    # block centres sit at (x + BLOCK/2); a resize of the grid to the working frame is close enough for a start
    full = cv2.resize(field, (w, h), interpolation=cv2.INTER_LINEAR)
    full[..., 0] *= np.float32(w / sw)
    full[..., 1] *= np.float32(h / sh)
    return full
