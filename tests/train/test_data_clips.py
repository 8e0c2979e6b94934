"""The data engine's clips: consecutive blurred frames of one continuous motion with the truth at the output times."""

from __future__ import annotations

import numpy as np

from tests.train.test_data import PHOTOS
from unshutter import kernels
from unshutter.bench import motion
from unshutter.train.data import DataSpec, render_clip

SPEC = DataSpec(crop=96, degrade=False)


def test_a_360_clip_is_blurred_frames_that_are_the_linear_mean_of_their_truth() -> None:
    c = render_clip(np.random.default_rng(0), PHOTOS, SPEC, frames=5, factor=7, shutter=360.0)
    assert c.blurred.shape == (5, 96, 96, 3) and c.truth.shape == (5, 7, 96, 96, 3) and c.motion.shape == (5, 96, 96, 2)
    mean = kernels.srgb_decode(np.ascontiguousarray(c.truth)).mean(axis=1)
    np.testing.assert_allclose(c.blurred, kernels.srgb_encode(mean), atol=0.51 / 255)  # 8-bit inputs
    # a foreground object at 50-100% of up to 100 px per exposure at 720p scale (0.6-1.0 of it)
    fast = float(np.sqrt((c.motion**2).sum(-1)).max())
    assert 0.5 * 100 * 0.6 * 0.9 < fast < 100 * 1.5, (fast, c.info)
    assert len(c.info["fg_disp"]) in (1, 2) and c.info["bg_disp"] < max(c.info["fg_disp"])


def test_a_180_clips_truth_plays_back_evenly_across_the_closed_shutter_gap() -> None:
    c = render_clip(np.random.default_rng(1), PHOTOS, SPEC, frames=5, factor=8, shutter=180.0, max_motion_720p=24.0)
    assert c.truth.shape == (5, 8, 96, 96, 3) and c.shutter_deg == 180.0
    run = c.truth.reshape(-1, 96, 96, 3)
    rm = motion.run_motion(run, 8)
    assert rm.inside > 0.3, rm
    assert 0.6 < rm.judder < 1.6, rm  # the gap is filled: no jump at the boundary
    # the blurred frame is the exposure, the first half of the interval: closer to truth 0-3 than 4-7
    lin_t = kernels.srgb_decode(np.ascontiguousarray(c.truth[2]))
    lin_b = kernels.srgb_decode(np.ascontiguousarray(c.blurred[2]))
    assert np.abs(lin_t[:4].mean(0) - lin_b).mean() < np.abs(lin_t[4:].mean(0) - lin_b).mean()


def test_clips_are_reproducible_from_the_seed() -> None:
    a = render_clip(np.random.default_rng(5), PHOTOS, SPEC, frames=3)
    b = render_clip(np.random.default_rng(5), PHOTOS, SPEC, frames=3)
    np.testing.assert_array_equal(a.truth, b.truth)
    np.testing.assert_array_equal(a.blurred, b.blurred)


def test_alternating_clips_take_turns_at_360_and_180_degrees_and_through_the_sizes() -> None:
    from unshutter.decomposer.contract import K
    from unshutter.train.data import alternating_clips

    got = [(s, f, c.blurred.shape[1:3]) for s, f, c in alternating_clips(None, True, 3, 3, (64, 48), 0)]
    assert got == [(360.0, K, (64, 64)), (180.0, 8, (48, 48)), (360.0, K, (64, 64))]
