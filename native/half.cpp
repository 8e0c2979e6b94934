// float32 -> IEEE half (binary16), rounded to nearest even: numpy's astype(float16), to the bit.
// numpy converts in software, and about 25 times slower for values that become half subnormals
// (below 2^-14, e.g. a near-zero motion component): 100 ms for a 1280x720 guidance with 16% of
// them. With F16C (the x86-64-v3 clone) the processor converts, subnormals included.
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels.hpp"

namespace unshutter {

#if defined(UNSHUTTER_HAVE_HALF)
UNSHUTTER_CLONES
void to_half(const float* x, std::uint16_t* y, idx n) {
    for (idx i = 0; i < n; ++i) {
        const _Float16 h = static_cast<_Float16>(x[i]);
        std::memcpy(y + i, &h, sizeof h);
    }
}

// The remap coordinates of a backward warp by t along a float16 motion field, a band of rows:
// mx = x + m_x * -t, my = y0 + r + m_y * -t, each in float32 with numpy's two roundings (the
// product, then the sum; the build keeps them apart: -ffp-contract=off). numpy converted the
// half field in software: as long as the bilinear remap itself per 720p warp.
UNSHUTTER_CLONES
void warp_maps(const std::uint16_t* field, idx rows, idx w, float t, float y0, float* mx, float* my) {
    const float nt = -t;
    for (idx r = 0; r < rows; ++r) {
        const std::uint16_t* f = field + r * w * 2;
        float* ox = mx + r * w;
        float* oy = my + r * w;
        const float y = y0 + static_cast<float>(r);
        for (idx x = 0; x < w; ++x) {
            _Float16 hx, hy;
            std::memcpy(&hx, f + 2 * x, sizeof hx);
            std::memcpy(&hy, f + 2 * x + 1, sizeof hy);
            float vx = static_cast<float>(hx) * nt;
            float vy = static_cast<float>(hy) * nt;
            vx += static_cast<float>(x);
            vy += y;
            ox[x] = vx;
            oy[x] = vy;
        }
    }
}

// travel.Warper.at: a slower motion's single pixels between two agreeing pixels of a faster one take
// the faster's mean (see reference.close_lattice, the specification: the same float32 operations). Rows
// y - 1, y, y + 1 are held converted as given, so every test reads the field before this pass wrote it.
UNSHUTTER_CLONES
void close_lattice(std::uint16_t* field, idx h, idx w, float rel) {
    if (h < 3 || w < 3) return;
    std::vector<float> buf(static_cast<std::size_t>(9 * w));  // 3 rows x (x, y, speed)
    auto row = [&](idx y) { return buf.data() + (y % 3) * 3 * w; };
    auto load = [&](idx y) {
        float* r = row(y);
        const std::uint16_t* f = field + y * w * 2;
        for (idx x = 0; x < w; ++x) {
            _Float16 hx, hy;
            std::memcpy(&hx, f + 2 * x, sizeof hx);
            std::memcpy(&hy, f + 2 * x + 1, sizeof hy);
            const float fx = static_cast<float>(hx), fy = static_cast<float>(hy);
            r[x] = fx;
            r[w + x] = fy;
            float s2 = fx * fx;
            s2 += fy * fy;
            r[2 * w + x] = std::sqrt(s2);
        }
    };
    static const int dirs[4][2] = {{0, 1}, {1, 0}, {1, 1}, {1, -1}};
    std::vector<std::uint8_t> maybe(static_cast<std::size_t>(w));
    load(0);
    load(1);
    for (idx y = 1; y + 1 < h; ++y) {
        load(y + 1);
        const float* sp = row(y) + 2 * w;
        const float* up = row(y - 1) + 2 * w;
        const float* dn = row(y + 1) + 2 * w;
        // a branch-free first look (vectorised): could any line make x a candidate? Most pixels cannot.
        for (idx x = 1; x + 1 < w; ++x) {
            const float s = sp[x];
            const float pa[4] = {sp[x + 1], dn[x], dn[x + 1], dn[x - 1]};
            const float pb[4] = {sp[x - 1], up[x], up[x - 1], up[x + 1]};
            bool any = false;
            for (int k = 0; k < 4; ++k) {
                const float low = pa[k] < pb[k] ? pa[k] : pb[k];
                const float scaled = rel * low;
                const float margin = scaled > 1.0f ? scaled : 1.0f;
                any |= s < low - margin;
            }
            maybe[x] = any;
        }
        std::uint16_t* out = field + y * w * 2;
        for (idx x = 1; x + 1 < w; ++x) {
            if (!maybe[x]) continue;
            const float s = sp[x];
            for (const auto& d : dirs) {
                const float* ra = row(y + d[0]);
                const float* rb = row(y - d[0]);
                const idx xa = x + d[1], xb = x - d[1];
                const float sa = ra[2 * w + xa], sb = rb[2 * w + xb];
                if (sa != sa || sb != sb) continue;  // numpy's minimum is NaN: no test passes
                const float low = sa < sb ? sa : sb;
                const float scaled = rel * low;
                const float margin = scaled > 1.0f ? scaled : 1.0f;
                if (!(s < low - margin)) continue;
                const float dx = ra[xa] - rb[xb], dy = ra[w + xa] - rb[w + xb];
                float d2 = dx * dx;
                d2 += dy * dy;
                if (!(std::sqrt(d2) < margin)) continue;
                const _Float16 mx = static_cast<_Float16>((ra[xa] + rb[xb]) * 0.5f);
                const _Float16 my = static_cast<_Float16>((ra[w + xa] + rb[w + xb]) * 0.5f);
                std::memcpy(out + 2 * x, &mx, sizeof mx);
                std::memcpy(out + 2 * x + 1, &my, sizeof my);
                break;
            }
        }
    }
}
#endif

}  // namespace unshutter
