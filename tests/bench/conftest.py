"""Shared sharp shots for the bench tests."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import textured_photo

BLOCK_SPEED = 6
"""px per source frame the block of :func:`moving_block` moves right."""
BLOCK_X0, BLOCK_W = 4, 48
"""The block's left edge at source frame 0 and its width, px."""


@pytest.fixture(scope="session")
def moving_block() -> list[np.ndarray]:
    """24 sharp linear frames: a textured block moving right over a still textured background.

    Its left edge is at BLOCK_X0 + BLOCK_SPEED * t px at source frame t, rows 28-67.
    Shape: each [96, 192, 3]
    """
    bg = textured_photo(96, 192, seed=0)
    block = textured_photo(40, BLOCK_W, seed=3) * 0.8 + 0.1
    frames = []
    for t in range(24):
        f = bg.copy()
        x = BLOCK_X0 + BLOCK_SPEED * t
        f[28:68, x : x + BLOCK_W] = block[:, : min(BLOCK_W, 192 - x)]
        frames.append(f)
    return frames
