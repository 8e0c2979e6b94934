// Richardson-Lucy deconvolution of a frame along a per-pixel motion
// (reference.py, section "deblur"): the blur of pixel p is the mean of n(p)
// bilinear samples at p - t * m(p) for t evenly spread over the exposure, with
// n(p) taps at most `spacing` pixels apart (at least 1, at most max_taps).
// Interleaved [H, W, C] frames, motion [H, W, 2].
#include <algorithm>
#include <cmath>
#include <cstdint>
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
inline void blur_at(const float* img, const Frame& f, idx x, idx y, float mx, float my, float span, idx n, float sign,
                    float* acc) {
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
void blur_rows(const float* img, const float* motion, const std::uint16_t* taps, const Frame& f, float span, float sign,
               idx b, idx e, Put&& put) {
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

// The deconvolution's iterations sample the same positions every time (the motion does not change), so
// their taps are computed once per direction and kept in a table: the top-left neighbour and the fractions
// past it, as tap() gives them (12 bytes a tap; the weights are made from the fractions with tap()'s own
// arithmetic, so the sums are the same to the bit). Only pixels of two taps or more have entries (one tap
// is the pixel itself). A 1280x720 frame (run at half size, 2 taps a pixel): 0.45x the CPU time.
struct Entry {
    std::uint32_t i;  // pixel index of the top-left neighbour | kRight (its right neighbour is the next pixel) | kDown
    float ax, ay;     // the position's fractions past it, as tap() takes them
};
constexpr std::uint32_t kRight = 1u << 30, kDown = 1u << 31, kIndex = kRight - 1;

// Bytes for both directions' tables: 2.8 million taps each, e.g. 12 per pixel of a 720p frame at half size
// (where the node runs it), 5 at 4K (a quarter). Longer paths compute their taps as they go, as before.
constexpr std::size_t kTableBudget = std::size_t{64} << 20;

struct Table {
    std::vector<Entry> entries;
    std::vector<std::size_t> row_start;  // entries of row y begin at row_start[y]
};

std::vector<std::size_t> table_rows(const std::uint16_t* taps, const Frame& f) {
    std::vector<std::size_t> rows(static_cast<std::size_t>(f.h + 1), 0);
    for (idx y = 0; y < f.h; ++y) {
        std::size_t n = 0;
        for (idx x = 0; x < f.w; ++x) {
            const std::uint16_t t = taps[y * f.w + x];
            if (t > 1) n += t;
        }
        rows[y + 1] = rows[y] + n;
    }
    return rows;
}

void fill_table(Table& tab, const float* motion, const std::uint16_t* taps, const Frame& f, float span, float sign) {
    tab.entries.resize(tab.row_start.back());
    Entry* out = tab.entries.data();
    parallel_ranges(
        f.h,
        [&](idx b, idx e) {
            for (idx y = b; y < e; ++y) {
                Entry* q = out + tab.row_start[y];
                for (idx x = 0; x < f.w; ++x) {
                    const idx p = y * f.w + x;
                    const idx n = taps[p];
                    if (n == 1) continue;
                    const float mx = motion[2 * p], my = motion[2 * p + 1];
                    const float inv = 1.0f / static_cast<float>(n);
                    for (idx j = 0; j < n; ++j) {  // blur_at's positions, in its order
                        const float t = sign * span * ((static_cast<float>(j) + 0.5f) * inv - 0.5f);
                        const Tap tp = tap(static_cast<float>(x) - t * mx, static_cast<float>(y) - t * my, f.h, f.w);
                        *q++ = Entry{static_cast<std::uint32_t>(tp.i00) | (tp.i01 != tp.i00 ? kRight : 0u) |
                                         (tp.i10 != tp.i00 ? kDown : 0u),
                                     tp.ax, tp.ay};
                    }
                }
            }
        },
        f.h * f.w * 8);
}

// blur_pass from a table: the same sums in the same order.
template <idx C, class Put>
void table_rows_pass(const float* img, const std::uint16_t* taps, const Table& tab, const Frame& f, idx b, idx e,
                     Put&& put) {
    const idx c = C > 0 ? C : f.c;
    const idx row = f.w * c;
    float acc[16];
    for (idx y = b; y < e; ++y) {
        const Entry* q = tab.entries.data() + tab.row_start[y];
        for (idx x = 0; x < f.w; ++x) {
            const idx p = y * f.w + x;
            const idx n = taps[p];
            if (n == 1) {
                const float* s = img + p * c;
                for (idx ch = 0; ch < c; ++ch) acc[ch] = s[ch];
            } else {
                for (idx ch = 0; ch < c; ++ch) acc[ch] = 0.0f;
                const float inv = 1.0f / static_cast<float>(n);
                for (idx j = 0; j < n; ++j, ++q) {
                    const float* p00 = img + static_cast<idx>(q->i & kIndex) * c;
                    const float* p01 = p00 + ((q->i & kRight) ? c : 0);
                    const float* p10 = p00 + ((q->i & kDown) ? row : 0);
                    const float* p11 = p10 + ((q->i & kRight) ? c : 0);
                    const float ax = q->ax, ay = q->ay;  // tap()'s weights, from the same fractions
                    const float w00 = (1.0f - ax) * (1.0f - ay), w01 = ax * (1.0f - ay), w10 = (1.0f - ax) * ay,
                                w11 = ax * ay;
                    for (idx ch = 0; ch < c; ++ch)
                        acc[ch] += w00 * p00[ch] + w01 * p01[ch] + w10 * p10[ch] + w11 * p11[ch];
                }
                for (idx ch = 0; ch < c; ++ch) acc[ch] *= inv;
            }
            put(p, acc);
        }
    }
}

template <class Put>
void table_pass(const float* img, const std::uint16_t* taps, const Table& tab, const Frame& f, Put&& put) {
    parallel_ranges(
        f.h,
        [&](idx b, idx e) {
            if (f.c == 3)
                table_rows_pass<3>(img, taps, tab, f, b, e, put);
            else
                table_rows_pass<0>(img, taps, tab, f, b, e, put);
        },
        f.h * f.w * f.c * 4);
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
    Table fwd, adj;
    fwd.row_start = table_rows(taps.data(), f);
    const bool tabled = fwd.row_start.back() <= kTableBudget / (2 * sizeof(Entry)) && h * w <= static_cast<idx>(kIndex);
    if (tabled) {
        adj.row_start = fwd.row_start;
        fill_table(fwd, motion, taps.data(), f, span, 1.0f);
        fill_table(adj, motion, taps.data(), f, span, -1.0f);
    }
    for (idx it = 0; it < iterations; ++it) {
        // ratio = blurred / blur(out); then out *= adjoint_blur(ratio) (out is read only at p in that pass)
        const auto to_ratio = [&](idx p, const float* acc) {
            for (idx ch = 0; ch < c; ++ch) r[p * c + ch] = blurred[p * c + ch] / std::max(acc[ch], kEps);
        };
        const auto to_out = [&](idx p, const float* acc) {
            for (idx ch = 0; ch < c; ++ch) out[p * c + ch] *= acc[ch];
        };
        if (tabled) {
            table_pass(out, taps.data(), fwd, f, to_ratio);
            table_pass(r, taps.data(), adj, f, to_out);
        } else {  // a table too large for memory (long paths over a large frame): taps computed as they go
            blur_pass(out, motion, taps.data(), f, span, 1.0f, to_ratio);
            blur_pass(r, motion, taps.data(), f, span, -1.0f, to_out);
        }
    }
}

}  // namespace unshutter
