// Tiling: feathered blend weights of overlapping tiles, accumulation of tile
// outputs and the final normalisation (reference.py, section "tiling").
#include <algorithm>
#include <vector>

#include "kernels.hpp"

namespace unshutter {
namespace {

// 1-D weights: a linear ramp (i + 0.5) / overlap on the flagged ends, in float.
std::vector<float> ramp(idx n, idx overlap, bool lo, bool hi) {
    std::vector<float> r(static_cast<std::size_t>(n), 1.f);
    if (overlap > 0) {
        const float ov = static_cast<float>(overlap);
        const idx m = std::min(overlap, n);
        auto ramp_in = [ov](idx i) { return (static_cast<float>(i) + 0.5f) / ov; };
        if (lo)
            for (idx i = 0; i < m; ++i) r[i] = std::min(r[i], ramp_in(i));
        if (hi)
            for (idx j = 0; j < m; ++j) r[n - m + j] = std::min(r[n - m + j], ramp_in(m - 1 - j));
    }
    return r;
}

UNSHUTTER_CLONES
void outer_rows(float* __restrict out, const float* __restrict ry, const float* __restrict rx, idx w, idx y0, idx y1) {
    for (idx y = y0; y < y1; ++y) {
        const float a = ry[y];
        float* o = out + y * w;
        for (idx x = 0; x < w; ++x) o[x] = a * rx[x];
    }
}

template <int C>
void accumulate_row(float* __restrict acc, float* __restrict ws, const float* __restrict t, const float* __restrict wt,
                    idx w) {
    for (idx x = 0; x < w; ++x) {
        const float k = wt[x];
        for (int c = 0; c < C; ++c) acc[x * C + c] += t[x * C + c] * k;
        ws[x] += k;
    }
}

void accumulate_row_any(float* __restrict acc, float* __restrict ws, const float* __restrict t,
                        const float* __restrict wt, idx w, idx C) {
    for (idx x = 0; x < w; ++x) {
        const float k = wt[x];
        for (idx c = 0; c < C; ++c) acc[x * C + c] += t[x * C + c] * k;
        ws[x] += k;
    }
}

UNSHUTTER_CLONES
void accumulate_rows(float* acc, float* wsum, idx W, idx C, const float* tile, const float* weight, idx w, idx y0,
                     idx x0, idx r0, idx r1) {
    for (idx r = r0; r < r1; ++r) {
        float* a = acc + ((y0 + r) * W + x0) * C;
        float* ws = wsum + (y0 + r) * W + x0;
        const float* t = tile + r * w * C;
        const float* wt = weight + r * w;
        switch (C) {
            case 1:
                accumulate_row<1>(a, ws, t, wt, w);
                break;
            case 3:
                accumulate_row<3>(a, ws, t, wt, w);
                break;
            case 4:
                accumulate_row<4>(a, ws, t, wt, w);
                break;
            default:
                accumulate_row_any(a, ws, t, wt, w, C);
        }
    }
}

template <int C>
void normalize_px(const float* __restrict acc, const float* __restrict ws, float* __restrict out, idx n) {
    for (idx i = 0; i < n; ++i) {
        const float w = ws[i];
        const float d = w < 1e-12f ? 1e-12f : w;  // np.maximum: NaN stays NaN
        for (int c = 0; c < C; ++c) out[i * C + c] = acc[i * C + c] / d;
    }
}

UNSHUTTER_CLONES
void normalize_range(const float* acc, const float* ws, float* out, idx n, idx C) {
    switch (C) {
        case 1:
            normalize_px<1>(acc, ws, out, n);
            return;
        case 3:
            normalize_px<3>(acc, ws, out, n);
            return;
        case 4:
            normalize_px<4>(acc, ws, out, n);
            return;
        default:
            for (idx i = 0; i < n; ++i) {
                const float w = ws[i];
                const float d = w < 1e-12f ? 1e-12f : w;
                for (idx c = 0; c < C; ++c) out[i * C + c] = acc[i * C + c] / d;
            }
    }
}

}  // namespace

void feather_weight(float* out, idx h, idx w, idx overlap, bool top, bool bottom, bool left, bool right) {
    const std::vector<float> ry = ramp(h, overlap, top, bottom);
    const std::vector<float> rx = ramp(w, overlap, left, right);
    parallel_ranges(h, [&](idx y0, idx y1) { outer_rows(out, ry.data(), rx.data(), w, y0, y1); }, h * w);
}

void accumulate_tile(float* acc, float* wsum, idx W, idx C, const float* tile, const float* weight, idx h, idx w,
                     idx y0, idx x0) {
    parallel_ranges(
        h, [&](idx r0, idx r1) { accumulate_rows(acc, wsum, W, C, tile, weight, w, y0, x0, r0, r1); }, h * w * C);
}

void normalize_accumulated(const float* acc, const float* wsum, float* out, idx n, idx C) {
    parallel_ranges(n, [&](idx b, idx e) { normalize_range(acc + b * C, wsum + b, out + b * C, e - b, C); }, n * C);
}

}  // namespace unshutter
