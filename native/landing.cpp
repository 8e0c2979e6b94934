// Where each pixel's motion lands after t (travel.Warper.at), in the sorted order that decides
// who wins a pixel: numpy's values to the bit (a float32 product, a float32 sum, rounded half to
// even), without its six arrays of temporaries per chunk and its boolean gathers.
#include <cmath>

#include "kernels.hpp"

namespace unshutter {

UNSHUTTER_CLONES
void land_motion(const std::uint16_t* px, const std::uint16_t* py, const float* mx, const float* my,
                 const std::int32_t* src, idx n, float t, idx w, idx h, std::int32_t* pairs) {
    const float fw = static_cast<float>(w), fh = static_cast<float>(h);
    for (idx i = 0; i < n; ++i) {  // in order: the last write to a pixel stays (the most trusted)
        float ax = mx[i] * t;
        ax += static_cast<float>(px[i]);
        ax = std::nearbyint(ax);
        float ay = my[i] * t;
        ay += static_cast<float>(py[i]);
        ay = std::nearbyint(ay);
        // the float test equals numpy's on the int32 (out-of-range and NaN values land outside either way)
        if (ax >= 0.0f && ax < fw && ay >= 0.0f && ay < fh)
            pairs[static_cast<idx>(ay) * w + static_cast<idx>(ax)] = src[i];
    }
}

}  // namespace unshutter
