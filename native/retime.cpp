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
void resample_range(const float* __restrict sub, float* __restrict out, const Tap* taps, idx n, idx m, idx b0,
                    idx b1) {
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

// Per block of pixels: mean over the N sub-frames in double, then one delta
// per pixel added to every sub-frame. The block stays in cache between the
// two passes, so `sub` is read from memory once.
UNSHUTTER_CLONES
void reblur_range(const float* __restrict sub, const float* __restrict target, float* __restrict out, idx n,
                  idx m, idx b0, idx b1) {
    constexpr idx B = 512;
    double acc[B];
    float delta[B];
    const double dn = static_cast<double>(n);
    for (idx b = b0; b < b1; b += B) {
        const idx len = std::min(B, b1 - b);
        const float* s0 = sub + b;
        for (idx j = 0; j < len; ++j) acc[j] = static_cast<double>(s0[j]);
        for (idx k = 1; k < n; ++k) {
            const float* sk = sub + k * m + b;
            for (idx j = 0; j < len; ++j) acc[j] += static_cast<double>(sk[j]);
        }
        const float* t = target + b;
        for (idx j = 0; j < len; ++j) delta[j] = static_cast<float>(static_cast<double>(t[j]) - acc[j] / dn);
        for (idx k = 0; k < n; ++k) {
            const float* sk = sub + k * m + b;
            float* ok = out + k * m + b;
            for (idx j = 0; j < len; ++j) ok[j] = sk[j] + delta[j];
        }
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

}  // namespace unshutter
