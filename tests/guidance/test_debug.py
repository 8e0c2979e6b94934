"""Guidance debug maps: direction as hue, length as saturation, a legend band, direction-only and none apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from unshutter.guidance import encode
from unshutter.guidance.debug import LEGEND_HEIGHT, LEGEND_MIN_WIDTH, guidance_image, top_length, write_guidance_image
from unshutter.io.image_file import read_image


def _field(h: int = 20, w: int = 40) -> np.ndarray:
    motion = np.zeros((h, w, 2), np.float32)
    motion[:, :10, 0] = 20.0  # right, full length
    motion[:, 10:20, 0] = 10.0  # right, half length
    motion[:, 20:30, 1] = -20.0  # up
    return encode.guidance_from_motion(motion)  # the last 10 columns are at rest


def test_length_and_direction_show() -> None:
    g = _field()
    assert top_length(g) == 20.0
    img = guidance_image(g).astype(int)
    assert tuple(img[5, 2]) == (255, 0, 0)  # right at full length: red
    half = img[5, 12]
    assert half[0] == 255 and 100 < half[1] < 160 and half[1] == half[2]  # right at half length: pale red
    up = img[5, 22]
    assert up[2] == 255 and up[1] == 0 and 100 < up[0] < 160  # up: violet
    assert tuple(img[5, 35]) == (255, 255, 255)  # at rest: white


def test_direction_only_is_darker_and_none_is_black() -> None:
    g = encode.guidance_from_direction(10, 20, "right")
    g[:, 10:] = encode.empty_guidance(10, 10)
    img = guidance_image(g).astype(int)
    assert 100 < img[5, 2].max() < 160 and (img[5, 15] == 0).all()
    moving = guidance_image(_field()).astype(int)
    assert moving[5, 2].max() == 255  # a known length is brighter than a direction alone


def test_written_map_has_the_frame_grid_and_a_legend(tmp_path: Path) -> None:
    g = _field()
    p = tmp_path / "guidance.0001.png"
    write_guidance_image(p, g)
    px, meta = read_image(p)
    assert (meta.width, meta.height) == (LEGEND_MIN_WIDTH, 20 + LEGEND_HEIGHT)
    np.testing.assert_allclose(px[:20, :40], guidance_image(g) / 255.0, atol=1 / 255)
    band = px[20:]
    assert band.std() > 0.05  # the wheel and its text are drawn
