"""Large motions from blurred neighbours: a fast object over a panning background, known truth.

DIS alone reads such motions far too short (tens of px read as a few); the
coarse block search that starts it, and the dominant-motion fill of flat
pixels, are what these tests hold in place. Each bound fails on the estimator
before them (:func:`unshutter.guidance.flow.central_dis_motion` without a start).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.conftest import textured_photo
from unshutter import color
from unshutter.guidance import flow
from unshutter.guidance.coarse_match import block_motion
from unshutter.guidance.dominant import affine_motion, fill_untextured, texture

H, W = 192, 320
FG = (72, 96)  # object h, w
SAMPLES = 24


def _scene(v_bg: float, v_fg: float, t: float, bg: np.ndarray, fg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sharp linear frame at time t and the object's mask. Shape: -> [H, W, 3], [H, W] bool."""
    m = np.float32([[1, 0, -(200.0 - v_bg * t)], [0, 1, 0]])  # the picture moves v_bg px per frame
    out = cv2.warpAffine(bg, m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    x0 = W / 2 - FG[1] / 2 + v_fg * t
    mf = np.float32([[1, 0, x0], [0, 1, (H - FG[0]) / 2]])
    obj = cv2.warpAffine(fg, mf, (W, H), flags=cv2.INTER_LINEAR, borderValue=0)
    a = cv2.warpAffine(np.ones(FG, np.float32), mf, (W, H), flags=cv2.INTER_LINEAR, borderValue=0)
    return out * (1 - a[..., None]) + obj * a[..., None], a >= 0.5


def blurred_clip(v_bg: float, v_fg: float) -> tuple[list[np.ndarray], np.ndarray]:
    """Three blurred 8-bit grey frames (360 degree shutter) and the true motion of the middle one.

    Shape: -> 3 x [H, W] uint8, [H, W, 2] px per frame interval
    """
    bg = textured_photo(H, W + 400, seed=1)
    fg = textured_photo(FG[0], FG[1], seed=5)[..., ::-1].copy()
    frames = []
    for f in (-1, 0, 1):
        acc = np.zeros((H, W, 3), np.float32)
        for s in range(SAMPLES):
            acc += _scene(v_bg, v_fg, f - 0.5 + (s + 0.5) / SAMPLES, bg, fg)[0]
        frames.append(flow.to_gray8(color.to_network(acc / SAMPLES, 1.0)))
    _, mask = _scene(v_bg, v_fg, 0.0, bg, fg)
    truth = np.zeros((H, W, 2), np.float32)
    truth[..., 0] = np.where(mask, v_fg, v_bg)
    return frames, truth


def _epe(m: np.ndarray, truth: np.ndarray, sel: np.ndarray) -> float:
    return float(np.sqrt(((m - truth) ** 2).sum(-1))[sel].mean())


@pytest.fixture(scope="module")
def fast() -> tuple[list[np.ndarray], np.ndarray]:
    return blurred_clip(-30.0, 80.0)


def test_a_fast_object_over_a_pan_is_read_at_its_speed(fast: tuple[list[np.ndarray], np.ndarray]) -> None:
    (p, c, n), truth = fast
    obj = truth[..., 0] > 0
    core = cv2.erode(obj.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    motion, used, trust = flow.neighbor_motion(p, c, n)
    assert used == "both" and motion is not None and trust is not None
    old, _ = flow.central_dis_motion(p, c, n)
    # the object moves 80 px per frame interval over a 30 px pan the other way; the plain estimator loses it
    assert _epe(old, truth, core) > 20.0
    assert _epe(motion, truth, core) < 4.0
    assert float(np.median(motion[core][:, 0])) == pytest.approx(80.0, abs=2.0)
    rows = np.flatnonzero(obj.any(axis=1))
    bg = np.ones_like(obj)
    bg[rows[0] - 12 : rows[-1] + 13] = False  # rows the object never crosses (nothing there is occluded)
    bg[:, :40] = bg[:, -40:] = False  # nor enters or leaves the frame
    assert _epe(motion, truth, bg) < 1.5


def test_the_coarse_search_finds_large_motion_both_ways() -> None:
    (p, c, n), truth = blurred_clip(-40.0, 0.0)
    # a 40 px pan; the (static) object is then the one thing not moving
    far = truth[..., 0] < 0
    m = block_motion(p, c, n)
    assert abs(float(np.median(m[far][:, 0])) + 40.0) < 4.0
    r = block_motion(n, c, p)  # time reversed: the motion reverses
    assert abs(float(np.median(r[far][:, 0])) - 40.0) < 4.0


def test_dis_starts_where_it_is_told() -> None:
    photo = color.to_network(textured_photo(H, W + 100, seed=2), 1.0)
    a = flow.to_gray8(np.ascontiguousarray(photo[:, 60 : 60 + W]))
    b = flow.to_gray8(np.ascontiguousarray(photo[:, 0:W]))  # a(p) = b(p + 60)
    start = np.zeros((H, W, 2), np.float32)
    start[..., 0] = 56.0
    f = flow.dis_flow(a, b, start)
    inner = f[16:-16, 16:-76]
    assert abs(float(np.median(inner[..., 0])) - 60.0) < 1.0


def test_flat_pixels_take_the_dominant_motion_unless_the_search_says_otherwise() -> None:
    h, w = 96, 128
    gray = np.full((h, w), 128, np.uint8)
    gray[:, : w // 2] = flow.to_gray8(color.to_network(textured_photo(h, w // 2, seed=3), 1.0))
    motion = np.zeros((h, w, 2), np.float32)
    motion[:, : w // 2, 0] = 20.0  # the textured half pans 20 px; DIS read the flat half as still
    trust = np.ones((h, w), np.float32)
    assert float(texture(gray)[:, w // 2 + 16 :].max()) < 1e-6
    model, share = affine_motion(motion, texture(gray) * trust)
    assert model is not None and share > 0.9
    out, t = fill_untextured(motion, trust, gray)
    assert abs(float(out[:, -8:, 0].mean()) - 20.0) < 0.5 and float(t[:, -8:].min()) > 0.9
    coarse = np.zeros_like(motion)
    coarse[..., 0] = 20.0
    coarse[:, w // 2 + 16 :, 0] = -30.0  # the search says the flat part moves the other way: keep the flow
    kept, _ = fill_untextured(motion, trust, gray, coarse)
    assert float(np.abs(kept[:, -8:, 0]).max()) < 0.5
