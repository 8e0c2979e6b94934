"""bench.runs: runs of consecutive frames from a sharp shot, the flow-warp baseline at the output times, scoring."""

from __future__ import annotations

import math

import numpy as np
import pytest

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
