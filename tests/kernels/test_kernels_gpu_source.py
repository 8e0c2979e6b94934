"""The CUDA source of the CuPy twins, compiled for the CPU with a C++ compiler, agrees with the reference.

Machines without a GPU cannot run the twins (test_kernels_gpu.py is skipped
there), but the kernels' logic can still be checked: the CUDA keywords are
mocked so one "thread" walks every index, and the result must match NumPy.
CUDA's own math library (pow, log2, exp2) is replaced by the C++ one here.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess

import numpy as np
import pytest

from tests.kernels.helpers import F32, assert_rel, special_floats, wide_floats
from unshutter.kernels import gpu
from unshutter.kernels import reference as ref

CXX = shutil.which("g++") or shutil.which("c++")
pytestmark = pytest.mark.skipif(CXX is None, reason="needs a C++ compiler to build the CUDA source for the CPU")

MOCK = r"""
#include <cmath>
#define __global__
#define __device__
#define __forceinline__ inline
#define __constant__
struct Dim { long long x; };
static Dim blockIdx{0}, threadIdx{0}, blockDim{1}, gridDim{1};
inline int atomicAdd(int* p, int v) { int o = *p; *p += v; return o; }
using std::exp2; using std::fabs; using std::log2; using std::pow;
inline float sqrtf(float x) { return std::sqrt(x); }
inline float fabsf(float x) { return std::fabs(x); }
inline float floorf(float x) { return std::floor(x); }
inline float fminf(float a, float b) { return std::fmin(a, b); }
inline float fmaxf(float a, float b) { return std::fmax(a, b); }
"""

LL, FL = ctypes.c_longlong, ctypes.c_float


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    d = tmp_path_factory.mktemp("cuda_on_cpu")
    src, so = d / "kernels.cpp", d / "kernels.so"
    src.write_text(MOCK + gpu._SOURCE)
    subprocess.run(
        [CXX, "-std=c++14", "-O1", "-ffp-contract=off", "-shared", "-fPIC", str(src), "-o", str(so)],
        check=True,
        capture_output=True,
    )
    return ctypes.CDLL(str(so))


def p(a):
    return a.ctypes.data_as(ctypes.c_void_p)


@pytest.mark.parametrize(
    "name", ["srgb_encode", "srgb_decode", "rec709_encode", "rec709_decode", "log_encode", "log_decode"]
)
def test_transfer(lib, rng, name):
    x = np.concatenate([wide_floats(rng, (20000,)), special_floats(0.0031308, 0.04045, 0.018, 0.081)])
    y = np.empty_like(x)
    getattr(lib, name)(p(x), p(y), LL(x.size))
    with np.errstate(all="ignore"):
        assert_rel(y, getattr(ref, name)(x))


def test_guidance(lib, rng):
    h, w = 37, 53
    m = (rng.standard_normal((h, w, 2)) * 3).astype(F32)
    m.reshape(-1)[:3] = [np.nan, np.inf, 0.25]
    out = np.empty_like(m)
    lib.quantize_motion(p(m), p(out), LL(h * w), FL(1.0), FL(0.25))
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(out, ref.quantize_motion(m, 1.0))
    s = rng.choice(np.array([-1, 0, 1, 0.5], F32), size=(h, w, 2))
    lab = np.empty((h, w), np.uint8)
    lib.signs_to_labels(p(s), p(lab), LL(lab.size))
    np.testing.assert_array_equal(lab, ref.signs_to_labels(s))
    out = np.empty_like(s)
    lib.clean_isolated(p(lab), p(out), LL(h), LL(w))
    np.testing.assert_array_equal(out, ref.clean_isolated(s))
    bad = np.zeros(1, np.int32)
    lab[0, 0] = 9
    lib.labels_to_signs(p(lab), p(out), LL(lab.size), p(bad))
    assert bad[0] == 1
    matte = rng.random((h, w), dtype=F32)
    v1, s1 = np.zeros((h, w), F32), s.copy()
    lib.composite_region(p(s1), p(v1), p(matte), LL(h * w), FL(1.0), FL(-1.0))
    v2, s2 = np.zeros((h, w), F32), s.copy()
    ref.composite_region(s2, v2, matte, (1.0, -1.0))
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(v1, v2)


def test_tiling_and_retime(lib, rng):
    H, W, C = 20, 30, 5
    acc, ws = np.zeros((H, W, C), F32), np.zeros((H, W), F32)
    acc2, ws2 = acc.copy(), ws.copy()
    t = rng.standard_normal((8, 9, C)).astype(F32)
    wt = rng.random((8, 9), dtype=F32)
    lib.accumulate_tile(p(acc), p(ws), LL(W), LL(C), p(t), p(wt), LL(8), LL(9), LL(3), LL(4))
    ref.accumulate_tile(acc2, ws2, t, wt, 3, 4)
    np.testing.assert_array_equal(acc, acc2)
    np.testing.assert_array_equal(ws, ws2)
    out = np.empty_like(acc)
    lib.normalize_accumulated(p(acc), p(ws), p(out), LL(ws.size), LL(C))
    np.testing.assert_array_equal(out, ref.normalize_accumulated(acc, ws))
    sub = rng.standard_normal((7, 5, 6, 3)).astype(F32)
    target = rng.standard_normal((5, 6, 3)).astype(F32)
    out = np.empty_like(sub)
    lib.reblur_project(p(sub), p(target), p(out), LL(7), LL(target.size))
    assert_rel(out, ref.reblur_project(sub, target))
    lo, hi = sub[2], sub[3]
    out = np.empty_like(lo)
    lib.lerp(p(lo), p(hi), p(out), LL(lo.size), FL(0.375))
    np.testing.assert_array_equal(out, lo * (F32(1) - F32(0.375)) + hi * F32(0.375))


def test_warp(lib, rng):
    k, c, h, w = 7, 3, 13, 17
    src = rng.random((c, h, w), dtype=F32)
    motion = (rng.standard_normal((2, h, w)) * 6).astype(F32)
    out = np.empty((k, c, h, w), F32)
    lib.flow_warp(p(src), p(motion), p(out), p(src), p(motion), LL(c), LL(h), LL(w), LL(k), ctypes.c_int(0))
    np.testing.assert_array_equal(out, ref.flow_warp(src, motion, k))
    res = rng.standard_normal((k, c, h, w)).astype(F32)
    base, gate = rng.random((c, h, w), dtype=F32), rng.standard_normal((k, h, w)).astype(F32)
    want = res.copy()
    ref.warp_blend(want, base, src, motion, gate)
    lib.flow_warp(p(src), p(motion), p(res), p(base), p(gate), LL(c), LL(h), LL(w), LL(k), ctypes.c_int(1))
    np.testing.assert_array_equal(res, want)
