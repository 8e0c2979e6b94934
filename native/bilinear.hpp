// One bilinear tap at pixel coordinates clamped to the frame (grid_sample's
// mode="bilinear", padding_mode="border", align_corners=False, in pixels):
// the four neighbours' pixel indices (y * w + x) and weights. Shared by the
// warps (planar frames: index into a plane) and the deblur along the motion
// (interleaved frames: index * channels).
#pragma once

#include <algorithm>
#include <cmath>

#include "common.hpp"

namespace unshutter {

struct Tap {
    idx i00, i01, i10, i11;
    float w00, w01, w10, w11;
    float ax, ay;  // the position's fractions past (x0, y0), which the weights are made of
};

inline Tap tap(float x, float y, idx h, idx w) {
    x = std::min(std::max(x, 0.0f), static_cast<float>(w - 1));
    y = std::min(std::max(y, 0.0f), static_cast<float>(h - 1));
    const float fx0 = std::floor(x), fy0 = std::floor(y);
    const float ax = x - fx0, ay = y - fy0;
    const idx x0 = static_cast<idx>(fx0), y0 = static_cast<idx>(fy0);
    const idx x1 = std::min(x0 + 1, w - 1), y1 = std::min(y0 + 1, h - 1);
    return Tap{y0 * w + x0,      y0 * w + x1,      y1 * w + x0, y1 * w + x1, (1.0f - ax) * (1.0f - ay),
               ax * (1.0f - ay), (1.0f - ax) * ay, ax * ay,     ax,          ay};
}

}  // namespace unshutter
