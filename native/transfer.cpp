// Transfer functions between scene-linear and the encodings the node uses:
// sRGB, Rec.709 (float32 arithmetic like the reference) and the HDR log
// encoding (float64 arithmetic like the reference). All odd-symmetric.
#include <cmath>

#include "fastmath.hpp"
#include "kernels.hpp"

namespace unshutter {
namespace {

using fastmath::exp2_sat;
using fastmath::log2_pos;
using fastmath::pow_pos;

// Exponents exactly as NumPy sees them: a Python float against a float32
// array is cast to float32 first.
constexpr float kSrgbEncP = static_cast<float>(1.0 / 2.4);
constexpr float kSrgbDecP = 2.4f;
constexpr float kRec709EncP = 0.45f;
constexpr float kRec709DecP = static_cast<float>(1.0 / 0.45);
constexpr double kLogStops = 8.0;

// np.sign(x) * y for y >= 0: +0 at 0, NaN stays NaN.
inline float apply_sign(float x, float y) { return x > 0.f ? y : (x < 0.f ? -y : (x == 0.f ? 0.f : x)); }
inline double apply_sign(float x, double y) { return x > 0.f ? y : (x < 0.f ? -y : (x == 0.f ? 0.0 : static_cast<double>(x))); }

inline float powf_(float a, float p) { return static_cast<float>(pow_pos(static_cast<double>(a), static_cast<double>(p))); }

UNSHUTTER_CLONES
void srgb_encode_range(const float* __restrict x, float* __restrict y, idx n) {
    for (idx i = 0; i < n; ++i) {
        const float a = std::fabs(x[i]);
        const float lin = a * 12.92f;
        const float gam = 1.055f * powf_(a, kSrgbEncP) - 0.055f;
        y[i] = apply_sign(x[i], a <= 0.0031308f ? lin : gam);
    }
}

UNSHUTTER_CLONES
void srgb_decode_range(const float* __restrict x, float* __restrict y, idx n) {
    for (idx i = 0; i < n; ++i) {
        const float a = std::fabs(x[i]);
        const float lin = a / 12.92f;
        const float gam = powf_((a + 0.055f) / 1.055f, kSrgbDecP);
        y[i] = apply_sign(x[i], a <= 0.04045f ? lin : gam);
    }
}

UNSHUTTER_CLONES
void rec709_encode_range(const float* __restrict x, float* __restrict y, idx n) {
    for (idx i = 0; i < n; ++i) {
        const float a = std::fabs(x[i]);
        const float lin = a * 4.5f;
        const float gam = 1.099f * powf_(a, kRec709EncP) - 0.099f;
        y[i] = apply_sign(x[i], a < 0.018f ? lin : gam);
    }
}

UNSHUTTER_CLONES
void rec709_decode_range(const float* __restrict x, float* __restrict y, idx n) {
    for (idx i = 0; i < n; ++i) {
        const float a = std::fabs(x[i]);
        const float lin = a / 4.5f;
        const float gam = powf_((a + 0.099f) / 1.099f, kRec709DecP);
        y[i] = apply_sign(x[i], a < 0.081f ? lin : gam);
    }
}

UNSHUTTER_CLONES
void log_encode_range(const float* __restrict x, float* __restrict y, idx n) {
    for (idx i = 0; i < n; ++i) {
        const double a = std::fabs(static_cast<double>(x[i]));
        const double v = log2_pos(1.0 + 255.0 * a) / kLogStops;
        y[i] = static_cast<float>(apply_sign(x[i], a == INFINITY ? a : v));
    }
}

UNSHUTTER_CLONES
void log_decode_range(const float* __restrict x, float* __restrict y, idx n) {
    for (idx i = 0; i < n; ++i) {
        const double a = std::fabs(static_cast<double>(x[i]));
        const double v = (exp2_sat(a * kLogStops) - 1.0) / 255.0;
        y[i] = static_cast<float>(apply_sign(x[i], v));
    }
}

template <class R>
void run(R range, const float* x, float* y, idx n) {
    parallel_ranges(n, [&](idx b, idx e) { range(x + b, y + b, e - b); });
}

}  // namespace

void srgb_encode(const float* x, float* y, idx n) { run(srgb_encode_range, x, y, n); }
void srgb_decode(const float* x, float* y, idx n) { run(srgb_decode_range, x, y, n); }
void rec709_encode(const float* x, float* y, idx n) { run(rec709_encode_range, x, y, n); }
void rec709_decode(const float* x, float* y, idx n) { run(rec709_decode_range, x, y, n); }
void log_encode(const float* x, float* y, idx n) { run(log_encode_range, x, y, n); }
void log_decode(const float* x, float* y, idx n) { run(log_decode_range, x, y, n); }

}  // namespace unshutter
