"""The motion a lone blurred still shows: blur axes and lengths, from the image alone.

A still cannot tell which way time ran (a streak looks the same played
backwards), only the axis and the length of the streaks. So each axis found
gives two candidate motions, one per time order.

The strongest axis is the one along which the image changes least
(:func:`gradient_axis`: a streak damps the derivative along it); its length
is read from the image's cepstrum (see :func:`cepstrum`), where a streak
leaves a negative peak at its length along its axis. A second axis, the
deepest cepstrum peak at least MIN_AXIS_SEPARATION_DEG away and at least
MIN_SECOND_STRENGTH as deep, is offered too (objects moving differently, or
a camera shake across a pan).
What a still cannot give: the time order, a motion that changes along the
exposure (the peak gives its mean length), and which pixels move which way
(the estimate is for the whole frame).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

ANALYSIS_SIDE = 512
"""Longer sides are analysed at this size (lengths are scaled back)."""
MIN_SECOND_STRENGTH = 0.5
"""A second axis is offered when its dip is at least this fraction of the first's."""
MIN_AXIS_SEPARATION_DEG = 20.0


@dataclass(frozen=True)
class BlurAxis:
    """One blur axis: angle (degrees in [0, 180), y down), length (px at full resolution), strength (0-1)."""

    angle_deg: float
    length_px: float
    strength: float

    def vector(self, sign: float = 1.0) -> tuple[float, float]:
        """The motion along the axis in one time order (px per exposure; x right, y down)."""
        a = math.radians(self.angle_deg)
        return (sign * self.length_px * math.cos(a), sign * self.length_px * math.sin(a))


def _gray(encoded: np.ndarray) -> tuple[np.ndarray, float]:
    """Network-encoded RGB -> analysis gray [h, w] float32 and the factor analysis px -> full px."""
    y = encoded[..., 0] * 0.2126 + encoded[..., 1] * 0.7152 + encoded[..., 2] * 0.0722
    y = np.ascontiguousarray(y, np.float32)
    h, w = y.shape
    down = max(1.0, max(h, w) / ANALYSIS_SIDE)
    if down > 1.0:
        y = cv2.resize(y, (max(1, round(w / down)), max(1, round(h / down))), interpolation=cv2.INTER_AREA)
    return y, down


MIN_LAG = 4
"""Shortest blur length looked for (analysis px): shorter ones sit in the image spectrum's own peak."""


def cepstrum(gray: np.ndarray) -> np.ndarray:
    """The real 2-D cepstrum of a gray image, lag (0, 0) at [H // 2, W // 2]. Shape: [H, W] -> [H, W].

    A box blur of length L multiplies the spectrum by a sinc whose zeros
    repeat every 1/L along the motion; the log turns that product into a
    sum, and the cepstrum shows it as a sharp negative peak at lag L along
    the motion (and its mirror), away from the image's own energy near lag 0.
    """
    h, w = gray.shape
    win = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)  # no wrap-around edges
    spec = np.fft.fft2((gray - gray.mean()) * win)
    c = np.real(np.fft.ifft2(np.log(np.abs(spec) ** 2 + 1e-8)))
    return np.fft.fftshift(c).astype(np.float32)


def _dips(c: np.ndarray, limit: int) -> list[tuple[float, float, float]]:
    """(angle_deg in [0, 180), length, depth) of the deepest cepstrum dips, at least
    MIN_AXIS_SEPARATION_DEG apart, deepest first."""
    h, w = c.shape
    cy, cx = h // 2, w // 2
    max_len = max(MIN_LAG + 2, min(h, w) // 3)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = xx - cx, yy - cy
    r = np.hypot(dx, dy)
    ang = np.degrees(np.arctan2(dy, dx)) % 180.0  # the cepstrum is symmetric: an axis, not a direction
    sm = cv2.GaussianBlur(c, (0, 0), 0.7)
    allowed = (r >= MIN_LAG) & (r <= max_len) & ((dy > 0) | ((dy == 0) & (dx > 0)))
    out: list[tuple[float, float, float]] = []
    while len(out) < limit and allowed.any():
        vals = np.where(allowed, sm, np.inf)
        y, x = np.unravel_index(int(np.argmin(vals)), vals.shape)
        depth = float(-sm[y, x])
        if depth <= 0:
            break
        # sub-pixel: the centroid of the dip's 3x3 neighbourhood, weighted by how deep each pixel is
        ys, xs = slice(max(y - 1, 0), y + 2), slice(max(x - 1, 0), x + 2)
        wgt = np.maximum(-sm[ys, xs], 0)
        px = float((wgt * dx[ys, xs]).sum() / wgt.sum())
        py = float((wgt * dy[ys, xs]).sum() / wgt.sum())
        a = math.degrees(math.atan2(py, px)) % 180.0
        out.append((a, math.hypot(px, py), depth))
        sep = np.abs(ang - a)
        allowed &= np.minimum(sep, 180.0 - sep) >= MIN_AXIS_SEPARATION_DEG
    return out


AXIS_WINDOW_DEG = 12.0
"""The first axis's length is the deepest cepstrum dip within this angle of the gradient axis."""


HARMONIC_DEPTH = 0.5
"""A dip at half the lag at least this deep (relative) is taken as the length instead."""
LINE_PX = 3.0
"""... and within this distance of the axis's line through lag 0 (a wide wedge collects noise dips far out)."""


def gradient_axis(gray: np.ndarray) -> float:
    """The axis along which the image changes least (degrees in [0, 180), y down).

    A streak of length L averages the image along its axis, which damps the
    derivative along it and not across it; the direction of least derivative
    energy over the frame (the smallest eigenvector of the gradients'
    structure tensor) is then the blur axis. On the held-out synthetic
    samples, with noise, JPEG and several layers, it is found more often
    than the cepstrum's deepest dip, whose depth noise and texture blur out.
    """
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)  # [h, w]
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    a, b, c = float((gx * gx).mean()), float((gx * gy).mean()), float((gy * gy).mean())
    across = 0.5 * math.degrees(math.atan2(2.0 * b, a - c))  # the axis of most derivative energy
    return (across + 90.0) % 180.0


def _axis_distance(shape: tuple[int, ...], angle: float) -> np.ndarray:
    """Degrees (0-90) between each lag's axis and ``angle``, lag (0, 0) at the centre. Shape: -> [H, W]."""
    h, w = shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    d = np.abs(np.degrees(np.arctan2(yy - h // 2, xx - w // 2)) % 180.0 - angle)
    return np.minimum(d, 180.0 - d)


def _dip_near(c: np.ndarray, angle: float, window: float) -> tuple[float, float, float] | None:
    """The deepest cepstrum dip within ``window`` degrees of ``angle``: (angle, length, depth), None if none."""
    h, w = c.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.hypot(yy - h // 2, xx - w // 2)
    d = _axis_distance(c.shape, angle)
    keep = (d <= window) & (r * np.sin(np.radians(d)) <= LINE_PX)
    dips = _dips(np.where(keep, c, np.float32(0.0)), 1)
    if not dips:
        return None
    a, length, depth = dips[0]
    # a box blur dips at L, 2L, 3L...: a dip about as deep at half the lag is the streak itself
    half = keep & (np.abs(r - 0.5 * length) <= 1.5)
    if length >= 2 * MIN_LAG and half.any():
        low = _dips(np.where(half, c, np.float32(0.0)), 1)
        if low and low[0][2] >= HARMONIC_DEPTH * depth:
            return low[0]
    return a, length, depth


def estimate_axes(encoded: np.ndarray, limit: int = 2) -> list[BlurAxis]:
    """The main blur axes of a still, strongest first (at most ``limit``; a weak second one is left out).

    The first axis is the gradient axis (:func:`gradient_axis`), its length the
    deepest cepstrum dip near it; further ones are the deepest dips at least
    MIN_AXIS_SEPARATION_DEG away from it and from each other.

    Shape: encoded [H, W, 3] network encoding.
    """
    gray, down = _gray(encoded)
    c = cepstrum(gray)
    first = _dip_near(c, gradient_axis(gray), AXIS_WINDOW_DEG)
    if first is None:
        return []
    top = first[2]
    away = _axis_distance(c.shape, first[0]) >= MIN_AXIS_SEPARATION_DEG
    dips = [first] + _dips(np.where(away, c, np.float32(0.0)), limit - 1) if limit > 1 else [first]
    return [
        BlurAxis(round(a, 1) % 180.0, round(length * down, 1), round(min(1.0, depth / top), 3))
        for a, length, depth in dips
        if depth / top >= MIN_SECOND_STRENGTH
    ]


def alternatives(encoded: np.ndarray, axes: int = 2) -> list[tuple[float, float]]:
    """Candidate whole-frame motions of a still: both time orders of each main axis, strongest axis first."""
    out = []
    for ax in estimate_axes(encoded, axes):
        out += [ax.vector(1.0), ax.vector(-1.0)]
    return out
