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

// log2(x) with absolute error below 4e-11 and no division: a degree-12
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
    double p = -0.08188001815088466;
    p = mad<kFma>(p, u, 0.15395743320273006);
    p = mad<kFma>(p, u, -0.1591446928266839);
    p = mad<kFma>(p, u, 0.15946792351420924);
    p = mad<kFma>(p, u, -0.1787036420391481);
    p = mad<kFma>(p, u, 0.20602793869854558);
    p = mad<kFma>(p, u, -0.2405283888395084);
    p = mad<kFma>(p, u, 0.28854458029386404);
    p = mad<kFma>(p, u, -0.3606720219500925);
    p = mad<kFma>(p, u, 0.480898233862235);
    p = mad<kFma>(p, u, -0.7213475346782957);
    p = mad<kFma>(p, u, 1.442695041447897);
    p = mad<kFma>(p, u, 1.9484344693232458e-11);
    return e + p;
}

// 2^t with relative error below 2e-14 (degree-9 Chebyshev fit of 2^f on
// [-1/2, 1/2]); saturates like exp2_sat. For pow; log_decode needs exp2_sat,
// which is exact at t = 0.
template <bool kFma>
UNSHUTTER_INLINE double exp2_pow(double t) {
    t = t < -1000.0 ? -1000.0 : t;
    t = t > 1000.0 ? 1000.0 : t;
    constexpr double kShift = 6755399441055744.0;
    const double r = t + kShift;
    const double f = t - (r - kShift);
    double p = 1.0212097549811005e-07;
    p = mad<kFma>(p, f, 1.3259945262689143e-06);
    p = mad<kFma>(p, f, 1.5252640059770786e-05);
    p = mad<kFma>(p, f, 0.00015403432339553542);
    p = mad<kFma>(p, f, 0.001333355825801874);
    p = mad<kFma>(p, f, 0.009618129195951041);
    p = mad<kFma>(p, f, 0.05550410866428854);
    p = mad<kFma>(p, f, 0.24022650695631514);
    p = mad<kFma>(p, f, 0.6931471805599526);
    p = mad<kFma>(p, f, 1.000000000000014);
    const double scale = bit_cast<double>((bit_cast<std::uint64_t>(r) + 1023ULL) << 52);
    return p * scale;
}

// a^p for a >= 0 (a = 0 -> ~0, inf -> inf after a float cast); relative
// error below 1e-10 for float32 a and |p| <= 3.
template <bool kFma>
UNSHUTTER_INLINE double pow_pos(double a, double p) {
    return exp2_pow<kFma>(p * log2_abs<kFma>(a));
}

}  // namespace fastmath
}  // namespace unshutter
