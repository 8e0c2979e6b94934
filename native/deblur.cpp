// Richardson-Lucy deconvolution of a frame along a per-pixel motion
// (reference.py, section "deblur"): the blur of pixel p is the mean of n(p)
// bilinear samples at p - t * m(p) for t evenly spread over the exposure, with
// n(p) taps at most `spacing` pixels apart (at least 1, at most max_taps).
// Interleaved [H, W, C] frames, motion [H, W, 2].
#include <algorithm>
#include <cstdint>
#include <cmath>
#include <vector>

#include "bilinear.hpp"
#include "kernels.hpp"

namespace unshutter {
namespace {

constexpr float kEps = 1e-4f;

struct Frame {
    idx h, w, c;
};

inline idx taps_of(float mx, float my, float span, float spacing, idx max_taps) {
    const float len = std::sqrt(mx * mx + my * my) * span;
    const idx n = static_cast<idx>(std::ceil(len / spacing));
    return std::min(std::max(n, idx{1}), max_taps);
}

// Mean of the taps of pixel (x, y) into acc[0..C): sign +1 is the blur, -1 its adjoint.
template <idx C>
inline void blur_at(const float* img, const Frame& f, idx x, idx y, float mx, float my, float span, idx n,
                    float sign, float* acc) {
    const idx c = C > 0 ? C : f.c;
    if (n == 1) {  // one tap at the middle of the exposure: the pixel itself (most of a frame that holds still)
        const float* q = img + (y * f.w + x) * c;
        for (idx ch = 0; ch < c; ++ch) acc[ch] = q[ch];
        return;
    }
    for (idx ch = 0; ch < c; ++ch) acc[ch] = 0.0f;
    const float inv = 1.0f / static_cast<float>(n);
    for (idx j = 0; j < n; ++j) {
        const float t = sign * span * ((static_cast<float>(j) + 0.5f) * inv - 0.5f);
        const Tap tp = tap(static_cast<float>(x) - t * mx, static_cast<float>(y) - t * my, f.h, f.w);
        const float* p00 = img + tp.i00 * c;
        const float* p01 = img + tp.i01 * c;
        const float* p10 = img + tp.i10 * c;
        const float* p11 = img + tp.i11 * c;
        for (idx ch = 0; ch < c; ++ch)
            acc[ch] += tp.w00 * p00[ch] + tp.w01 * p01[ch] + tp.w10 * p10[ch] + tp.w11 * p11[ch];
    }
    for (idx ch = 0; ch < c; ++ch) acc[ch] *= inv;
}

// One pass over rows [b, e): blur (or adjoint) of img at each pixel, handed to put(p, acc).
template <idx C, class Put>
void blur_rows(const float* img, const float* motion, const std::uint16_t* taps, const Frame& f, float span,
               float sign, idx b, idx e, Put&& put) {
    float acc[16];
    for (idx y = b; y < e; ++y)
        for (idx x = 0; x < f.w; ++x) {
            const idx p = y * f.w + x;
            blur_at<C>(img, f, x, y, motion[2 * p], motion[2 * p + 1], span, taps[p], sign, acc);
            put(p, acc);
        }
}

template <class Put>
void blur_pass(const float* img, const float* motion, const std::uint16_t* taps, const Frame& f, float span, float sign,
               Put&& put) {
    parallel_ranges(
        f.h,
        [&](idx b, idx e) {
            if (f.c == 3)
                blur_rows<3>(img, motion, taps, f, span, sign, b, e, put);
            else
                blur_rows<0>(img, motion, taps, f, span, sign, b, e, put);
        },
        f.h * f.w * f.c * 4);
}

std::vector<std::uint16_t> taps_map(const float* motion, const Frame& f, float span, float spacing, idx max_taps) {
    std::vector<std::uint16_t> taps(static_cast<std::size_t>(f.h * f.w));
    for (idx p = 0; p < f.h * f.w; ++p)
        taps[p] = static_cast<std::uint16_t>(taps_of(motion[2 * p], motion[2 * p + 1], span, spacing, max_taps));
    return taps;
}

}  // namespace

void motion_blur(const float* img, const float* motion, float* out, idx h, idx w, idx c, float span, float spacing,
                 idx max_taps, bool adjoint) {
    const Frame f{h, w, c};
    const std::vector<std::uint16_t> taps = taps_map(motion, f, span, spacing, max_taps);
    blur_pass(img, motion, taps.data(), f, span, adjoint ? -1.0f : 1.0f, [&](idx p, const float* acc) {
        for (idx ch = 0; ch < c; ++ch) out[p * c + ch] = acc[ch];
    });
}

void deblur_motion(const float* start, const float* blurred, const float* motion, float* out, idx h, idx w, idx c,
                   float span, idx iterations, float spacing, idx max_taps) {
    const Frame f{h, w, c};
    const idx m = h * w * c;
    for (idx i = 0; i < m; ++i) out[i] = std::max(start[i], kEps);
    if (iterations <= 0) return;
    const std::vector<std::uint16_t> taps = taps_map(motion, f, span, spacing, max_taps);
    std::vector<float> ratio(static_cast<std::size_t>(m));
    float* r = ratio.data();
    for (idx it = 0; it < iterations; ++it) {
        // ratio = blurred / blur(out); then out *= adjoint_blur(ratio) (out is read only at p in that pass)
        blur_pass(out, motion, taps.data(), f, span, 1.0f, [&](idx p, const float* acc) {
            for (idx ch = 0; ch < c; ++ch) r[p * c + ch] = blurred[p * c + ch] / std::max(acc[ch], kEps);
        });
        blur_pass(r, motion, taps.data(), f, span, -1.0f, [&](idx p, const float* acc) {
            for (idx ch = 0; ch < c; ++ch) out[p * c + ch] *= acc[ch];
        });
    }
}

}  // namespace unshutter
