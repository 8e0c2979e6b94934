"""The CuPy twins agree with the NumPy reference. Run only where CuPy sees a CUDA GPU."""

from __future__ import annotations

import numpy as np
import pytest

import unshutter.kernels as K
from tests.kernels.helpers import F32, assert_rel, special_floats, wide_floats
from unshutter.kernels import gpu
from unshutter.kernels import reference as ref

pytestmark = pytest.mark.skipif(
    not gpu.available(), reason="CuPy twins need CuPy and a CUDA GPU; this machine has neither"
)

TRANSFERS = ["srgb_encode", "srgb_decode", "rec709_encode", "rec709_decode", "log_encode", "log_decode"]


@pytest.fixture()
def cp():
    import cupy

    return cupy


def quiet(fn, *args):
    with np.errstate(all="ignore"):
        return fn(*args)


@pytest.mark.parametrize("name", TRANSFERS)
def test_transfer(cp, rng, name):
    x = np.concatenate(
        [
            wide_floats(rng, (50001,)),
            special_floats(0.0031308, 0.04045, 0.018, 0.081),
            (rng.standard_normal(1000) * 3).astype(F32),
        ]
    )
    got = getattr(K, name)(cp.asarray(x))
    assert isinstance(got, cp.ndarray)
    assert_rel(cp.asnumpy(got), quiet(getattr(ref, name), x))


@pytest.mark.parametrize("hw", [(1, 1), (2, 3), (37, 53), (181, 211)])
def test_guidance(cp, rng, hw):
    m = (rng.standard_normal(hw + (2,)) * 3).astype(F32)
    m.reshape(-1)[:3] = [np.nan, np.inf, 0.25]
    s = quiet(ref.quantize_motion, m, 1.0)
    np.testing.assert_array_equal(cp.asnumpy(K.quantize_motion(cp.asarray(m), 1.0)), s)
    noisy = rng.choice(np.array([-1, 0, 1], F32), size=hw + (2,))
    np.testing.assert_array_equal(cp.asnumpy(K.signs_to_labels(cp.asarray(noisy))), ref.signs_to_labels(noisy))
    np.testing.assert_array_equal(cp.asnumpy(K.clean_isolated(cp.asarray(noisy))), ref.clean_isolated(noisy))
    lab = ref.signs_to_labels(noisy)
    np.testing.assert_array_equal(cp.asnumpy(K.labels_to_signs(cp.asarray(lab))), ref.labels_to_signs(lab))
    matte = rng.random(hw, dtype=F32)
    v = np.zeros(hw, F32)
    s1, v1 = cp.asarray(noisy), cp.asarray(v)
    K.composite_region(s1, v1, cp.asarray(matte), (1.0, -1.0))
    s2, v2 = noisy.copy(), v.copy()
    ref.composite_region(s2, v2, matte, (1.0, -1.0))
    np.testing.assert_array_equal(cp.asnumpy(s1), s2)
    np.testing.assert_array_equal(cp.asnumpy(v1), v2)


def test_labels_out_of_range(cp):
    with pytest.raises(ValueError, match="0..4"):
        K.labels_to_signs(cp.full((2, 2), 9, cp.uint8))


def test_tiling(cp, rng):
    H, W, C = 71, 93, 21
    acc = cp.zeros((H, W, C), cp.float32)
    ws = cp.zeros((H, W), cp.float32)
    acc2 = np.zeros((H, W, C), F32)
    ws2 = np.zeros((H, W), F32)
    for y0, x0, h, w in [(0, 0, 40, 50), (31, 0, 40, 50), (0, 43, 40, 50), (31, 43, 40, 50)]:
        t = rng.standard_normal((h, w, C)).astype(F32)
        flags = (y0 > 0, y0 + h < H, x0 > 0, x0 + w < W)
        wt = gpu.feather_weight(h, w, 8, *flags)
        np.testing.assert_array_equal(cp.asnumpy(wt), ref.feather_weight(h, w, 8, *flags))
        K.accumulate_tile(acc, ws, cp.asarray(t), wt, y0, x0)
        ref.accumulate_tile(acc2, ws2, t, cp.asnumpy(wt), y0, x0)
    np.testing.assert_array_equal(cp.asnumpy(acc), acc2)
    np.testing.assert_array_equal(cp.asnumpy(K.normalize_accumulated(acc, ws)), ref.normalize_accumulated(acc2, ws2))


@pytest.mark.parametrize("k,n", [(1, 1), (7, 8), (7, 3), (3, 13)])
def test_retime(cp, rng, k, n):
    sub = rng.standard_normal((k, 5, 7, 3)).astype(F32)
    np.testing.assert_array_equal(cp.asnumpy(K.resample_subframes(cp.asarray(sub), n)), ref.resample_subframes(sub, n))
    target = rng.standard_normal((5, 7, 3)).astype(F32)
    assert_rel(cp.asnumpy(K.reblur_project(cp.asarray(sub), cp.asarray(target))), ref.reblur_project(sub, target))


def test_mixed_devices_raise(cp):
    with pytest.raises(TypeError, match="mix"):
        K.normalize_accumulated(cp.zeros((2, 2, 3), cp.float32), np.zeros((2, 2), F32))


def test_warp(cp, rng):
    k, c, h, w = 7, 3, 37, 53
    src = rng.random((c, h, w), dtype=F32)
    motion = (rng.standard_normal((2, h, w)) * 6).astype(F32)
    got = K.flow_warp(cp.asarray(src), cp.asarray(motion), k)
    np.testing.assert_allclose(cp.asnumpy(got), ref.flow_warp(src, motion, k), rtol=0, atol=1e-6)
    res = rng.standard_normal((k, c, h, w)).astype(F32)
    base, gate = rng.random((c, h, w), dtype=F32), rng.standard_normal((k, h, w)).astype(F32)
    want = res.copy()
    ref.warp_blend(want, base, src, motion, gate)
    res_d = cp.asarray(res)
    K.warp_blend(res_d, cp.asarray(base), cp.asarray(src), cp.asarray(motion), cp.asarray(gate))
    np.testing.assert_allclose(cp.asnumpy(res_d), want, rtol=0, atol=1e-5)
