"""bench.motion: per-step DIS motion, inside/boundary/judder, span ratio, detail, on textures whose answers are known."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from tests.conftest import textured_photo
from unshutter import kernels
from unshutter.bench import motion as M

H, W = 96, 128


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """sRGB-encoded texture, larger than the frames so a crop can travel. Shape: [H0, W0, 3]."""
    return kernels.srgb_encode(textured_photo(200, 320, seed=5))


def pan(photo: np.ndarray, xs: list[float]) -> np.ndarray:
    """Frames seeing the texture moved right by xs[t] px. Shape: -> [T, H, W, 3]."""
    out = []
    for x in xs:
        m = np.float32([[1, 0, x - 40], [0, 1, -40]])  # screen = texture + (x - 40, -40)
        out.append(cv2.warpAffine(photo, m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
    return np.stack(out)


def test_a_texture_moving_3_px_per_step_has_p95_3_and_a_still_one_0(photo: np.ndarray) -> None:
    steps = M.step_motion(pan(photo, [3.0 * t for t in range(5)]))
    assert steps.shape == (4,)
    np.testing.assert_allclose(steps, 3.0, atol=0.4)
    still = M.step_motion(pan(photo, [0.0] * 3))
    assert still.max() < 0.05


def test_inside_boundary_and_judder_from_known_steps() -> None:
    # n = 3: steps 0,1 inside frame 0; step 2 crosses to frame 1; ...
    r = M.summarize_steps(np.array([1.0, 1.0, 5.0, 1.0, 1.0, 5.0, 1.0, 1.0]), 3)
    assert (r.inside, r.boundary, r.judder, r.steps) == (1.0, 5.0, 5.0, 8)
    assert M.judder(0.0, 4.0) == math.inf  # the identity: still inside, jumps at boundaries
    assert M.span_ratio(M.RunMotion(2.0, 2.0, 1.0, 4), M.RunMotion(4.0, 4.0, 1.0, 4)) == 0.5


def test_steady_motion_has_judder_1_and_a_stutter_much_more(photo: np.ndarray) -> None:
    n, f = 4, 3
    truth = pan(photo, [2.0 * t for t in range(n * f)])
    rt = M.run_motion(truth, n)
    assert rt.inside == pytest.approx(2.0, abs=0.3)
    assert rt.judder == pytest.approx(1.0, abs=0.2)
    # sub-frames huddle around each frame's middle (a quarter of the motion) and jump at the boundary
    mid = [2.0 * (n * (t // n) + (n - 1) / 2) + 0.25 * 2.0 * ((t % n) - (n - 1) / 2) for t in range(n * f)]
    stutter = pan(photo, mid)
    rs = M.run_motion(stutter, n)
    assert rs.judder > 5.0, rs
    res = M.compare(stutter, truth, n, truth_motion=rt)
    assert res["span_ratio"] == pytest.approx(0.25, abs=0.1)


def test_a_blurred_copy_keeps_its_span_but_loses_detail(photo: np.ndarray) -> None:
    """The 4 px Gaussian check: span measures motion, not sharpness; detail measures sharpness."""
    n, f = 3, 2
    truth = pan(photo, [3.0 * t for t in range(n * f)])
    blurred = np.stack([cv2.GaussianBlur(x, (0, 0), 4.0) for x in truth])
    res = M.compare(blurred, truth, n)
    assert 0.8 < res["span_ratio"] < 1.2, res
    assert res["detail"] < 0.3, res
    assert M.compare(truth, truth, n)["detail"] == pytest.approx(1.0)


def test_detail_over_moving_pixels_sees_only_them(photo: np.ndarray) -> None:
    n = 2
    truth = pan(photo, [0.0, 1.0, 2.0, 3.0])
    motion = np.zeros((2, H, W, 2), np.float32)
    motion[:, :, W // 2 :, 0] = 10.0  # the right half moves more than 8 px per frame
    out = truth.copy()
    out[:, :, W // 2 :] = np.stack([cv2.GaussianBlur(x, (0, 0), 3.0) for x in truth])[:, :, W // 2 :]
    res = M.compare(out, truth, n, true_motion=motion)
    assert res["moving_fraction"] == pytest.approx(0.5)
    assert res["detail_moving"] < 0.4
    assert res["detail"] > res["detail_moving"] + 0.1  # the sharp static half counts only in the whole
    still = ~M.moving_mask(motion, n)
    assert M.detail(out, truth, still) == pytest.approx(1.0, abs=0.05)
    assert math.isnan(M.detail(out, truth, np.zeros((4, H, W), bool)))


def test_flat_detail_sees_ringing_beside_an_edge_where_the_truth_is_flat() -> None:
    """Parallel copies of a horizon in a smooth sky (a deconvolution's ringing) raise the flat detail well above
    the truth's 1; moving detail, which counts them as sharpness, hardly moves."""
    n = 2
    rng = np.random.default_rng(3)
    y = np.arange(H, dtype=np.float32)[:, None, None]
    sky = 0.8 - 0.001 * y + rng.normal(0.0, 0.002, (H, W, 1)).astype(np.float32)  # smooth, not exactly flat
    ground = 0.3 + 0.15 * rng.random((H, W, 1)).astype(np.float32)
    horizon = 1.0 / (1.0 + np.exp(-(y - 48.0)))
    truth = np.repeat((sky + horizon * (ground - sky))[None].repeat(3, -1), 4, axis=0).astype(np.float32)
    copies = sum(0.04 * np.exp(-0.5 * ((y - 48.0 + d) / 0.8) ** 2) for d in (12.0, 24.0))  # two wavy-less copies
    ringing = np.clip(truth + copies, 0.0, 1.0).astype(np.float32)
    motion = np.zeros((2, H, W, 2), np.float32)
    motion[..., 1] = 20.0  # a tilt of 20 px per frame: everything moves
    clean = M.compare(truth, truth, n, true_motion=motion)
    rung = M.compare(ringing, truth, n, true_motion=motion)
    assert clean["detail_flat"] == pytest.approx(1.0)
    assert rung["detail_flat"] > 2.0, rung
    assert rung["detail_moving"] < 1.3, rung
    flat = M.flat_mask(truth)
    assert flat[:, 10:40].mean() > 0.9 and not flat[:, 46:51].any()  # the sky is flat, the horizon is not


def test_a_run_must_be_whole_source_frames(photo: np.ndarray) -> None:
    with pytest.raises(ValueError, match="not whole source frames"):
        M.run_motion(pan(photo, [0.0, 1.0, 2.0]), 2)


def test_apparent_time_finds_where_a_frame_sits_in_the_truth(photo: np.ndarray) -> None:
    truth = pan(photo, [1.0 * t for t in range(7)])
    assert M.apparent_time(truth[4], truth) == pytest.approx(4.0, abs=0.02)
    halfway = pan(photo, [2.5])[0]
    assert M.apparent_time(halfway, truth) == pytest.approx(2.5, abs=0.2)
