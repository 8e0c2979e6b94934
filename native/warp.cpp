// Flow warps of the decomposer's split contract (reference.py, section "warp"):
// the K backward warps of a frame by t_k times its exposure motion, and the
// blend of the network's outputs into sub-frames. Planar [C, H, W] layout,
// the network's own, so nothing is transposed on the way in or out.
#include <algorithm>
#include <cmath>

#include "bilinear.hpp"
#include "kernels.hpp"

namespace unshutter {
namespace {

inline float sample(const float* p, const Tap& t) {
    return t.w00 * p[t.i00] + t.w01 * p[t.i01] + t.w10 * p[t.i10] + t.w11 * p[t.i11];
}

inline float time_of(idx i, idx k) {
    return static_cast<float>((static_cast<double>(i) + 0.5) / static_cast<double>(k) - 0.5);
}

// Rows [r0, r1) of the k*h output rows (row r: sub-frame r / h, image row r % h).
template <bool Blend>
void warp_rows(const float* src, const float* motion, idx c, idx h, idx w, idx k, const float* base,
               const float* gate, float* out, idx r0, idx r1) {
    const idx hw = h * w;
    for (idx r = r0; r < r1; ++r) {
        const idx i = r / h, y = r % h;
        const float t = time_of(i, k);
        const float* mx = motion + y * w;
        const float* my = motion + hw + y * w;
        for (idx x = 0; x < w; ++x) {
            const Tap tp = tap(static_cast<float>(x) - t * mx[x], static_cast<float>(y) - t * my[x], h, w);
            const idx p = y * w + x;
            for (idx ch = 0; ch < c; ++ch) {
                const float v = sample(src + ch * hw, tp);
                float* o = out + (i * c + ch) * hw + p;
                if constexpr (Blend) {
                    const float b = base[ch * hw + p];
                    *o = (b + gate[i * hw + p] * (v - b)) + *o;
                } else {
                    *o = v;
                }
            }
        }
    }
}

}  // namespace

void flow_warp(const float* src, const float* motion, float* out, idx c, idx h, idx w, idx k) {
    parallel_ranges(k * h, [&](idx b, idx e) { warp_rows<false>(src, motion, c, h, w, k, nullptr, nullptr, out, b, e); },
                    k * c * h * w);
}

void warp_blend(float* res, const float* base, const float* sharp, const float* motion, const float* gate, idx c,
                idx h, idx w, idx k) {
    parallel_ranges(k * h, [&](idx b, idx e) { warp_rows<true>(sharp, motion, c, h, w, k, base, gate, res, b, e); },
                    k * c * h * w);
}

}  // namespace unshutter
