"""bench.flow: the truth it scores against (chained sharp flow) and its EPE measures."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import textured_photo
from unshutter.bench import flow as bf
from unshutter.sample import render_clip


def test_a_real_set_carries_the_pan_per_blurred_frame_interval() -> None:
    sharp = list(render_clip(textured_photo(), 21, 128, 96, speed=1.5, curve=0.0, samples=1))
    s = bf.real_set("pan", sharp, 7, 7)
    assert s.blurred.shape == (3, 96, 128) and s.truth.shape == (3, 96, 128, 2)
    # the picture moves left 1.5 px per source frame: 10.5 px per blurred frame interval
    assert float(np.median(s.truth[1][16:-16, 16:-16, 0])) == pytest.approx(-10.5, abs=0.5)


def test_at_180_degrees_the_blurred_rows_score_the_middle_and_the_sharp_rows_their_frames_truth(
    moving_block: list[np.ndarray],
) -> None:
    """The exposure's middle lies between two source frames: the blurred frames are scored against the truth
    there, the sharp frame (the later one) against the truth at its own pixels."""
    truth = bf.RealTruth(moving_block)
    s = bf.real_set("block_180", moving_block, 8, 4, truth)
    assert np.array_equal(s.truth[1], truth.motion(8, 8, 4)) and not np.array_equal(s.truth[1], s.sharp_truth[1])
    assert np.array_equal(s.sharp[1], truth.gray[10]) and np.array_equal(s.sharp_truth[1], truth.motion_at(10, 8))

    def exact(prev, cur, nxt):  # noqa: ANN001, ANN202
        return truth.motion_at(10, 8), None

    assert bf.score([s], exact, sharp=True)["epe"] == 0.0 and bf.score([s], exact)["epe"] > 0.0
    s360 = bf.real_set("block_360", moving_block[:14], 7, 7, bf.RealTruth(moving_block[:14]))
    assert np.array_equal(s360.truth, s360.sharp_truth)  # an odd count's middle is a source frame


def test_score_of_the_truth_is_zero_and_of_a_still_estimate_the_motion() -> None:
    truth = np.zeros((3, 40, 50, 2), np.float32)
    truth[..., 0] = 12.0
    truth[:, 10:20, 10:20, 0] = -30.0
    s = bf.FlowSet("t", np.zeros((3, 40, 50), np.uint8), truth)

    def exact(prev, cur, nxt):  # noqa: ANN001, ANN202
        return truth[1], None

    def still(prev, cur, nxt):  # noqa: ANN001, ANN202
        return np.zeros_like(truth[1]), np.full(truth.shape[1:3], 0.5, np.float32)

    sc = bf.score([s], exact)
    assert sc["epe"] == 0.0 and sc["epe_moving"] == 0.0 and sc["wrong_pct"] == 0.0 and sc["frames"] == 1
    sc = bf.score([s], still)
    assert sc["epe_moving"] == pytest.approx((12.0 * 1900 + 30.0 * 100) / 2000, abs=0.01)
    assert sc["epe_fg"] == 30.0 and sc["trust_moving"] == 0.5


def test_auc_and_the_trust_split_reward_a_trust_that_tells_right_motion_from_wrong() -> None:
    truth = np.zeros((3, 40, 50, 2), np.float32)
    truth[..., 0] = 12.0
    est = truth[1].copy()
    est[:, :25, 0] = -12.0  # the left half reads the motion backwards
    s = bf.FlowSet("t", np.zeros((3, 40, 50), np.uint8), truth)
    good_trust = np.where(np.arange(50) < 25, 0.1, 0.9).astype(np.float32)[None, :].repeat(40, 0)

    def knows(prev, cur, nxt):  # noqa: ANN001, ANN202
        return est, good_trust

    def backwards(prev, cur, nxt):  # noqa: ANN001, ANN202
        return est, 1.0 - good_trust

    sc = bf.score([s], knows)
    assert sc["auc"] == 1.0 and sc["t_right"] == 0.9 and sc["t_wrong"] == 0.1
    assert sc["epe_fast"] is None  # nothing moves more than 20 px
    sc = bf.score([s], backwards)
    assert sc["auc"] == 0.0 and sc["t_right"] == 0.1 and sc["t_wrong"] == 0.9
    assert bf.auc(np.array([0.5, 0.5]), np.array([True, True])) is None


def test_truth_cheaper_says_whether_the_neighbours_show_the_true_motion() -> None:
    gray = (np.clip(textured_photo(60, 90, seed=3).mean(-1), 0, 1) * 255).astype(np.uint8)
    blk = (np.clip(textured_photo(20, 20, seed=5).mean(-1), 0, 1) * 255).astype(np.uint8)
    frames = np.repeat(gray[None], 3, axis=0)
    for i, x in enumerate((20, 32, 44)):  # a textured block 12 px a frame to the right over a still picture
        frames[i, 20:40, x : x + 20] = blk
    truth = np.zeros((3, 60, 90, 2), np.float32)
    truth[1, 20:40, 32:52, 0] = 12.0
    s = bf.FlowSet("t", frames, truth)
    cost = bf.photometric_cost(frames[0], frames[1], frames[2], truth[1])
    assert float(cost[24:36, 36:48].max()) < 1.0  # the block's own motion explains both neighbours

    def still(prev, cur, nxt):  # noqa: ANN001, ANN202
        return np.zeros_like(truth[1]), None

    def exact(prev, cur, nxt):  # noqa: ANN001, ANN202
        return truth[1], None

    assert bf.score([s], still)["truth_cheaper"] > 0.8  # matching could find the block's motion
    assert bf.score([s], exact)["truth_cheaper"] is None  # nothing wrong to judge
    flat = bf.FlowSet("flat", np.zeros_like(frames), truth)
    assert bf.score([flat], still)["truth_cheaper"] == 0.0  # nothing to match: the neighbours cannot tell
