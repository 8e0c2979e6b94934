// Branch-free double-precision log2 / exp2 / pow that the compiler can
// vectorise (no libm calls). Errors (below) are far under the float32
// results they feed, so results agree with libm / NumPy to within one float
// ulp.
//
// Template flag kFma: use fused multiply-add in the polynomials. Only
// instantiate it with true inside functions compiled for an FMA target.
#pragma once

#include <cstdint>

#include "common.hpp"

#define UNSHUTTER_INLINE inline __attribute__((always_inline))

namespace unshutter {
namespace fastmath {

constexpr double kLn2 = 0.6931471805599453094;
constexpr double kTwoOverLn2 = 2.8853900817779268147;  // 2 / ln 2

template <bool kFma>
UNSHUTTER_INLINE double mad(double a, double b, double c) {
    if constexpr (kFma) return __builtin_fma(a, b, c);
    return a * b + c;
}

// log2(x) for x > 0 finite (x = 0 gives about -1023, +inf about 1024; NaN is
// not propagated: callers select NaN and inf themselves).
template <bool kFma>
UNSHUTTER_INLINE double log2_pos(double x) {
    const std::uint64_t bits = bit_cast<std::uint64_t>(x);
    // biased exponent as a double, without an int64 -> double conversion
    double e = bit_cast<double>(0x4330000000000000ULL | (bits >> 52)) - 4503599627370496.0 - 1023.0;
    double m = bit_cast<double>((bits & 0x000FFFFFFFFFFFFFULL) | 0x3FF0000000000000ULL);  // [1, 2)
    const bool big = m > 1.4142135623730951;
    m = big ? m * 0.5 : m;
    e = big ? e + 1.0 : e;
    // log(m) = 2 atanh(s) = 2 (s + s^3/3 + ...), s = (m - 1) / (m + 1), |s| <= 0.1716:
    // the first term left out, s^17/17, is below 3e-15.
    const double s = (m - 1.0) / (m + 1.0);
    const double z = s * s;
    double p = 1.0 / 15.0;
    p = mad<kFma>(p, z, 1.0 / 13.0);
    p = mad<kFma>(p, z, 1.0 / 11.0);
    p = mad<kFma>(p, z, 1.0 / 9.0);
    p = mad<kFma>(p, z, 1.0 / 7.0);
    p = mad<kFma>(p, z, 1.0 / 5.0);
    p = mad<kFma>(p, z, 1.0 / 3.0);
    p = p * z;
    return mad<kFma>(mad<kFma>(s, p, s), kTwoOverLn2, e);
}

// 2^t; saturates to 2^+-1000 beyond (which any float cast turns into inf / 0).
template <bool kFma>
UNSHUTTER_INLINE double exp2_sat(double t) {
    t = t < -1000.0 ? -1000.0 : t;
    t = t > 1000.0 ? 1000.0 : t;
    constexpr double kShift = 6755399441055744.0;  // 1.5 * 2^52: round to integer
    const double r = t + kShift;
    const double n = r - kShift;
    const double x = (t - n) * kLn2;  // |x| <= 0.347
    // Taylor series of e^x to degree 11: the first term left out is below 3e-15
    double p = 1.0 / 39916800.0;
    p = mad<kFma>(p, x, 1.0 / 3628800.0);
    p = mad<kFma>(p, x, 1.0 / 362880.0);
    p = mad<kFma>(p, x, 1.0 / 40320.0);
    p = mad<kFma>(p, x, 1.0 / 5040.0);
    p = mad<kFma>(p, x, 1.0 / 720.0);
    p = mad<kFma>(p, x, 1.0 / 120.0);
    p = mad<kFma>(p, x, 1.0 / 24.0);
    p = mad<kFma>(p, x, 1.0 / 6.0);
    p = mad<kFma>(p, x, 0.5);
    p = mad<kFma>(p, x, 1.0);
    p = mad<kFma>(p, x, 1.0);
    // 2^n from the low bits of r (n + 1023 in [23, 2023])
    const double scale = bit_cast<double>((bit_cast<std::uint64_t>(r) + 1023ULL) << 52);
    return p * scale;
}

// log2(x) with absolute error below 3e-10 and no division: a degree-11
// polynomial in (m - 1) (Chebyshev fit on [sqrt(1/2), sqrt(2))). For pow,
// where only the absolute error of the logarithm matters; not for log2 of
// values near 1 (log_encode uses log2_pos).
template <bool kFma>
UNSHUTTER_INLINE double log2_abs(double x) {
    const std::uint64_t bits = bit_cast<std::uint64_t>(x);
    double e = bit_cast<double>(0x4330000000000000ULL | (bits >> 52)) - 4503599627370496.0 - 1023.0;
    double m = bit_cast<double>((bits & 0x000FFFFFFFFFFFFFULL) | 0x3FF0000000000000ULL);
    const bool big = m > 1.4142135623730951;
    m = big ? m * 0.5 : m;
    e = big ? e + 1.0 : e;
    const double u = m - 1.0;
    double p = 0.09206337415339179;
    p = mad<kFma>(p, u, -0.16837078706271424);
    p = mad<kFma>(p, u, 0.17435585982990434);
    p = mad<kFma>(p, u, -0.1792753650458516);
    p = mad<kFma>(p, u, 0.20470566385389585);
    p = mad<kFma>(p, u, -0.2404188806454846);
    p = mad<kFma>(p, u, 0.2885971223868439);
    p = mad<kFma>(p, u, -0.36067641864245165);
    p = mad<kFma>(p, u, 0.48089735551760104);
    p = mad<kFma>(p, u, -0.7213474815257828);
    p = mad<kFma>(p, u, 1.4426950457120225);
    p = mad<kFma>(p, u, -7.507906796266894e-11);
    return e + p;
}

// 2^t with relative error below 6e-11 (degree-7 Chebyshev fit of 2^f on
// [-1/2, 1/2]); saturates like exp2_sat. For pow; log_decode needs exp2_sat,
// which is exact at t = 0.
template <bool kFma>
UNSHUTTER_INLINE double exp2_pow(double t) {
    t = t < -1000.0 ? -1000.0 : t;
    t = t > 1000.0 ? 1000.0 : t;
    constexpr double kShift = 6755399441055744.0;
    const double r = t + kShift;
    const double f = t - (r - kShift);
    double p = 1.5303699001378845e-05;
    p = mad<kFma>(p, f, 0.00015469729140704658);
    p = mad<kFma>(p, f, 0.0013333478480888061);
    p = mad<kFma>(p, f, 0.009618025613598036);
    p = mad<kFma>(p, f, 0.055504109063177154);
    p = mad<kFma>(p, f, 0.24022651213495422);
    p = mad<kFma>(p, f, 0.6931471805568341);
    p = mad<kFma>(p, f, 0.9999999999595622);
    const double scale = bit_cast<double>((bit_cast<std::uint64_t>(r) + 1023ULL) << 52);
    return p * scale;
}

// a^p for a >= 0 (a = 0 -> ~0, inf -> inf after a float cast); relative
// error below 1e-9 for |p| <= 3, far under a float32 ulp (6e-8).
template <bool kFma>
UNSHUTTER_INLINE double pow_pos(double a, double p) {
    return exp2_pow<kFma>(p * log2_abs<kFma>(a));
}

}  // namespace fastmath
}  // namespace unshutter
