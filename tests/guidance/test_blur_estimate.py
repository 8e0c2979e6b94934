"""Blur axes and lengths read from a lone still, on stills blurred by a known motion."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from tests.conftest import textured_photo
from unshutter.color import to_network
from unshutter.guidance.blur_estimate import BlurAxis, alternatives, estimate_axes


def box_blur(linear: np.ndarray, dx: float, dy: float, samples: int = 49) -> np.ndarray:
    """The linear mean of the image moved along (dx, dy) over one exposure. Shape: [H, W, 3] -> [H, W, 3]."""
    h, w = linear.shape[:2]
    out = np.zeros_like(linear)
    for t in np.linspace(-0.5, 0.5, samples):
        m = np.float32([[1, 0, t * dx], [0, 1, t * dy]])
        out += cv2.warpAffine(linear, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return out / samples


def _axis_error(a: float, b: float) -> float:
    d = abs(a - b) % 180.0
    return min(d, 180.0 - d)


@pytest.mark.parametrize("dx,dy", [(18, 0), (0, 12), (-16, 16), (24, -7), (8, 3)])
def test_axis_and_length_of_a_known_blur(dx: float, dy: float) -> None:
    photo = textured_photo(200, 300, seed=3)
    axes = estimate_axes(to_network(box_blur(photo, dx, dy), 1.0))
    assert axes and axes[0].strength == 1.0
    want_angle, want_len = math.degrees(math.atan2(dy, dx)) % 180.0, math.hypot(dx, dy)
    assert _axis_error(axes[0].angle_deg, want_angle) < 5.0, axes
    assert abs(axes[0].length_px - want_len) < 0.12 * want_len + 1.0, axes


def test_large_frames_are_analysed_small_and_scaled_back() -> None:
    photo = cv2.resize(textured_photo(200, 300, seed=5), (1200, 800), interpolation=cv2.INTER_CUBIC)
    axes = estimate_axes(to_network(box_blur(photo, 60, 0, 121), 1.0))
    assert _axis_error(axes[0].angle_deg, 0.0) < 5.0 and abs(axes[0].length_px - 60) < 8.0, axes


def test_alternatives_are_both_time_orders_strongest_first() -> None:
    photo = textured_photo(200, 300, seed=3)
    alts = alternatives(to_network(box_blur(photo, 20, 5), 1.0))
    assert len(alts) >= 2 and alts[1] == (-alts[0][0], -alts[0][1])
    assert abs(abs(alts[0][0]) - 20) < 3 and abs(abs(alts[0][1]) - 5) < 3


def test_a_sharp_flat_image_gives_nothing_long() -> None:
    flat = np.full((64, 96, 3), 0.3, np.float32)
    assert estimate_axes(flat) == []


def test_vector_of_an_axis() -> None:
    ax = BlurAxis(90.0, 10.0, 1.0)
    np.testing.assert_allclose(ax.vector(1.0), (0.0, 10.0), atol=1e-9)
    np.testing.assert_allclose(ax.vector(-1.0), (0.0, -10.0), atol=1e-9)


def test_axis_of_a_noisy_compressed_still() -> None:
    """Noise and JPEG blur the cepstrum's dip out; the axis still comes from the direction of least change."""
    rng = np.random.default_rng(0)
    found = 0
    for seed, (dx, dy) in enumerate([(20, 8), (-14, 18), (25, 0), (6, -22)]):
        img = to_network(box_blur(textured_photo(200, 300, seed=seed), dx, dy), 1.0)
        img = np.clip(img + rng.normal(0, 0.1, img.shape).astype(np.float32), 0, 1)
        _, buf = cv2.imencode(".jpg", (img * 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 40])
        axes = estimate_axes(cv2.imdecode(buf, cv2.IMREAD_COLOR).astype(np.float32) / 255)
        found += bool(axes) and _axis_error(axes[0].angle_deg, math.degrees(math.atan2(dy, dx)) % 180.0) < 10.0
    assert found == 4
