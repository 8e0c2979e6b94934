"""bench.runs: runs of consecutive frames from a sharp shot, the flow-warp baseline at the output times, scoring."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.bench.conftest import BLOCK_SPEED
from tests.conftest import textured_photo
from unshutter import kernels
from unshutter.bench import runs
from unshutter.color import from_network
from unshutter.sample import render_clip


@pytest.fixture(scope="module")
def sharp() -> list[np.ndarray]:
    """32 sharp linear frames of a pan at 1.5 px per frame. Shape: each [96, 128, 3]."""
    return list(render_clip(textured_photo(), 32, 128, 96, speed=1.5, curve=0.0, samples=1))


def test_a_360_run_is_the_linear_mean_of_each_group(sharp: list[np.ndarray]) -> None:
    r = runs.real_run("pan_360", sharp, 7, 7)
    assert r.blurred.shape == (4, 96, 128, 3) and r.truth.shape == (4, 7, 96, 128, 3) and r.shutter == 360.0
    np.testing.assert_allclose(from_network(r.blurred[1], 1.0), np.mean(sharp[7:14], axis=0), atol=1e-5)
    assert list(r.scored) == [1, 2]
    assert r.open_slots().all()
    np.testing.assert_allclose(r.times(), (np.arange(7) + 0.5) / 7 - 0.5)
    # the picture moves left 1.5 px per source frame: 7 * 1.5 per blurred frame interval
    assert float(np.median(r.true_motion[1][..., 0])) == pytest.approx(-10.5, abs=1.0)


def test_a_180_run_averages_the_open_half_and_keeps_every_frame_as_truth(sharp: list[np.ndarray]) -> None:
    r = runs.real_run("pan_180", sharp, 8, 4)
    assert r.truth.shape == (4, 8, 96, 128, 3) and r.shutter == 180.0
    np.testing.assert_allclose(from_network(r.blurred[2], 1.0), np.mean(sharp[16:20], axis=0), atol=1e-5)
    assert r.open_slots().tolist() == [True] * 4 + [False] * 4
    np.testing.assert_allclose(r.times(), (np.arange(8) + 0.5) / 8 - 0.25)


def test_flow_warp_at_moves_along_the_motion_to_each_time() -> None:
    img = np.zeros((5, 41, 3), np.float32)
    img[2, 20] = 1.0
    m = np.zeros((5, 41, 2), np.float32)
    m[..., 0] = 8.0
    out = runs.flow_warp_at(img, m, np.array([-0.5, 0.0, 0.25, 1.0]))
    assert [int(np.argmax(o[2, :, 0])) for o in out] == [16, 20, 22, 28]
    assert np.array_equal(runs.flow_warp_at(img, None, np.zeros(3)), np.repeat(img[None], 3, axis=0))


def test_scores_the_truth_as_perfect_and_the_identity_as_still(sharp: list[np.ndarray]) -> None:
    r = runs.real_run("pan_180", sharp, 8, 4)
    outs = {"perfect": r.truth[1:3].copy(), **runs.baselines(r)}
    with pytest.raises(ValueError, match="not the scored frames"):
        runs.score(r, {"all": r.truth})
    res = runs.score(r, outs)
    assert res["perfect"]["span_ratio"] == pytest.approx(1.0)
    assert res["perfect"]["psnr_pooled"] > 100
    assert 0.7 < res["truth"]["judder"] < 1.4  # 1.5 px every step, boundary or not
    assert res["identity"]["inside"] < 0.05 and math.isinf(res["identity"]["judder"])
    assert res["identity"]["span_ratio"] < 0.05
    assert res["identity"]["psnr_gap_pooled"] < res["identity"]["psnr_open_pooled"]  # the gap is further away
    assert res["flow_warp"]["span_ratio"] > 0.7  # a pan is what flow-warp models
    assert res["identity"]["per_frame_span"][0] < 0.05 and len(res["identity"]["per_frame_span"]) == 2
    pooled = runs.pool([res, res])
    assert pooled["identity"]["psnr_pooled"] == pytest.approx(res["identity"]["psnr_pooled"])
    assert pooled["flow_warp"]["runs"] == 2


def test_strips_put_the_output_above_the_truth(tmp_path, sharp: list[np.ndarray]) -> None:  # noqa: ANN001
    from unshutter.bench.strips import LABEL_H, strip_image, write_strip

    enc = kernels.srgb_encode(np.stack(sharp[:3]))
    img = strip_image(enc * 0.5, enc)
    assert img.shape == (2 * (96 + LABEL_H), 3 * 128, 3) and img.dtype == np.uint8
    assert img[LABEL_H : LABEL_H + 96].mean() < img[2 * LABEL_H + 96 :].mean()  # the darker output on top
    p = write_strip(tmp_path / "s" / "a.png", enc * 0.5, enc)
    assert p.is_file() and [q.name for q in p.parent.iterdir()] == ["a.png"]


def test_chain_adds_displacements_along_the_path() -> None:
    a = np.zeros((20, 30, 2), np.float32)
    a[..., 0] = 2.0
    b = np.zeros((20, 30, 2), np.float32)
    b[:, :, 1] = 1.0
    b[:, 12:, 0] = 5.0  # only where the first step lands (x >= 12)
    out = runs.chain([a, b])
    assert out[5, 3].tolist() == pytest.approx([2.0, 1.0])
    assert out[5, 10].tolist() == pytest.approx([7.0, 1.0])


def test_the_true_motion_of_a_fast_pan_is_chained_from_the_exposures_middle() -> None:
    """A pan at 9 px per source frame: the motion at the exposure's middle, chained one source frame at a
    time, is 63 px per blurred frame interval at 360 degrees (7 frames) and 72 at 180 (8). Both runs of a shot
    share one truth, whose flows between consecutive sharp frames are computed once."""
    fast = list(render_clip(textured_photo(), 24, 160, 96, speed=9.0, curve=0.0, samples=1))
    truth = runs.RealTruth(fast)
    r360 = runs.real_run("fast_360", fast, 7, 7, truth)
    steps = len(truth._steps)
    r180 = runs.real_run("fast_180", fast, 8, 4, truth)
    assert float(np.median(r360.true_motion[1][24:-24, 40:-40, 0])) == pytest.approx(-63.0, abs=3.0)
    assert float(np.median(r180.true_motion[1][24:-24, 40:-40, 0])) == pytest.approx(-72.0, abs=3.0)
    assert len(truth._steps) < 2 * steps  # the 180 run reuses most of the 360 run's steps
    assert truth.middle(7, 7) == 10 and truth.middle(8, 4) == 9.5 and truth.nearest(8, 4) == 10


def _edges_centre(mx: np.ndarray, threshold: float) -> float:
    """Mean over the block's rows of the midpoint of where |motion x| first and last crosses ``threshold``
    (linear between pixels). Shape: mx [H, W]."""
    mids = []
    for row in np.abs(mx[32:64]):
        i = int(np.argmax(row > threshold))
        j = len(row) - 1 - int(np.argmax(row[::-1] > threshold))
        left = i - 1 + (threshold - row[i - 1]) / (row[i] - row[i - 1])
        right = j + (row[j] - threshold) / (row[j] - row[j + 1])
        mids.append(0.5 * (left + right))
    return float(np.mean(mids))


def test_an_even_exposures_true_motion_sits_halfway_between_its_two_middle_frames(
    moving_block: list[np.ndarray],
) -> None:
    """4 of every 8 source frames exposed: the middle is 1.5 frames in. The block's moving pixels there sit
    halfway between where they are at the source frames either side (the middles of 3 and of 5 exposed
    frames, which are odd and keep their middle frame's motion), not on the later one, half a step (3 px)
    further on."""
    truth = runs.RealTruth(moving_block)
    speed = BLOCK_SPEED * 8  # px per blurred frame interval
    odd = [truth.motion(8, 8, e) for e in (3, 5)]  # middles: source frames 9 and 10
    assert np.array_equal(odd[0], truth.motion_at(9, 8)) and np.array_equal(odd[1], truth.motion_at(10, 8))
    even = truth.motion(8, 8, 4)  # middle: 9.5
    at = [_edges_centre(m[..., 0], speed / 2) for m in (*odd, even)]
    assert at[1] - at[0] == pytest.approx(BLOCK_SPEED, abs=0.5)  # the block moved a step between them
    assert at[2] == pytest.approx(0.5 * (at[0] + at[1]), abs=0.25)
    assert float(np.median(even[34:62, :, 0][np.abs(even[34:62, :, 0]) > speed / 2])) == pytest.approx(speed, abs=1)
    r = runs.real_run("block_180", moving_block, 8, 4, truth)
    assert np.array_equal(r.true_motion[1], even)  # the run's true motion (its moving pixels) is the middle's
