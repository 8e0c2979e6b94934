"""Build the decomposer's guidance tensor (see :mod:`unshutter.decomposer.contract`)."""

from __future__ import annotations

import numpy as np

from unshutter import kernels
from unshutter.decomposer.contract import (
    GUIDANCE_CHANNELS,
    GVALID,
    GX,
    GY,
    MOTION_SCALE,
    MVALID,
    MX,
    MY,
    STATIC_THRESHOLD_PX,
)

# Global directions as 4-quadrant signs (axis directions fold as in the map).
DIRECTIONS: dict[str, tuple[float, float]] = {
    "static": (0.0, 0.0),
    "right": (1.0, -1.0),
    "left": (-1.0, 1.0),
    "up": (-1.0, -1.0),
    "down": (1.0, 1.0),
    "up-right": (1.0, -1.0),
    "up-left": (-1.0, -1.0),
    "down-left": (-1.0, 1.0),
    "down-right": (1.0, 1.0),
}


def empty_guidance(h: int, w: int) -> np.ndarray:
    """No guidance at all: every channel zero. Shape: -> [H, W, 6]."""
    return np.zeros((h, w, GUIDANCE_CHANNELS), np.float32)


def guidance_from_motion(
    motion: np.ndarray,
    shutter_deg: float = 360.0,
    threshold: float = STATIC_THRESHOLD_PX,
    clean: bool = True,
) -> np.ndarray:
    """Per-frame-interval motion -> guidance for an exposure of ``shutter_deg``.

    Shape:
        motion: [H, W, 2] px per frame interval -> [H, W, 6]
    """
    expo = np.ascontiguousarray(motion * np.float32(shutter_deg / 360.0), np.float32)
    signs = kernels.quantize_motion(expo, threshold)
    if clean:
        signs = kernels.clean_isolated(signs)
    return kernels.guidance_planes(signs, expo, MOTION_SCALE)  # one pass, not six strided writes


def guidance_from_direction(h: int, w: int, direction: str) -> np.ndarray:
    """A global direction for the whole frame, magnitude unknown. Shape: -> [H, W, 6]."""
    g = empty_guidance(h, w)
    sx, sy = DIRECTIONS[direction]
    g[..., GX] = sx
    g[..., GY] = sy
    g[..., GVALID] = 1.0
    return g


def reverse(g: np.ndarray) -> np.ndarray:
    """Negate the map: time runs the other way. Shape: [H, W, 6] -> [H, W, 6]."""
    out = g.copy()
    for c in (GX, GY, MX, MY):
        out[..., c] = -out[..., c]
    return out


def apply_direction(g: np.ndarray, matte: np.ndarray, signs: tuple[float, float]) -> None:
    """Force quadrant ``signs`` where ``matte`` >= 0.5, keeping known magnitudes (in place).

    Motion from flow keeps its size but takes the forced signs; a forced
    static region gets zero motion.

    Shape:
        g: [H, W, 6], matte: [H, W]
    """
    sel = matte >= 0.5
    if not sel.any():
        return
    sx, sy = signs
    g[sel, GX] = sx
    g[sel, GY] = sy
    g[sel, GVALID] = 1.0
    if sx == 0 and sy == 0:
        g[sel, MX] = 0.0
        g[sel, MY] = 0.0
        g[sel, MVALID] = 1.0
    else:
        g[sel, MX] = np.abs(g[sel, MX]) * sx
        g[sel, MY] = np.abs(g[sel, MY]) * sy


def vector_signs(dx: float, dy: float, threshold: float = STATIC_THRESHOLD_PX) -> tuple[float, float]:
    """The quadrant signs of one motion vector (px per exposure), folded as the map folds them."""
    s = kernels.quantize_motion(np.array([[[dx, dy]]], np.float32), threshold)
    return float(s[0, 0, 0]), float(s[0, 0, 1])


def guidance_from_vector(
    h: int, w: int, vector: tuple[float, float], threshold: float = STATIC_THRESHOLD_PX
) -> np.ndarray:
    """One motion vector (px per exposure at this frame's resolution) for every pixel. Shape: -> [H, W, 6]."""
    g = empty_guidance(h, w)
    apply_motion(g, np.ones((h, w), np.float32), vector, threshold)
    return g


def apply_motion(
    g: np.ndarray,
    weight: np.ndarray,
    vector: tuple[float, float] | np.ndarray,
    threshold: float = STATIC_THRESHOLD_PX,
) -> None:
    """Replace the motion with ``vector`` (px per exposure at this frame's resolution) by ``weight`` (in place).

    ``vector`` is one vector, or one per pixel (a motion pass inside an override region, [H, W, 2]).

    Where the old motion size is known (flow) the two are blended,
    ``weight * vector + (1 - weight) * old``, so a feathered region fades
    into the flow; where it is not (no guidance, or a direction only) the
    vector takes the pixels with ``weight`` >= 0.5. Quadrant signs follow
    the blended motion, with the node's static ``threshold``.

    Shape:
        g: [H, W, 6], weight: [H, W] in [0, 1]
    """
    w = np.where(g[..., MVALID] >= 0.5, weight, np.where(weight >= 0.5, 1.0, 0.0)).astype(np.float32)
    sel = w > 0
    if not sel.any():
        return
    ws = w[sel]
    if isinstance(vector, np.ndarray):
        per_pixel = vector[sel].astype(np.float32) / np.float32(MOTION_SCALE)  # [S, 2]
    else:
        per_pixel = np.array([[v / MOTION_SCALE for v in vector]], np.float32)  # [1, 2]
    vx, vy = per_pixel[:, 0], per_pixel[:, 1]
    mx = ws * vx + (1.0 - ws) * g[sel, MX]
    my = ws * vy + (1.0 - ws) * g[sel, MY]
    px = np.stack([mx, my], axis=-1)[None] * np.float32(MOTION_SCALE)  # [1, S, 2] px
    signs = kernels.quantize_motion(np.ascontiguousarray(px, np.float32), threshold)[0]
    g[sel, GX] = signs[:, 0]
    g[sel, GY] = signs[:, 1]
    g[sel, GVALID] = 1.0
    g[sel, MX] = mx
    g[sel, MY] = my
    g[sel, MVALID] = 1.0


def labels(g: np.ndarray) -> np.ndarray:
    """Animation-from-Blur labels of a guidance tensor; 255 where no guidance.

    Shape:
        g: [H, W, 6] -> [H, W] uint8
    """
    lab = kernels.signs_to_labels(np.ascontiguousarray(g[..., GX : GY + 1], np.float32))
    lab[g[..., GVALID] < 0.5] = 255
    return lab
