// Motion -> guidance: quantisation to 4-quadrant signs, labels, isolated-pixel
// cleanup and override compositing (reference.py, section "guidance").
#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>

#include "kernels.hpp"

namespace unshutter {
namespace {

// Label -> (sx, sy); 0 static, 1 (+,-), 2 (-,-), 3 (-,+), 4 (+,+).
constexpr float kLabelSigns[5][2] = {{0.f, 0.f}, {1.f, -1.f}, {-1.f, -1.f}, {-1.f, 1.f}, {1.f, 1.f}};

UNSHUTTER_CLONES
void quantize_range(const float* __restrict m, float* __restrict o, idx n, float th, float eps) {
    const float neps = -eps;
    for (idx i = 0; i < n; ++i) {
        const float mx = m[2 * i];
        const float my = m[2 * i + 1];
        const float mag = std::sqrt(mx * mx + my * my);
        // signs as 32-bit ints so the loop vectorises
        const int sx = static_cast<int>(mx > eps) - static_cast<int>(mx < neps);
        const int sy = static_cast<int>(my > eps) - static_cast<int>(my < neps);
        const int zx = sx == 0;
        const int zy = sy == 0;
        // fold axis-aligned motion into a quadrant
        const int fx = (zx & (1 - zy)) ? sy : sx;
        const int fy = (zy & (1 - zx)) ? -sx : sy;
        const int moving = static_cast<int>(mag >= th) & (1 - (zx & zy));
        o[2 * i] = moving ? static_cast<float>(fx) : 0.f;
        o[2 * i + 1] = moving ? static_cast<float>(fy) : 0.f;
    }
}

UNSHUTTER_CLONES
void labels_range(const float* __restrict s, std::uint8_t* __restrict lab, idx n) {
    for (idx i = 0; i < n; ++i) {
        const float sx = s[2 * i];
        const float sy = s[2 * i + 1];
        const int px = sx > 0.f, nx = sx < 0.f, py = sy > 0.f, ny = sy < 0.f;
        lab[i] = static_cast<std::uint8_t>((px & ny) * 1 + (nx & ny) * 2 + (nx & py) * 3 + (px & py) * 4);
    }
}

idx signs_range(const std::uint8_t* __restrict lab, float* __restrict s, idx n) {
    idx bad = 0;
    for (idx i = 0; i < n; ++i) {
        unsigned l = lab[i];
        if (l > 4) {
            ++bad;
            l = 0;
        }
        s[2 * i] = kLabelSigns[l][0];
        s[2 * i + 1] = kLabelSigns[l][1];
    }
    return bad;
}

// Most frequent neighbour label (lowest on ties) of an isolated pixel, or
// its own label when a neighbour shares it or it has no neighbour.
std::uint8_t resolve_label(const std::uint8_t* lab, idx h, idx w, idx y, idx x) {
    int counts[5] = {0, 0, 0, 0, 0};
    int total = 0;
    const idx ya = std::max<idx>(y - 1, 0), yb = std::min<idx>(y + 1, h - 1);
    const idx xa = std::max<idx>(x - 1, 0), xb = std::min<idx>(x + 1, w - 1);
    for (idx yy = ya; yy <= yb; ++yy)
        for (idx xx = xa; xx <= xb; ++xx) {
            if (yy == y && xx == x) continue;
            ++counts[lab[yy * w + xx]];
            ++total;
        }
    const std::uint8_t own = lab[y * w + x];
    if (total == 0 || counts[own] != 0) return own;
    int best = 0;
    for (int c = 1; c < 5; ++c)
        if (counts[c] > counts[best]) best = c;
    return static_cast<std::uint8_t>(best);
}

void clean_rows(const std::uint8_t* lab, float* out, idx h, idx w, idx y0, idx y1) {
    for (idx y = y0; y < y1; ++y) {
        const std::uint8_t* row = lab + y * w;
        float* o = out + 2 * y * w;
        const bool inner_row = y > 0 && y < h - 1;
        for (idx x = 0; x < w; ++x) {
            const std::uint8_t own = row[x];
            std::uint8_t l = own;
            if (inner_row && x > 0 && x < w - 1) {
                const std::uint8_t* up = row - w;
                const std::uint8_t* dn = row + w;
                const bool shared = (row[x - 1] == own) | (row[x + 1] == own) | (up[x - 1] == own) | (up[x] == own) |
                                    (up[x + 1] == own) | (dn[x - 1] == own) | (dn[x] == own) | (dn[x + 1] == own);
                if (!shared) l = resolve_label(lab, h, w, y, x);
            } else {
                l = resolve_label(lab, h, w, y, x);
            }
            o[2 * x] = kLabelSigns[l][0];
            o[2 * x + 1] = kLabelSigns[l][1];
        }
    }
}

UNSHUTTER_CLONES
void composite_range(float* __restrict s, float* __restrict v, const float* __restrict m, idx n, float dx, float dy) {
    // bitwise blend instead of a branch, so the loop vectorises
    const std::uint32_t bx = bit_cast<std::uint32_t>(dx), by = bit_cast<std::uint32_t>(dy);
    const std::uint32_t b1 = bit_cast<std::uint32_t>(1.f);
    for (idx i = 0; i < n; ++i) {
        const std::uint32_t sel = 0u - static_cast<std::uint32_t>(m[i] >= 0.5f);
        const std::uint32_t sx = bit_cast<std::uint32_t>(s[2 * i]);
        const std::uint32_t sy = bit_cast<std::uint32_t>(s[2 * i + 1]);
        const std::uint32_t vv = bit_cast<std::uint32_t>(v[i]);
        s[2 * i] = bit_cast<float>((sx & ~sel) | (bx & sel));
        s[2 * i + 1] = bit_cast<float>((sy & ~sel) | (by & sel));
        v[i] = bit_cast<float>((vv & ~sel) | (b1 & sel));
    }
}

// numpy's float32 steps of flow._central and flow.consistency, one pixel at a time in their order:
// m = (f - b) * 0.5, d = f + b, d2 = dx * dx + dy * dy, tau2 = maximum(1, 0.0625 * (mx * mx + my * my))
// (NaN kept), trust = 1 / (1 + d2 / tau2), miss = sqrt(d2).
UNSHUTTER_CLONES
void central_range(const float* __restrict f, const float* __restrict b, float* __restrict m, float* __restrict trust,
                   float* __restrict miss, idx n, float rel2) {
    for (idx i = 0; i < n; ++i) {
        const float fx = f[2 * i], fy = f[2 * i + 1], bx = b[2 * i], by = b[2 * i + 1];
        const float mx = (fx - bx) * 0.5f, my = (fy - by) * 0.5f;
        const float dx = fx + bx, dy = fy + by;
        const float d2 = dx * dx + dy * dy;
        const float s = rel2 * (mx * mx + my * my);
        const float tau2 = s != s ? s : (s > 1.f ? s : 1.f);
        m[2 * i] = mx;
        m[2 * i + 1] = my;
        trust[i] = 1.f / (1.f + d2 / tau2);
        miss[i] = std::sqrt(d2);
    }
}

// numpy's maximum(x, 0): NaN kept, -0 -> +0
inline float max0(float x) {
    return x != x ? x : (x > 0.f ? x : 0.f);
}

UNSHUTTER_CLONES
void eigen_range(const float* __restrict a, const float* __restrict b, const float* __restrict d, float* __restrict out,
                 idx n) {
    for (idx i = 0; i < n; ++i) {
        const float ht = (a[i] + d[i]) * 0.5f;
        const float det = a[i] * d[i] - b[i] * b[i];
        out[i] = max0(ht - std::sqrt(max0(ht * ht - det)));
    }
}

UNSHUTTER_CLONES
void planes_range(const float* __restrict s, const float* __restrict e, float* __restrict g, idx n, float scale) {
    for (idx i = 0; i < n; ++i) {
        g[6 * i] = s[2 * i];
        g[6 * i + 1] = s[2 * i + 1];
        g[6 * i + 2] = 1.f;
        g[6 * i + 3] = e[2 * i] / scale;
        g[6 * i + 4] = e[2 * i + 1] / scale;
        g[6 * i + 5] = 1.f;
    }
}

// The affine fit's motion at (x, y), as numpy computes it (float64, in this order, then float32).
struct Affine {
    double m[6];
    void at(idx x, idx y, float& ax, float& ay) const {
        const double xd = static_cast<double>(static_cast<float>(x)), yd = static_cast<double>(static_cast<float>(y));
        ax = static_cast<float>(m[0] * xd + m[1] * yd + m[2] - xd);
        ay = static_cast<float>(m[3] * xd + m[4] * yd + m[5] - yd);
    }
};

// numpy's maximum(lo, x) for a number lo: NaN kept
inline float max_of(float lo, float x) {
    return lo >= x ? lo : x;
}

UNSHUTTER_CLONES
void gate_rows(const float* __restrict coarse, float* __restrict q, const Affine& fit, idx w, idx y0, idx y1,
               float rel2, float floor2) {
    for (idx y = y0; y < y1; ++y) {
        const float* c = coarse + 2 * y * w;
        float* o = q + y * w;
        for (idx x = 0; x < w; ++x) {
            float ax, ay;
            fit.at(x, y, ax, ay);
            const float s2 = max_of(floor2, rel2 * (ax * ax + ay * ay));
            const float dx = c[2 * x] - ax, dy = c[2 * x + 1] - ay;
            o[x] = -(dx * dx + dy * dy) / s2;
        }
    }
}

UNSHUTTER_CLONES
void fill_rows(const float* __restrict motion, const float* __restrict trust, const float* __restrict tex,
               const float* __restrict gate, float* __restrict out, float* __restrict tout, const Affine& fit, idx w,
               idx y0, idx y1, float half, float share) {
    for (idx y = y0; y < y1; ++y) {
        for (idx x = 0, i = y * w; x < w; ++x, ++i) {
            float ax, ay;
            fit.at(x, y, ax, ay);
            float wf = half / (tex[i] + half);
            if (gate) wf = wf * gate[i];
            out[2 * i] = motion[2 * i] + wf * (ax - motion[2 * i]);
            out[2 * i + 1] = motion[2 * i + 1] + wf * (ay - motion[2 * i + 1]);
            tout[i] = trust[i] + wf * (share - trust[i]);
        }
    }
}

}  // namespace

void central_motion(const float* fwd, const float* bwd, float* motion, float* trust, float* miss, idx n, float rel2) {
    parallel_ranges(n, [&](idx b, idx e) {
        central_range(fwd + 2 * b, bwd + 2 * b, motion + 2 * b, trust + b, miss + b, e - b, rel2);
    });
}

void quantize_motion(const float* motion, float* out, idx n, float threshold, float eps) {
    parallel_ranges(n, [&](idx b, idx e) { quantize_range(motion + 2 * b, out + 2 * b, e - b, threshold, eps); });
}

void signs_to_labels(const float* signs, std::uint8_t* labels, idx n) {
    parallel_ranges(n, [&](idx b, idx e) { labels_range(signs + 2 * b, labels + b, e - b); });
}

idx labels_to_signs(const std::uint8_t* labels, float* signs, idx n) {
    std::atomic<idx> bad{0};
    parallel_ranges(n, [&](idx b, idx e) { bad += signs_range(labels + b, signs + 2 * b, e - b); });
    return bad.load();
}

void clean_isolated(const float* signs, float* out, idx h, idx w) {
    const idx n = h * w;
    std::unique_ptr<std::uint8_t[]> lab(new std::uint8_t[n > 0 ? n : 1]);
    signs_to_labels(signs, lab.get(), n);
    parallel_ranges(h, [&](idx y0, idx y1) { clean_rows(lab.get(), out, h, w, y0, y1); }, n);
}

void composite_region(float* signs, float* valid, const float* matte, idx n, float dx, float dy) {
    parallel_ranges(n, [&](idx b, idx e) { composite_range(signs + 2 * b, valid + b, matte + b, e - b, dx, dy); });
}

void smaller_eigenvalue(const float* a, const float* b, const float* d, float* out, idx n) {
    parallel_ranges(n, [&](idx lo, idx hi) { eigen_range(a + lo, b + lo, d + lo, out + lo, hi - lo); });
}

void guidance_planes(const float* signs, const float* expo, float* g, idx n, float scale) {
    parallel_ranges(n,
                    [&](idx lo, idx hi) { planes_range(signs + 2 * lo, expo + 2 * lo, g + 6 * lo, hi - lo, scale); });
}

void affine_gate(const float* coarse, float* q, const double* affine, idx h, idx w, float rel2, float floor2) {
    Affine fit;
    std::copy(affine, affine + 6, fit.m);
    parallel_ranges(h, [&](idx y0, idx y1) { gate_rows(coarse, q, fit, w, y0, y1, rel2, floor2); }, h * w);
}

void affine_fill(const float* motion, const float* trust, const float* tex, const float* gate, float* out, float* tout,
                 const double* affine, idx h, idx w, float half, float share) {
    Affine fit;
    std::copy(affine, affine + 6, fit.m);
    parallel_ranges(
        h, [&](idx y0, idx y1) { fill_rows(motion, trust, tex, gate, out, tout, fit, w, y0, y1, half, share); }, h * w);
}

}  // namespace unshutter
