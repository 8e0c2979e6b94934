// float32 -> IEEE half (binary16), rounded to nearest even: numpy's astype(float16), to the bit.
// numpy converts in software, and about 25 times slower for values that become half subnormals
// (below 2^-14, e.g. a near-zero motion component): 100 ms for a 1280x720 guidance with 16% of
// them. With F16C (the x86-64-v3 clone) the processor converts, subnormals included.
#include <cstring>

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
#endif

}  // namespace unshutter
