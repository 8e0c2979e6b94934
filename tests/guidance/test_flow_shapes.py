"""Flow on frames of any shape: wide and short strips, tall slivers and single pixels are valid input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from unshutter.guidance import flow
from unshutter.sample import write_exr_sequence

from tests.conftest import textured_photo

SHAPES = [
    (8, 4000),
    (20, 3000),
    (8, 1500),
    (8, 2048),
    (16, 3000),
    (32, 5000),
    (1, 5000),
    (5000, 1),
    (3000, 8),
    (4, 3000),
    (1, 1),
    (2, 2),
    (1, 3),
    (8, 1000),
    (720, 1280),
]


def _textured(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Blurred noise: texture at every position, nothing periodic for the flow to alias on. Shape: -> [h, w] uint8."""
    noise = np.random.default_rng(seed).random((h, w)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 2.0)
    smooth = (smooth - smooth.min()) / max(1e-6, float(np.ptp(smooth)))
    return (smooth * 255.0).astype(np.uint8)


@pytest.mark.parametrize("h,w", SHAPES)
def test_dis_flow_on_any_shape(h: int, w: int) -> None:
    a = _textured(h + 8, w + 8)
    src, dst = a[4 : 4 + h, 4 : 4 + w], a[4 : 4 + h, 2 : 2 + w]  # the picture moves 2 px right
    f = flow.dis_flow(np.ascontiguousarray(src), np.ascontiguousarray(dst))
    assert f.shape == (h, w, 2) and f.dtype == np.float32 and np.isfinite(f).all()


@pytest.mark.parametrize("h,w", [(8, 4000), (20, 3000), (8, 1500)])
def test_wide_strip_motion_is_found(h: int, w: int) -> None:
    big = _textured(64, w + 16)
    src = np.ascontiguousarray(big[28 : 28 + h, 8 : 8 + w])
    dst = np.ascontiguousarray(big[28 : 28 + h, 5 : 5 + w])  # content moves 3 px right
    f = flow.dis_flow(src, dst)
    assert abs(float(np.median(f[:, w // 4 : 3 * w // 4, 0])) - 3.0) < 1.0


def test_run_on_a_wide_short_clip(tmp_path: Path) -> None:
    photo = textured_photo(64, 1700)
    frames = np.stack([cv2.warpAffine(photo, np.float32([[1, 0, -3 * i], [0, 1, 0]]), (1500, 8)) for i in range(3)])
    src = write_exr_sequence(tmp_path / "in", "strip", frames, 1001)
    p = subprocess.run(
        [sys.executable, "-m", "unshutter", "run", src, "-o", str(tmp_path / "out"), "--factor", "2", "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    assert len(list((tmp_path / "out").glob("strip.*.exr"))) == 6
