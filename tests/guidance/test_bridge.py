"""The motion across the closed-shutter gap, measured between its two sharp ends."""

from __future__ import annotations

import cv2
import numpy as np

from tests.conftest import textured_photo
from unshutter.guidance.bridge import gap_motion

SPAN = 0.625  # 180 degrees, factor 8: the last output inside the exposure to the next frame's first


def _frames(shift: int) -> tuple[np.ndarray, np.ndarray, tuple[slice, slice]]:
    """A still textured scene with a textured square that moves ``shift`` px right across the gap."""
    rng = np.random.default_rng(5)
    scene = (textured_photo(120, 200)[..., 1] * 255).astype(np.uint8)
    patch = cv2.GaussianBlur(rng.integers(0, 256, (40, 40)).astype(np.uint8), (0, 0), 1.5)
    last, first = scene.copy(), scene.copy()
    last[40:80, 40:80] = patch
    first[40:80, 40 + shift : 80 + shift] = patch
    return last, first, (slice(48, 72), slice(48, 72))


def test_an_object_the_frames_motion_missed_is_carried_by_the_flow_between_the_sharp_ends() -> None:
    last, first, inner = _frames(24)
    still = np.zeros(last.shape + (2,), np.float32)  # the blurred frames' flow read the square at rest
    m_last, m_first, agree_last, agree_first = gap_motion(last, first, SPAN, still, still)
    per_interval = 24 / SPAN
    assert abs(float(np.median(m_last[inner][..., 0])) - per_interval) < 0.1 * per_interval
    assert abs(float(np.median(m_last[inner][..., 1]))) < 1.0
    assert float(np.median(agree_last[inner])) > 0.5
    moved = (slice(48, 72), slice(72, 96))  # the square inside ``first``, where its pixels stand there
    assert abs(float(np.median(m_first[moved][..., 0])) - per_interval) < 0.1 * per_interval
    assert float(np.median(agree_first[moved])) > 0.5
    assert np.abs(m_last[:30]).max() < 1.0  # the still scene above it stays still


def test_where_the_two_ends_do_not_agree_the_frames_own_motion_stays() -> None:
    rng = np.random.default_rng(9)
    last = rng.integers(0, 256, (96, 128)).astype(np.uint8)  # two unrelated noise frames: no flow holds
    first = rng.integers(0, 256, (96, 128)).astype(np.uint8)
    own = np.zeros((96, 128, 2), np.float32)
    own[..., 0] = 6.0
    m_last, _, agree_last, _ = gap_motion(last, first, SPAN, own, None)
    assert float(np.mean(agree_last)) < 0.3
    assert float(np.median(np.abs(m_last - own))) < 1.0
