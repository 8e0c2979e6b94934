"""guidance.residual: the photometric residual along a motion, which the trust, overrides and bench flow share."""

from __future__ import annotations

import numpy as np

from unshutter.guidance.residual import residual_along


def test_the_residual_is_zero_along_the_true_shift_and_large_along_a_wrong_one() -> None:
    rng = np.random.default_rng(3)
    cur = rng.integers(0, 256, (40, 60)).astype(np.uint8)
    nxt = np.roll(cur, 4, axis=1)  # the picture moved 4 px right
    right = np.zeros((40, 60, 2), np.float32)
    right[..., 0] = 4.0
    r = residual_along(cur.astype(np.float32), nxt, right, 1.0, 5)
    assert r.shape == (40, 60) and r.dtype == np.float32
    assert float(r[5:-5, 10:-10].max()) == 0.0  # away from the wrapped columns: exact
    prev = np.roll(cur, -4, axis=1)  # and came from 4 px left: the backward side reads it with sign -1
    assert float(residual_along(cur.astype(np.float32), prev, right, -1.0, 5)[5:-5, 10:-10].max()) == 0.0
    wrong = residual_along(cur.astype(np.float32), nxt, -right, 1.0, 5)
    assert float(wrong[5:-5, 10:-10].mean()) > 40.0  # random pixels 8 px apart: ~85 grey levels
