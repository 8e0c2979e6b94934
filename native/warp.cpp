// Flow warps of the decomposer's split contract (reference.py, section "warp"):
// the K backward warps of a frame by t_k times its exposure motion, and the
// blend of the network's outputs into sub-frames. Planar [C, H, W] layout,
// the network's own, so nothing is transposed on the way in or out.
//
// On AVX-512 machines 16 pixels of a row go at once (their taps gathered);
// every lane does the scalar path's float32 operations in the same order, so
// the results are the same to the bit (tests/kernels/test_kernels_agree.py).
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "bilinear.hpp"
#include "kernels.hpp"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(UNSHUTTER_NO_CLONES)
#include <immintrin.h>
#define UNSHUTTER_WARP_AVX512 1
// GCC 12's AVX-512 intrinsics start from self-initialised "undefined" vectors, which -Wall
// reports as maybe uninitialised wherever they are inlined (GCC bug 105593, fixed in 13).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace unshutter {
namespace {

inline float sample(const float* p, const Tap& t) {
    return t.w00 * p[t.i00] + t.w01 * p[t.i01] + t.w10 * p[t.i10] + t.w11 * p[t.i11];
}

inline float time_of(idx i, idx k) {
    return static_cast<float>((static_cast<double>(i) + 0.5) / static_cast<double>(k) - 0.5);
}

// Pixels [x0, w) of output row y of sub-frame i (time t), one at a time.
template <bool Blend>
void warp_pixels(const float* src, const float* mx, const float* my, float t, idx y, idx x0, idx c, idx h, idx w,
                 const float* base, const float* gate_i, float* out_i) {
    const idx hw = h * w;
    for (idx x = x0; x < w; ++x) {
        const Tap tp = tap(static_cast<float>(x) - t * mx[x], static_cast<float>(y) - t * my[x], h, w);
        const idx p = y * w + x;
        for (idx ch = 0; ch < c; ++ch) {
            const float v = sample(src + ch * hw, tp);
            float* o = out_i + ch * hw + p;
            if constexpr (Blend) {
                const float b = base[ch * hw + p];
                *o = (b + gate_i[p] * (v - b)) + *o;
            } else {
                *o = v;
            }
        }
    }
}

#ifdef UNSHUTTER_WARP_AVX512
// warp_pixels for the row's first pixels in blocks of 16; returns where the scalar tail starts.
// Each lane repeats bilinear.hpp's tap and sample(): std::max(v, 0) is MAXPS(0, v) and
// std::min(v, w - 1) is MINPS(w - 1, v) (the same results for signed zeros), the floor is
// exact, the products and sums are rounded one by one in the scalar order (-ffp-contract=off).
template <bool Blend>
__attribute__((target("avx512f"))) idx warp_pixels_avx512(const float* src, const float* mx, const float* my, float t,
                                                          idx y, idx c, idx h, idx w, const float* base,
                                                          const float* gate_i, float* out_i) {
    const idx hw = h * w;
    const __m512 tv = _mm512_set1_ps(t), zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
    const __m512 xmax = _mm512_set1_ps(static_cast<float>(w - 1)), ymax = _mm512_set1_ps(static_cast<float>(h - 1));
    const __m512 yf = _mm512_set1_ps(static_cast<float>(y));
    const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i wv = _mm512_set1_epi32(static_cast<int>(w)), last_x = _mm512_set1_epi32(static_cast<int>(w - 1)),
                  last_y = _mm512_set1_epi32(static_cast<int>(h - 1)), one_i = _mm512_set1_epi32(1);
    idx x = 0;
    for (; x + 16 <= w; x += 16) {
        const __m512 xf = _mm512_cvtepi32_ps(_mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(x)), lanes));
        __m512 px = _mm512_sub_ps(xf, _mm512_mul_ps(tv, _mm512_loadu_ps(mx + x)));
        __m512 py = _mm512_sub_ps(yf, _mm512_mul_ps(tv, _mm512_loadu_ps(my + x)));
        px = _mm512_min_ps(xmax, _mm512_max_ps(zero, px));
        py = _mm512_min_ps(ymax, _mm512_max_ps(zero, py));
        const __m512 fx0 = _mm512_roundscale_ps(px, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
        const __m512 fy0 = _mm512_roundscale_ps(py, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
        const __m512 ax = _mm512_sub_ps(px, fx0), ay = _mm512_sub_ps(py, fy0);
        const __m512i x0 = _mm512_cvttps_epi32(fx0), y0 = _mm512_cvttps_epi32(fy0);
        const __m512i x1 = _mm512_min_epi32(_mm512_add_epi32(x0, one_i), last_x);
        const __m512i y1 = _mm512_min_epi32(_mm512_add_epi32(y0, one_i), last_y);
        const __m512i r0 = _mm512_mullo_epi32(y0, wv), r1 = _mm512_mullo_epi32(y1, wv);
        const __m512i i00 = _mm512_add_epi32(r0, x0), i01 = _mm512_add_epi32(r0, x1);
        const __m512i i10 = _mm512_add_epi32(r1, x0), i11 = _mm512_add_epi32(r1, x1);
        const __m512 bx = _mm512_sub_ps(one, ax), by = _mm512_sub_ps(one, ay);
        const __m512 w00 = _mm512_mul_ps(bx, by), w01 = _mm512_mul_ps(ax, by);
        const __m512 w10 = _mm512_mul_ps(bx, ay), w11 = _mm512_mul_ps(ax, ay);
        const idx p = y * w + x;
        for (idx ch = 0; ch < c; ++ch) {
            const float* plane = src + ch * hw;
            __m512 v = _mm512_mul_ps(w00, _mm512_i32gather_ps(i00, plane, 4));
            v = _mm512_add_ps(v, _mm512_mul_ps(w01, _mm512_i32gather_ps(i01, plane, 4)));
            v = _mm512_add_ps(v, _mm512_mul_ps(w10, _mm512_i32gather_ps(i10, plane, 4)));
            v = _mm512_add_ps(v, _mm512_mul_ps(w11, _mm512_i32gather_ps(i11, plane, 4)));
            float* o = out_i + ch * hw + p;
            if constexpr (Blend) {
                const __m512 b = _mm512_loadu_ps(base + ch * hw + p);
                const __m512 g = _mm512_loadu_ps(gate_i + p);
                v = _mm512_add_ps(_mm512_add_ps(b, _mm512_mul_ps(g, _mm512_sub_ps(v, b))), _mm512_loadu_ps(o));
            }
            _mm512_storeu_ps(o, v);
        }
    }
    return x;
}

bool use_avx512(idx h, idx w) {
    static const bool avx512 = __builtin_cpu_supports("avx512f");
    return avx512 && h * w < (idx{1} << 31);  // gathers take 32-bit indices into a plane
}
#endif

// Rows [r0, r1) of the k*h output rows (row r: sub-frame r / h, image row r % h).
template <bool Blend>
void warp_rows(const float* src, const float* motion, idx c, idx h, idx w, idx k, const float* base, const float* gate,
               float* out, idx r0, idx r1) {
    const idx hw = h * w;
#ifdef UNSHUTTER_WARP_AVX512
    const bool wide = use_avx512(h, w);
#endif
    for (idx r = r0; r < r1; ++r) {
        const idx i = r / h, y = r % h;
        const float t = time_of(i, k);
        const float* mx = motion + y * w;
        const float* my = motion + hw + y * w;
        const float* gate_i = Blend ? gate + i * hw : nullptr;
        float* out_i = out + i * c * hw;
        idx x0 = 0;
#ifdef UNSHUTTER_WARP_AVX512
        if (wide) x0 = warp_pixels_avx512<Blend>(src, mx, my, t, y, c, h, w, base, gate_i, out_i);
#endif
        warp_pixels<Blend>(src, mx, my, t, y, x0, c, h, w, base, gate_i, out_i);
    }
}

}  // namespace

void flow_warp(const float* src, const float* motion, float* out, idx c, idx h, idx w, idx k) {
    parallel_ranges(
        k * h, [&](idx b, idx e) { warp_rows<false>(src, motion, c, h, w, k, nullptr, nullptr, out, b, e); },
        k * c * h * w);
}

void warp_blend(float* res, const float* base, const float* sharp, const float* motion, const float* gate, idx c, idx h,
                idx w, idx k) {
    parallel_ranges(
        k * h, [&](idx b, idx e) { warp_rows<true>(sharp, motion, c, h, w, k, base, gate, res, b, e); }, k * c * h * w);
}

}  // namespace unshutter
