"""Colour-coded images of guidance maps, for checking what the node was told.

Motion is drawn as optical-flow tools draw it: the hue is the direction on a
colour wheel and the saturation the length, white at rest and full colour at
the legend's top length (px per exposure at the frame's resolution). Pixels
whose direction is known but not the length (a ``--guidance left`` map, a
direction-only override over it) are drawn darker at the quadrant's diagonal;
no guidance is black. A legend band under the map shows the wheel, the top
length and these keys; the map itself keeps the frame's pixel grid (top
left), so it lines up with the frame.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import OpenImageIO as oiio

from unshutter.decomposer.contract import GVALID, GX, GY, MOTION_SCALE, MVALID, MX, MY
from unshutter.io.image_file import write_pixels

NO_GUIDANCE = np.array([0, 0, 0], np.uint8)
DIRECTION_ONLY_VALUE = 0.55
"""Brightness of pixels with a direction but no length."""
LEGEND_HEIGHT = 72
LEGEND_MIN_WIDTH = 300
NICE_LENGTHS = (
    1,
    2,
    4,
    5,
    8,
    10,
    16,
    20,
    25,
    32,
    40,
    50,
    64,
    80,
    100,
    128,
    160,
    200,
    256,
    320,
    400,
    512,
    640,
    800,
    1000,
)


def top_length(g: np.ndarray) -> float:
    """The length shown at full colour: the 99th percentile of the known lengths, rounded up to a nice number."""
    known = g[..., MVALID] >= 0.5
    if not known.any():
        return float(NICE_LENGTHS[0])
    mag = np.hypot(g[..., MX][known], g[..., MY][known]) * MOTION_SCALE
    p99 = float(np.percentile(mag, 99))
    return float(next((n for n in NICE_LENGTHS if n >= p99), math.ceil(p99)))


def wheel_colours(dx: np.ndarray, dy: np.ndarray, top: float, value: float | np.ndarray = 1.0) -> np.ndarray:
    """Motion (px, y down) -> RGB uint8: hue the direction, saturation the length over ``top``.

    Right is red, down yellow-green, left cyan, up violet (hue = the angle).
    Shape: dx, dy [...] -> [..., 3]
    """
    ang = (np.degrees(np.arctan2(dy, dx)) % 360.0).astype(np.float32)  # 0 right, 90 down
    sat = np.clip(np.hypot(dx, dy) / max(top, 1e-6), 0.0, 1.0).astype(np.float32)
    val = np.broadcast_to(np.asarray(value, np.float32), ang.shape)
    hsv = np.stack([ang, sat, val], axis=-1).astype(np.float32)
    rgb = cv2.cvtColor(hsv.reshape(-1, 1, 3), cv2.COLOR_HSV2RGB).reshape(ang.shape + (3,))
    return np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)


def guidance_image(g: np.ndarray, top: float | None = None) -> np.ndarray:
    """The map alone. Shape: [H, W, 6] -> [H, W, 3] uint8 (black where there is no guidance)."""
    top = top_length(g) if top is None else top
    h, w = g.shape[:2]
    img = np.empty((h, w, 3), np.uint8)
    img[:] = NO_GUIDANCE
    length = g[..., MVALID] >= 0.5
    if length.any():
        img[length] = wheel_colours(g[..., MX][length] * MOTION_SCALE, g[..., MY][length] * MOTION_SCALE, top)
    direction = (g[..., GVALID] >= 0.5) & ~length
    if direction.any():  # the quadrant's diagonal at full length, darker; static in grey
        sx, sy = g[..., GX][direction], g[..., GY][direction]
        col = wheel_colours(sx * top, sy * top, top, DIRECTION_ONLY_VALUE)
        col[(sx == 0) & (sy == 0)] = int(255 * DIRECTION_ONLY_VALUE)
        img[direction] = col
    return img


def legend(width: int, top: float) -> np.ndarray:
    """The band under the map: the wheel and what the colours mean. Shape: -> [LEGEND_HEIGHT, width, 3] uint8."""
    band = np.full((LEGEND_HEIGHT, width, 3), 32, np.uint8)
    r = (LEGEND_HEIGHT - 12) // 2
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1].astype(np.float32)
    disc = wheel_colours(xx / r * top, yy / r * top, top)
    inside = xx * xx + yy * yy <= r * r
    band[6 : 6 + 2 * r + 1, 6 : 6 + 2 * r + 1][inside] = disc[inside]
    font, small = cv2.FONT_HERSHEY_SIMPLEX, 0.4
    x0 = 2 * r + 18
    lines = [f"edge = {top:g} px per exposure", "hue: direction, white: at rest", "dark: direction only, black: none"]
    for i, text in enumerate(lines):
        cv2.putText(band, text, (x0, 18 + 20 * i), font, small, (235, 235, 235), 1, cv2.LINE_AA)
    return band


def guidance_sheet(g: np.ndarray) -> np.ndarray:
    """The map at the frame's pixel grid with the legend band under it. Shape: [H, W, 6] -> [H + L, W', 3]."""
    top = top_length(g)
    img = guidance_image(g, top)
    h, w = img.shape[:2]
    width = max(w, LEGEND_MIN_WIDTH)
    sheet = np.zeros((h + LEGEND_HEIGHT, width, 3), np.uint8)
    sheet[:h, :w] = img
    sheet[h:] = legend(width, top)
    return sheet


def write_guidance_image(path: Path, g: np.ndarray) -> None:
    img = guidance_sheet(g)
    # checked like an output frame: a map cut short by a full disk is not kept (OutputError, exit 6)
    write_pixels(path, oiio.ImageSpec(img.shape[1], img.shape[0], 3, "uint8"), img)
