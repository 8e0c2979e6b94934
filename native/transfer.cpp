// Transfer functions between scene-linear and the encodings the node uses:
// sRGB, Rec.709 (float32 arithmetic like the reference) and the HDR log
// encoding (float64 arithmetic like the reference). All odd-symmetric.
//
// The pow / log2 / exp2 inside are the vectorisable ones of fastmath.hpp.
// Each kernel is compiled three times (baseline, AVX2+FMA, AVX-512) and the
// best one for the CPU is picked on first use.
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
UNSHUTTER_INLINE float apply_sign(float x, float y) {
    return x > 0.f ? y : (x < 0.f ? -y : (x == 0.f ? 0.f : x));
}
UNSHUTTER_INLINE double apply_sign(float x, double y) {
    return x > 0.f ? y : (x < 0.f ? -y : (x == 0.f ? 0.0 : static_cast<double>(x)));
}

template <bool F>
UNSHUTTER_INLINE float powf_(float a, float p) {
    return static_cast<float>(pow_pos<F>(static_cast<double>(a), static_cast<double>(p)));
}

template <bool F>
UNSHUTTER_INLINE void srgb_encode_range(const float* __restrict x, float* __restrict y, idx n) {
    for (idx i = 0; i < n; ++i) {
        const float a = std::fabs(x[i]);
        const float lin = a * 12.92f;
        const float gam = 1.055f * powf_<F>(a, kSrgbEncP) - 0.055f;
        y[i] = apply_sign(x[i], a <= 0.0031308f ? lin : gam);
    }
}

template <bool F>
UNSHUTTER_INLINE void srgb_decode_range(const float* __restrict x, float* __restrict y, idx n) {
    for (idx i = 0; i < n; ++i) {
        const float a = std::fabs(x[i]);
        const float lin = a / 12.92f;
        const float gam = powf_<F>((a + 0.055f) / 1.055f, kSrgbDecP);
        y[i] = apply_sign(x[i], a <= 0.04045f ? lin : gam);
    }
}

template <bool F>
UNSHUTTER_INLINE void rec709_encode_range(const float* __restrict x, float* __restrict y, idx n) {
    for (idx i = 0; i < n; ++i) {
        const float a = std::fabs(x[i]);
        const float lin = a * 4.5f;
        const float gam = 1.099f * powf_<F>(a, kRec709EncP) - 0.099f;
        y[i] = apply_sign(x[i], a < 0.018f ? lin : gam);
    }
}

template <bool F>
UNSHUTTER_INLINE void rec709_decode_range(const float* __restrict x, float* __restrict y, idx n) {
    for (idx i = 0; i < n; ++i) {
        const float a = std::fabs(x[i]);
        const float lin = a / 4.5f;
        const float gam = powf_<F>((a + 0.099f) / 1.099f, kRec709DecP);
        y[i] = apply_sign(x[i], a < 0.081f ? lin : gam);
    }
}

template <bool F>
UNSHUTTER_INLINE void log_encode_range(const float* __restrict x, float* __restrict y, idx n) {
    for (idx i = 0; i < n; ++i) {
        const double a = std::fabs(static_cast<double>(x[i]));
        const double v = log2_pos<F>(1.0 + 255.0 * a) / kLogStops;
        y[i] = static_cast<float>(apply_sign(x[i], a == INFINITY ? a : v));
    }
}

template <bool F>
UNSHUTTER_INLINE void log_decode_range(const float* __restrict x, float* __restrict y, idx n) {
    for (idx i = 0; i < n; ++i) {
        const double a = std::fabs(static_cast<double>(x[i]));
        const double v = (exp2_sat<F>(a * kLogStops) - 1.0) / 255.0;
        y[i] = static_cast<float>(apply_sign(x[i], v));
    }
}

using RangeFn = void (*)(const float*, float*, idx);

#ifdef UNSHUTTER_MULTIVERSION
#define UNSHUTTER_VARIANTS(name)                                                                \
    void name##_v1(const float* x, float* y, idx n) {                                           \
        name##_range<false>(x, y, n);                                                           \
    }                                                                                           \
    __attribute__((target("arch=x86-64-v3"))) void name##_v3(const float* x, float* y, idx n) { \
        name##_range<true>(x, y, n);                                                            \
    }                                                                                           \
    __attribute__((target("arch=x86-64-v4"))) void name##_v4(const float* x, float* y, idx n) { \
        name##_range<true>(x, y, n);                                                            \
    }                                                                                           \
    RangeFn name##_pick() {                                                                     \
        __builtin_cpu_init();                                                                   \
        if (__builtin_cpu_supports("x86-64-v4")) return name##_v4;                              \
        if (__builtin_cpu_supports("x86-64-v3")) return name##_v3;                              \
        return name##_v1;                                                                       \
    }
#else
#define UNSHUTTER_VARIANTS(name)                      \
    void name##_v1(const float* x, float* y, idx n) { \
        name##_range<false>(x, y, n);                 \
    }                                                 \
    RangeFn name##_pick() {                           \
        return name##_v1;                             \
    }
#endif

UNSHUTTER_VARIANTS(srgb_encode)
UNSHUTTER_VARIANTS(srgb_decode)
UNSHUTTER_VARIANTS(rec709_encode)
UNSHUTTER_VARIANTS(rec709_decode)
UNSHUTTER_VARIANTS(log_encode)
UNSHUTTER_VARIANTS(log_decode)

void run(RangeFn range, const float* x, float* y, idx n) {
    parallel_ranges(n, [&](idx b, idx e) { range(x + b, y + b, e - b); });
}

// Pixels per row chunk of srgb_decode_channels_last: each channel's run is decoded into a small
// buffer by the same range function as srgb_decode (the same bits), then interleaved.
constexpr idx kChunk = 256;
constexpr idx kMaxChannels = 4;

}  // namespace

void srgb_decode_channels_last(const float* x, float* y, idx k, idx c, idx hp, idx wp, idx h, idx w, float scale) {
    static const RangeFn fn = srgb_decode_pick();
    parallel_ranges(
        k * h,
        [&](idx b, idx e) {
            float buf[kMaxChannels][kChunk];
            for (idx r = b; r < e; ++r) {
                const idx s = r / h, row = r % h;
                const float* src = x + (s * c * hp + row) * wp;  // channel 0 of row `row` of sub-frame s
                float* dst = y + r * w * c;
                for (idx x0 = 0; x0 < w; x0 += kChunk) {
                    const idx n = w - x0 < kChunk ? w - x0 : kChunk;
                    for (idx ch = 0; ch < c; ++ch) {
                        fn(src + ch * hp * wp + x0, buf[ch], n);
                        if (scale != 1.f)
                            for (idx i = 0; i < n; ++i) buf[ch][i] *= scale;
                    }
                    float* o = dst + x0 * c;
                    for (idx i = 0; i < n; ++i)
                        for (idx ch = 0; ch < c; ++ch) o[i * c + ch] = buf[ch][i];
                }
            }
        },
        k * h * w * c);
}

#define UNSHUTTER_ENTRY(name)                    \
    void name(const float* x, float* y, idx n) { \
        static const RangeFn fn = name##_pick(); \
        run(fn, x, y, n);                        \
    }

UNSHUTTER_ENTRY(srgb_encode)
UNSHUTTER_ENTRY(srgb_decode)
UNSHUTTER_ENTRY(rec709_encode)
UNSHUTTER_ENTRY(rec709_decode)
UNSHUTTER_ENTRY(log_encode)
UNSHUTTER_ENTRY(log_decode)

}  // namespace unshutter
