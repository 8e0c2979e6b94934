"""CuPy twins of the native kernels, for frames that live on a GPU.

Same names, signatures and semantics as :mod:`unshutter.kernels.reference`,
taking and returning CuPy arrays (float32, C-contiguous; labels uint8).
:mod:`unshutter.kernels` sends CuPy inputs here after checking them, so the
functions below trust their inputs.

Importing this module never fails: CuPy is imported, and the CUDA source
compiled (NVRTC, ``--fmad=false`` so float32 arithmetic rounds like NumPy),
on the first call. :func:`available` says whether a call can work here.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from unshutter.kernels import reference as _reference

_BLOCK = 256

_SOURCE = r"""
typedef long long idx;

__device__ __forceinline__ float apply_sign(float x, float y) {
    return x > 0.f ? y : (x < 0.f ? -y : (x == 0.f ? 0.f : x));
}
__device__ __forceinline__ double apply_sign_d(float x, double y) {
    return x > 0.f ? y : (x < 0.f ? -y : (x == 0.f ? 0.0 : (double)x));
}
// float32 pow through double: within one float ulp of libm / NumPy
__device__ __forceinline__ float powf_(float a, float p) { return (float)pow((double)a, (double)p); }

__constant__ float LABEL_SIGNS[5][2] = {{0.f, 0.f}, {1.f, -1.f}, {-1.f, -1.f}, {-1.f, 1.f}, {1.f, 1.f}};

#define GRID_LOOP(i, n) for (idx i = (idx)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (idx)blockDim.x * gridDim.x)

extern "C" __global__ void quantize_motion(const float* m, float* o, idx n, float th, float eps) {
    GRID_LOOP(i, n) {
        const float mx = m[2 * i], my = m[2 * i + 1];
        const float mag = sqrtf(mx * mx + my * my);
        const int sx = (mx > eps) - (mx < -eps);
        const int sy = (my > eps) - (my < -eps);
        const int zx = sx == 0, zy = sy == 0;
        const int fx = (zx && !zy) ? sy : sx;
        const int fy = (zy && !zx) ? -sx : sy;
        const bool moving = (mag >= th) && !(zx && zy);
        o[2 * i] = moving ? (float)fx : 0.f;
        o[2 * i + 1] = moving ? (float)fy : 0.f;
    }
}

extern "C" __global__ void signs_to_labels(const float* s, unsigned char* lab, idx n) {
    GRID_LOOP(i, n) {
        const float sx = s[2 * i], sy = s[2 * i + 1];
        unsigned char l = 0;
        if (sx > 0.f && sy < 0.f) l = 1;
        if (sx < 0.f && sy < 0.f) l = 2;
        if (sx < 0.f && sy > 0.f) l = 3;
        if (sx > 0.f && sy > 0.f) l = 4;
        lab[i] = l;
    }
}

extern "C" __global__ void labels_to_signs(const unsigned char* lab, float* s, idx n, int* bad) {
    GRID_LOOP(i, n) {
        unsigned l = lab[i];
        if (l > 4) { atomicAdd(bad, 1); l = 0; }
        s[2 * i] = LABEL_SIGNS[l][0];
        s[2 * i + 1] = LABEL_SIGNS[l][1];
    }
}

extern "C" __global__ void clean_isolated(const unsigned char* lab, float* o, idx h, idx w) {
    GRID_LOOP(i, h * w) {
        const idx y = i / w, x = i - y * w;
        int counts[5] = {0, 0, 0, 0, 0};
        int total = 0;
        for (idx yy = y - 1; yy <= y + 1; ++yy)
            for (idx xx = x - 1; xx <= x + 1; ++xx) {
                if (yy < 0 || yy >= h || xx < 0 || xx >= w || (yy == y && xx == x)) continue;
                ++counts[lab[yy * w + xx]];
                ++total;
            }
        int l = lab[i];
        if (total > 0 && counts[l] == 0) {
            int best = 0;
            for (int c = 1; c < 5; ++c)
                if (counts[c] > counts[best]) best = c;
            l = best;
        }
        o[2 * i] = LABEL_SIGNS[l][0];
        o[2 * i + 1] = LABEL_SIGNS[l][1];
    }
}

extern "C" __global__ void composite_region(float* s, float* v, const float* m, idx n, float dx, float dy) {
    GRID_LOOP(i, n) {
        if (m[i] >= 0.5f) {
            s[2 * i] = dx;
            s[2 * i + 1] = dy;
            v[i] = 1.f;
        }
    }
}

extern "C" __global__ void accumulate_tile(float* acc, float* ws, idx W, idx C, const float* t, const float* wt,
                                           idx h, idx w, idx y0, idx x0) {
    GRID_LOOP(i, h * w) {
        const idx r = i / w, c = i - r * w;
        const float k = wt[i];
        float* a = acc + ((y0 + r) * W + x0 + c) * C;
        for (idx ch = 0; ch < C; ++ch) a[ch] += t[i * C + ch] * k;
        ws[(y0 + r) * W + x0 + c] += k;
    }
}

extern "C" __global__ void normalize_accumulated(const float* acc, const float* ws, float* o, idx n, idx C) {
    GRID_LOOP(i, n * C) {
        const float w = ws[i / C];
        const float d = w < 1e-12f ? 1e-12f : w;
        o[i] = acc[i] / d;
    }
}

extern "C" __global__ void lerp(const float* lo, const float* hi, float* o, idx n, float a) {
    const float b = 1.0f - a;
    GRID_LOOP(i, n) o[i] = lo[i] * b + hi[i] * a;
}

extern "C" __global__ void reblur_project(const float* sub, const float* t, float* o, idx n, idx m) {
    GRID_LOOP(j, m) {
        double acc = 0.0;
        for (idx k = 0; k < n; ++k) acc += (double)sub[k * m + j];
        const float delta = (float)((double)t[j] - acc / (double)n);
        for (idx k = 0; k < n; ++k) o[k * m + j] = sub[k * m + j] + delta;
    }
}

extern "C" __global__ void srgb_encode(const float* x, float* y, idx n) {
    GRID_LOOP(i, n) {
        const float a = fabsf(x[i]);
        const float v = a <= 0.0031308f ? a * 12.92f : 1.055f * powf_(a, (float)(1.0 / 2.4)) - 0.055f;
        y[i] = apply_sign(x[i], v);
    }
}

extern "C" __global__ void srgb_decode(const float* x, float* y, idx n) {
    GRID_LOOP(i, n) {
        const float a = fabsf(x[i]);
        const float v = a <= 0.04045f ? a / 12.92f : powf_((a + 0.055f) / 1.055f, 2.4f);
        y[i] = apply_sign(x[i], v);
    }
}

extern "C" __global__ void rec709_encode(const float* x, float* y, idx n) {
    GRID_LOOP(i, n) {
        const float a = fabsf(x[i]);
        const float v = a < 0.018f ? a * 4.5f : 1.099f * powf_(a, 0.45f) - 0.099f;
        y[i] = apply_sign(x[i], v);
    }
}

extern "C" __global__ void rec709_decode(const float* x, float* y, idx n) {
    GRID_LOOP(i, n) {
        const float a = fabsf(x[i]);
        const float v = a < 0.081f ? a / 4.5f : powf_((a + 0.099f) / 1.099f, (float)(1.0 / 0.45));
        y[i] = apply_sign(x[i], v);
    }
}

extern "C" __global__ void log_encode(const float* x, float* y, idx n) {
    GRID_LOOP(i, n) {
        const double a = fabs((double)x[i]);
        y[i] = (float)apply_sign_d(x[i], log2(1.0 + 255.0 * a) / 8.0);
    }
}

extern "C" __global__ void log_decode(const float* x, float* y, idx n) {
    GRID_LOOP(i, n) {
        const double a = fabs((double)x[i]);
        y[i] = (float)apply_sign_d(x[i], (exp2(a * 8.0) - 1.0) / 255.0);
    }
}

// ---- warp (planar [C, H, W]; see reference.flow_warp / warp_blend)
__device__ __forceinline__ float warp_tap(const float* p, idx h, idx w, float x, float y) {
    x = fminf(fmaxf(x, 0.f), (float)(w - 1));
    y = fminf(fmaxf(y, 0.f), (float)(h - 1));
    const float fx0 = floorf(x), fy0 = floorf(y);
    const float ax = x - fx0, ay = y - fy0;
    const idx x0 = (idx)fx0, y0 = (idx)fy0;
    const idx x1 = x0 + 1 < w ? x0 + 1 : w - 1, y1 = y0 + 1 < h ? y0 + 1 : h - 1;
    return (1.f - ax) * (1.f - ay) * p[y0 * w + x0] + ax * (1.f - ay) * p[y0 * w + x1]
         + (1.f - ax) * ay * p[y1 * w + x0] + ax * ay * p[y1 * w + x1];
}

extern "C" __global__ void flow_warp(const float* src, const float* motion, float* out, const float* base,
                                     const float* gate, idx c, idx h, idx w, idx k, int blend) {
    const idx hw = h * w;
    GRID_LOOP(j, k * hw) {
        const idx i = j / hw, p = j % hw;
        const float t = (float)(((double)i + 0.5) / (double)k - 0.5);
        const float x = (float)(p % w) - t * motion[p];
        const float y = (float)(p / w) - t * motion[hw + p];
        for (idx ch = 0; ch < c; ++ch) {
            const float v = warp_tap(src + ch * hw, h, w, x, y);
            float* o = out + (i * c + ch) * hw + p;
            if (blend) {
                const float b = base[ch * hw + p];
                *o = (b + gate[i * hw + p] * (v - b)) + *o;
            } else {
                *o = v;
            }
        }
    }
}
"""


def _cupy() -> Any:
    import cupy

    return cupy


def available() -> bool:
    """True when CuPy imports and sees at least one CUDA device."""
    try:
        cp = _cupy()
        return cp.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 - any CuPy/CUDA failure means "no GPU here"
        return False


@functools.cache
def _module(device: int) -> Any:
    cp = _cupy()
    return cp.RawModule(code=_SOURCE, options=("--fmad=false", "-std=c++14"))


def _launch(name: str, n: int, *args: Any) -> None:
    if n <= 0:
        return
    cp = _cupy()
    fn = _module(cp.cuda.Device().id).get_function(name)
    grid = min((n + _BLOCK - 1) // _BLOCK, 65535 * 4)
    fn((grid,), (_BLOCK,), args)


def _i(v: int) -> np.int64:
    return np.int64(v)


# ---------------------------------------------------------------- guidance


def quantize_motion(motion: Any, threshold: float) -> Any:
    """See :func:`unshutter.kernels.quantize_motion`. Shape: [H, W, 2] -> [H, W, 2]."""
    cp = _cupy()
    out = cp.empty_like(motion)
    n = motion.shape[0] * motion.shape[1]
    _launch("quantize_motion", n, motion, out, _i(n), np.float32(threshold), np.float32(0.25 * threshold))
    return out


def signs_to_labels(signs: Any) -> Any:
    """See :func:`unshutter.kernels.signs_to_labels`. Shape: [H, W, 2] -> [H, W] uint8."""
    cp = _cupy()
    out = cp.empty(signs.shape[:2], cp.uint8)
    _launch("signs_to_labels", out.size, signs, out, _i(out.size))
    return out


def labels_to_signs(labels: Any) -> Any:
    """See :func:`unshutter.kernels.labels_to_signs`. Shape: [H, W] uint8 -> [H, W, 2]."""
    cp = _cupy()
    out = cp.empty(labels.shape + (2,), cp.float32)
    bad = cp.zeros((1,), cp.int32)
    _launch("labels_to_signs", labels.size, labels, out, _i(labels.size), bad)
    if int(bad.get()[0]):
        raise ValueError("labels_to_signs: labels outside 0..4")
    return out


def clean_isolated(signs: Any) -> Any:
    """See :func:`unshutter.kernels.clean_isolated`. Shape: [H, W, 2] -> [H, W, 2]."""
    cp = _cupy()
    h, w = signs.shape[:2]
    lab = signs_to_labels(signs)
    out = cp.empty_like(signs)
    _launch("clean_isolated", h * w, lab, out, _i(h), _i(w))
    return out


def composite_region(signs: Any, valid: Any, matte: Any, direction: tuple[float, float]) -> None:
    """See :func:`unshutter.kernels.composite_region` (in place)."""
    n = matte.size
    _launch("composite_region", n, signs, valid, matte, _i(n), np.float32(direction[0]), np.float32(direction[1]))


# ---------------------------------------------------------------- tiling


def feather_weight(h: int, w: int, overlap: int, top: bool, bottom: bool, left: bool, right: bool) -> Any:
    """See :func:`unshutter.kernels.feather_weight`; returns a CuPy array. Shape: -> [h, w]."""
    cp = _cupy()
    ry = _reference.feather_weight(h, 1, overlap, top, bottom, False, False)[:, 0]  # the 1-D ramps
    rx = _reference.feather_weight(1, w, overlap, False, False, left, right)[0]
    return cp.outer(cp.asarray(ry), cp.asarray(rx)).astype(cp.float32, copy=False)


def accumulate_tile(acc: Any, wsum: Any, tile_out: Any, weight: Any, y0: int, x0: int) -> None:
    """See :func:`unshutter.kernels.accumulate_tile` (in place)."""
    h, w = weight.shape
    big_w, c = acc.shape[1], acc.shape[2]
    _launch("accumulate_tile", h * w, acc, wsum, _i(big_w), _i(c), tile_out, weight, _i(h), _i(w), _i(y0), _i(x0))


def normalize_accumulated(acc: Any, wsum: Any) -> Any:
    """See :func:`unshutter.kernels.normalize_accumulated`. Shape: [H, W, C] -> [H, W, C]."""
    cp = _cupy()
    out = cp.empty_like(acc)
    n = wsum.size
    _launch("normalize_accumulated", acc.size, acc, wsum, out, _i(n), _i(acc.shape[2]))
    return out


# ---------------------------------------------------------------- retime


def resample_subframes(sub: Any, n: int) -> Any:
    """See :func:`unshutter.kernels.resample_subframes`. Shape: [K, H, W, C] -> [N, H, W, C]."""
    cp = _cupy()
    k = sub.shape[0]
    out = cp.empty((n,) + tuple(sub.shape[1:]), cp.float32)
    m = int(np.prod(sub.shape[1:]))
    for i in range(n):
        pos = (i + 0.5) / n * k - 0.5
        pos = min(max(pos, 0.0), k - 1.0)
        lo = int(np.floor(pos))
        hi = min(lo + 1, k - 1)
        _launch("lerp", m, sub[lo], sub[hi], out[i], _i(m), np.float32(pos - lo))
    return out


def reblur_project(sub: Any, target: Any) -> Any:
    """See :func:`unshutter.kernels.reblur_project`. Shape: [N, H, W, C], [H, W, C] -> [N, H, W, C]."""
    cp = _cupy()
    out = cp.empty_like(sub)
    _launch("reblur_project", target.size, sub, target, out, _i(sub.shape[0]), _i(target.size))
    return out


# ---------------------------------------------------------------- warp


def flow_warp(src: Any, motion: Any, k: int) -> Any:
    """See :func:`unshutter.kernels.flow_warp`. Shape: [C, H, W], [2, H, W] -> [K, C, H, W]."""
    cp = _cupy()
    c, h, w = src.shape
    out = cp.empty((k, c, h, w), cp.float32)
    _launch("flow_warp", k * h * w, src, motion, out, src, motion, _i(c), _i(h), _i(w), _i(k), np.int32(0))
    return out


def warp_blend(res: Any, base: Any, sharp: Any, motion: Any, gate: Any) -> None:
    """See :func:`unshutter.kernels.warp_blend` (in place)."""
    k, c, h, w = res.shape
    _launch("flow_warp", k * h * w, sharp, motion, res, base, gate, _i(c), _i(h), _i(w), _i(k), np.int32(1))


# ---------------------------------------------------------------- transfer


def _transfer(name: str, x: Any) -> Any:
    cp = _cupy()
    out = cp.empty_like(x)
    _launch(name, x.size, x, out, _i(x.size))
    return out


def srgb_encode(x: Any) -> Any:
    """See :func:`unshutter.kernels.srgb_encode`."""
    return _transfer("srgb_encode", x)


def srgb_decode(y: Any) -> Any:
    """See :func:`unshutter.kernels.srgb_decode`."""
    return _transfer("srgb_decode", y)


def rec709_encode(x: Any) -> Any:
    """See :func:`unshutter.kernels.rec709_encode`."""
    return _transfer("rec709_encode", x)


def rec709_decode(y: Any) -> Any:
    """See :func:`unshutter.kernels.rec709_decode`."""
    return _transfer("rec709_decode", y)


def log_encode(x: Any) -> Any:
    """See :func:`unshutter.kernels.log_encode`."""
    return _transfer("log_encode", x)


def log_decode(y: Any) -> Any:
    """See :func:`unshutter.kernels.log_decode`."""
    return _transfer("log_decode", y)
