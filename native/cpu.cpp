// The processor's vector state between libraries.
//
// Code built for AVX that returns without VZEROUPPER leaves the upper halves of the vector
// registers in use, and from then on every legacy-SSE instruction the thread runs pays a
// transition penalty. ISA-L's deflate (the PNG writers' compression) does: OpenColorIO's
// sRGB curve, SSE code on the same writer threads, then took 30 instead of 11 ms per
// 1280x720 sub-frame. zero_upper() clears that state (a no-op without AVX).
#include "kernels.hpp"

namespace unshutter {

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
namespace {
__attribute__((target("avx"))) void vzeroupper() {
    __builtin_ia32_vzeroupper();
}
}  // namespace

void zero_upper() {
    static const bool avx = __builtin_cpu_supports("avx");
    if (avx) vzeroupper();
}
#else
void zero_upper() {}
#endif

}  // namespace unshutter
