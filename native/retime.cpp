// Retime: K predicted sub-frames -> N output sub-frames, and the exact
// reblur projection (reference.py, section "retime").
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels.hpp"

namespace unshutter {
namespace {

struct Tap {
    idx lo, hi;  // neighbouring sub-frames
    float a;     // weight of hi
};

// Block by block of pixels, every output sub-frame: the K input blocks stay
// in cache, so each input is read from memory once.
UNSHUTTER_CLONES
void resample_range(const float* __restrict sub, float* __restrict out, const Tap* taps, idx n, idx m, idx b0, idx b1) {
    constexpr idx B = 2048;
    for (idx b = b0; b < b1; b += B) {
        const idx len = std::min(B, b1 - b);
        for (idx i = 0; i < n; ++i) {
            const float* __restrict lo = sub + taps[i].lo * m + b;
            const float* __restrict hi = sub + taps[i].hi * m + b;
            float* __restrict o = out + i * m + b;
            const float a = taps[i].a;
            const float c = 1.0f - a;
            for (idx j = 0; j < len; ++j) o[j] = lo[j] * c + hi[j] * a;
        }
    }
}

constexpr idx kReblurBlock = 512;  // pixels a block: its sums stay in cache between the two passes

// delta[j] = target - mean over the N sub-frames (in double) of pixel value b + j, for j < len.
inline __attribute__((always_inline)) void reblur_delta(const float* __restrict sub, const float* __restrict target,
                                                        idx n, idx m, idx b, idx len, float* __restrict delta) {
    double acc[kReblurBlock];
    const float* s0 = sub + b;
    for (idx j = 0; j < len; ++j) acc[j] = static_cast<double>(s0[j]);
    for (idx k = 1; k < n; ++k) {
        const float* sk = sub + k * m + b;
        for (idx j = 0; j < len; ++j) acc[j] += static_cast<double>(sk[j]);
    }
    const double dn = static_cast<double>(n);
    const float* t = target + b;
    for (idx j = 0; j < len; ++j) delta[j] = static_cast<float>(static_cast<double>(t[j]) - acc[j] / dn);
}

// Per block of pixels: mean over the N sub-frames in double, then one delta
// per pixel added to every sub-frame. The block stays in cache between the
// two passes, so `sub` is read from memory once.
UNSHUTTER_CLONES
void reblur_range(const float* __restrict sub, const float* __restrict target, float* __restrict out, idx n, idx m,
                  idx b0, idx b1) {
    float delta[kReblurBlock];
    for (idx b = b0; b < b1; b += kReblurBlock) {
        const idx len = std::min(kReblurBlock, b1 - b);
        reblur_delta(sub, target, n, m, b, len, delta);
        for (idx k = 0; k < n; ++k) {
            const float* sk = sub + k * m + b;
            float* ok = out + k * m + b;
            for (idx j = 0; j < len; ++j) ok[j] = sk[j] + delta[j];
        }
    }
}

// numpy's sum of n float32 values in a row (its pairwise summation): in order from -0.0 below 8 values, else
// eight running sums combined as a tree and the remainder added in order, halves of blocks beyond 128.
float pairwise_sum(const float* a, idx n) {
    if (n < 8) {
        float r = -0.0f;
        for (idx i = 0; i < n; ++i) r += a[i];
        return r;
    }
    if (n > 128) {
        idx n2 = n / 2;
        n2 -= n2 % 8;
        return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
    }
    float r[8];
    for (idx j = 0; j < 8; ++j) r[j] = a[j];
    idx i = 8;
    for (; i < n - (n % 8); i += 8)
        for (idx j = 0; j < 8; ++j) r[j] += a[i + j];
    float res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
}

// reblur_range in place, then each value clipped into [0, hi] where its pixel channel has a sub-frame out of
// range, what the clip took or added handed to the other sub-frames in proportion to their room, the mean kept
// (reference.clamp_keep_mean, numpy's float32 operations in its order: its sums over the sub-frames of a pixel
// channel are pairwise, the values gathered by its mask lying next to each other; the mean's division rounded once).
// `clip` is numpy's: x < 0 -> 0, x > hi -> hi, else x (NaN, -0 kept).
UNSHUTTER_CLONES
void reblur_keep_range(float* __restrict sub, const float* __restrict target, idx n, idx m, float hi, bool ceiling,
                       bool clamp, idx b0, idx b1) {
    float delta[kReblurBlock];
    std::vector<float> c(static_cast<std::size_t>(n)), room(static_cast<std::size_t>(n));
    const double dn = static_cast<double>(n);
    const float fn = static_cast<float>(n);
    for (idx b = b0; b < b1; b += kReblurBlock) {
        const idx len = std::min(kReblurBlock, b1 - b);
        reblur_delta(sub, target, n, m, b, len, delta);
        const float* t = target + b;
        for (idx k = 0; k < n; ++k) {
            float* sk = sub + k * m + b;
            for (idx j = 0; j < len; ++j) sk[j] = sk[j] + delta[j];
        }
        if (!clamp) continue;
        for (idx j = 0; j < len; ++j) {
            float* s = sub + b + j;
            bool out = false;
            for (idx k = 0; k < n; ++k) {
                const float v = s[k * m];
                out = out || v < 0.0f || (ceiling && v > hi);
            }
            if (!out) continue;
            const float tj = t[j];
            for (idx k = 0; k < n; ++k) {
                const float v = s[k * m];
                c[k] = v < 0.0f ? 0.0f : (v > hi ? hi : v);
            }
            const float mean = static_cast<float>(static_cast<double>(pairwise_sum(c.data(), n)) / dn);
            const float excess = (tj - mean) * fn;
            for (idx k = 0; k < n; ++k) room[k] = ceiling && excess > 0.0f ? hi - c[k] : c[k];
            const float total = pairwise_sum(room.data(), n);
            const float share = total > 0.0f ? excess / total : 0.0f;
            const bool ok = tj >= 0.0f && tj <= hi;
            for (idx k = 0; k < n; ++k) {
                const float fixed = c[k] + room[k] * share;
                if (ok && std::isfinite(fixed)) s[k * m] = fixed;
            }
        }
    }
}

// numpy's `moved -= sub; moved *= w; sub += moved` per value, in that float32 order (one weight per pixel).
// Each chunk's weights are first spread over its channels, so the arithmetic is one flat loop.
constexpr idx kLeanChunk = 512;

UNSHUTTER_CLONES
void lean_flat(float* __restrict sub, const float* __restrict moved, const float* __restrict w, idx n) {
    for (idx i = 0; i < n; ++i) {
        const float d = (moved[i] - sub[i]) * w[i];
        sub[i] = sub[i] + d;
    }
}

void lean_range(float* sub, const float* moved, const float* w, idx c, idx b0, idx b1) {
    float spread[kLeanChunk * 4];
    for (idx p0 = b0; p0 < b1; p0 += kLeanChunk) {
        const idx n = b1 - p0 < kLeanChunk ? b1 - p0 : kLeanChunk;
        if (c == 1) {
            lean_flat(sub + p0, moved + p0, w + p0, n);
            continue;
        }
        if (c > 4) {  // channels beyond what the buffer spreads: pixel by pixel
            for (idx p = p0; p < p0 + n; ++p)
                for (idx ch = 0; ch < c; ++ch) {
                    const float d = (moved[p * c + ch] - sub[p * c + ch]) * w[p];
                    sub[p * c + ch] = sub[p * c + ch] + d;
                }
            continue;
        }
        for (idx q = 0; q < n; ++q)
            for (idx ch = 0; ch < c; ++ch) spread[q * c + ch] = w[p0 + q];
        lean_flat(sub + p0 * c, moved + p0 * c, spread, n * c);
    }
}

}  // namespace

void resample_subframes(const float* sub, float* out, idx k, idx n, idx m) {
    std::vector<Tap> taps(static_cast<std::size_t>(n));
    for (idx i = 0; i < n; ++i) {
        // same double-precision arithmetic as the reference
        double pos = (static_cast<double>(i) + 0.5) / static_cast<double>(n) * static_cast<double>(k) - 0.5;
        pos = std::min(std::max(pos, 0.0), static_cast<double>(k) - 1.0);
        const idx lo = static_cast<idx>(std::floor(pos));
        taps[i] = Tap{lo, std::min(lo + 1, k - 1), static_cast<float>(pos - static_cast<double>(lo))};
    }
    parallel_ranges(m, [&](idx b, idx e) { resample_range(sub, out, taps.data(), n, m, b, e); }, n * m);
}

void reblur_project(const float* sub, const float* target, float* out, idx n, idx m) {
    parallel_ranges(m, [&](idx b, idx e) { reblur_range(sub, target, out, n, m, b, e); }, n * m);
}

void reblur_keep_range(float* sub, const float* target, idx n, idx m, float hi, bool ceiling, bool clamp) {
    parallel_ranges(m, [&](idx b, idx e) { reblur_keep_range(sub, target, n, m, hi, ceiling, clamp, b, e); }, n * m);
}

void lean_toward(float* sub, const float* moved, const float* weight, idx n, idx c) {
    parallel_ranges(n, [&](idx b, idx e) { lean_range(sub, moved, weight, c, b, e); }, n * c);
}

}  // namespace unshutter
