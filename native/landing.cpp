// Where each pixel's motion lands after t (travel.Warper.at), in the sorted order that decides
// who wins a pixel: numpy's values to the bit (a float32 product, a float32 sum, rounded half to
// even), without its six arrays of temporaries per chunk and its boolean gathers.
#include <algorithm>
#include <cmath>
#include <vector>

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

namespace unshutter {

// travel.Warper's sort: pixels in ascending landing priority, the trust's 64 steps above the speed's
// 1024 (quarter pixels up to 255.75), ties in pixel order (numpy's stable argsort of the same uint16
// keys: the same order). One counting sort, each pixel written straight to its place; numpy took
// the keys' temporaries, a radix argsort and five gathers (18-25 ms a 1280x720 sort, four a frame).
void sort_landings(const float* motion, const float* priority, const std::int32_t* pairs, idx h, idx w,
                   std::uint16_t* px, std::uint16_t* py, float* mx, float* my, std::int32_t* src) {
    const idx n = h * w;
    std::vector<std::uint16_t> key(static_cast<std::size_t>(n));
    std::vector<idx> start(idx{1} << 16, 0);
    for (idx p = 0; p < n; ++p) {
        float speed = std::hypot(motion[2 * p], motion[2 * p + 1]) * 4.0f;  // numpy's hypot is libm's hypotf
        speed = std::isnan(speed) ? speed : std::min(speed, 1023.0f);       // np.minimum keeps a NaN
        float trust = priority != nullptr ? priority[p] : 0.0f;
        trust = std::isnan(trust) ? trust : std::min(std::max(trust, 0.0f), 1.0f);
        // the casts of numpy's astype(uint16), then uint16 arithmetic
        const auto k = static_cast<std::uint16_t>(static_cast<std::uint16_t>(trust * 63.0f) * 1024u +
                                                  static_cast<std::uint16_t>(speed));
        key[p] = k;
        ++start[k];
    }
    idx at = 0;
    for (idx& s : start) {  // counts -> where each key's run begins
        const idx c = s;
        s = at;
        at += c;
    }
    for (idx p = 0; p < n; ++p) {
        const idx q = start[key[p]]++;
        px[q] = static_cast<std::uint16_t>(p % w);
        py[q] = static_cast<std::uint16_t>(p / w);
        mx[q] = motion[2 * p];
        my[q] = motion[2 * p + 1];
        src[q] = pairs[p];
    }
}

}  // namespace unshutter
