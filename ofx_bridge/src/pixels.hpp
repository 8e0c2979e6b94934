// Pixel formats: OFX images (bottom-up rows, any depth, RGB/RGBA/Alpha) to
// and from the worker's float32 top-down planes. Kernels trust their inputs:
// the plugin checks depths and components before calling them.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace unshutter {

// ------------------------------------------------------------------ IEEE half
inline float half_to_float(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {  // subnormal: renormalise
            int e = -1;
            do {
                ++e;
                mant <<= 1;
            } while ((mant & 0x400u) == 0);
            bits = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

inline uint16_t float_to_half(float f) {  // round to nearest even
    uint32_t x;
    std::memcpy(&x, &f, 4);
    const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
    const uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0u);  // inf / nan
    if (ax >= 0x477ff000u) return sign | 0x7c00u;                                     // overflow -> inf
    if (ax < 0x38800000u) {                                                           // subnormal or zero
        if (ax < 0x33000000u) return sign;
        const uint32_t e = ax >> 23;
        const uint32_t m = (ax & 0x7fffffu) | 0x800000u;
        const uint32_t shift = 126 - e;  // 14..24
        uint32_t h = m >> shift;
        const uint32_t rem = m & ((1u << shift) - 1);
        const uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1u))) ++h;
        return sign | static_cast<uint16_t>(h);
    }
    uint32_t h = ((ax >> 13) - (112u << 10));
    const uint32_t rem = ax & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;
    return sign | static_cast<uint16_t>(h);
}

// ------------------------------------------------------------------ one sample
enum class Depth { Byte, Short, Half, Float };

template <Depth D>
struct Sample;
template <>
struct Sample<Depth::Byte> {
    using T = uint8_t;
    static float load(T v) { return v * (1.0f / 255.0f); }
    static T store(float f) { return static_cast<T>(std::fmin(std::fmax(f, 0.0f), 1.0f) * 255.0f + 0.5f); }
};
template <>
struct Sample<Depth::Short> {
    using T = uint16_t;
    static float load(T v) { return v * (1.0f / 65535.0f); }
    static T store(float f) { return static_cast<T>(std::fmin(std::fmax(f, 0.0f), 1.0f) * 65535.0f + 0.5f); }
};
template <>
struct Sample<Depth::Half> {
    using T = uint16_t;
    static float load(T v) { return half_to_float(v); }
    static T store(float f) { return float_to_half(f); }
};
template <>
struct Sample<Depth::Float> {
    using T = float;
    static float load(T v) { return v; }
    static T store(float f) { return f; }
};

// An OFX image as the kernels see it.
struct ImageView {
    uint8_t* data = nullptr;
    int x1 = 0, y1 = 0, x2 = 0, y2 = 0;  // bounds, pixels
    long row_bytes = 0;
    int components = 4;  // 1 (Alpha), 3 (RGB) or 4 (RGBA)
    Depth depth = Depth::Float;
    int width() const { return x2 - x1; }
    int height() const { return y2 - y1; }
};

// Image rows (bottom-up, OFX) -> top-down float RGB [H, W, 3] covering `view`'s bounds.
template <Depth D>
void load_rgb(const ImageView& v, float* out) {
    using S = Sample<D>;
    const int w = v.width(), h = v.height();
    for (int r = 0; r < h; ++r) {
        const int y = v.y2 - 1 - r;
        const auto* row = reinterpret_cast<const typename S::T*>(v.data + static_cast<long>(y - v.y1) * v.row_bytes);
        float* o = out + static_cast<size_t>(r) * w * 3;
        for (int x = 0; x < w; ++x) {
            const auto* px = row + static_cast<size_t>(x) * v.components;
            if (v.components >= 3) {
                o[3 * x] = S::load(px[0]);
                o[3 * x + 1] = S::load(px[1]);
                o[3 * x + 2] = S::load(px[2]);
            } else {
                o[3 * x] = o[3 * x + 1] = o[3 * x + 2] = S::load(px[0]);
            }
        }
    }
}

// A matte for the region `ref` (top-down [H, W]): alpha of RGBA, else the first channel; 0 outside the image.
template <Depth D>
void load_matte(const ImageView& v, int rx1, int ry1, int rx2, int ry2, float* out) {
    using S = Sample<D>;
    const int w = rx2 - rx1, h = ry2 - ry1;
    const int ch = v.components == 4 ? 3 : 0;
    for (int r = 0; r < h; ++r) {
        const int y = ry2 - 1 - r;
        float* o = out + static_cast<size_t>(r) * w;
        if (y < v.y1 || y >= v.y2) {
            std::memset(o, 0, sizeof(float) * w);
            continue;
        }
        const auto* row = reinterpret_cast<const typename S::T*>(v.data + static_cast<long>(y - v.y1) * v.row_bytes);
        for (int i = 0; i < w; ++i) {
            const int x = rx1 + i;
            o[i] = (x < v.x1 || x >= v.x2) ? 0.0f : S::load(row[static_cast<size_t>(x - v.x1) * v.components + ch]);
        }
    }
}

// A motion-vector pass's R, G (x, y as the host stores them) over the reference bounds -> top-down float pairs
// [h, w, 2]; pixels outside the pass are zero (no motion).
template <Depth D>
void load_uv(const ImageView& v, int rx1, int ry1, int rx2, int ry2, float* out) {
    using S = Sample<D>;
    const int w = rx2 - rx1, h = ry2 - ry1;
    for (int r = 0; r < h; ++r) {
        const int y = ry2 - 1 - r;
        float* o = out + static_cast<size_t>(r) * w * 2;
        if (y < v.y1 || y >= v.y2) {
            std::memset(o, 0, sizeof(float) * w * 2);
            continue;
        }
        const auto* row = reinterpret_cast<const typename S::T*>(v.data + static_cast<long>(y - v.y1) * v.row_bytes);
        for (int i = 0; i < w; ++i) {
            const int x = rx1 + i;
            const bool in = x >= v.x1 && x < v.x2;
            const size_t at = static_cast<size_t>(x - v.x1) * v.components;
            o[2 * i] = in ? S::load(row[at]) : 0.0f;
            o[2 * i + 1] = in ? S::load(row[at + 1]) : 0.0f;
        }
    }
}

// Sub-frame (top-down float RGB over the source bounds `src`) + the source's alpha -> output image
// over its own bounds intersected with the render window; pixels outside the source are zero.
template <Depth D>
void store_rgba(const ImageView& out, const int window[4], const ImageView& src, const float* rgb) {
    using S = Sample<D>;
    using SrcT = typename Sample<D>::T;  // the source has the output's depth (clip preferences)
    const int sw = src.width();
    const int wx1 = std::max(window[0], out.x1), wx2 = std::min(window[2], out.x2);
    const int wy1 = std::max(window[1], out.y1), wy2 = std::min(window[3], out.y2);
    for (int y = wy1; y < wy2; ++y) {
        auto* row = reinterpret_cast<typename S::T*>(out.data + static_cast<long>(y - out.y1) * out.row_bytes);
        const bool in_y = y >= src.y1 && y < src.y2;
        const SrcT* srow =
            in_y ? reinterpret_cast<const SrcT*>(src.data + static_cast<long>(y - src.y1) * src.row_bytes) : nullptr;
        const float* frow = in_y ? rgb + static_cast<size_t>(src.y2 - 1 - y) * sw * 3 : nullptr;
        for (int x = wx1; x < wx2; ++x) {
            auto* px = row + static_cast<size_t>(x - out.x1) * out.components;
            if (!in_y || x < src.x1 || x >= src.x2) {
                for (int c = 0; c < out.components; ++c) px[c] = S::store(0.0f);
                continue;
            }
            const float* f = frow + static_cast<size_t>(x - src.x1) * 3;
            if (out.components >= 3) {
                px[0] = S::store(f[0]);
                px[1] = S::store(f[1]);
                px[2] = S::store(f[2]);
                if (out.components == 4)
                    px[3] = src.components == 4 ? srow[static_cast<size_t>(x - src.x1) * 4 + 3] : S::store(1.0f);
            } else {
                px[0] = S::store((f[0] + f[1] + f[2]) * (1.0f / 3.0f));
            }
        }
    }
}

}  // namespace unshutter
