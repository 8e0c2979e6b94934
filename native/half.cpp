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
#endif

}  // namespace unshutter
