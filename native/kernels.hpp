// Raw kernels of unshutter._native. They trust their inputs: pointers are
// valid, C-contiguous float32 (labels: uint8), shapes already checked.
// Semantics are those of unshutter/kernels/reference.py, function by function.
#pragma once

#include <cstdint>

#include "common.hpp"

namespace unshutter {

// ---- guidance.cpp  (n = H*W pixels; signs/motion are [n, 2])
void quantize_motion(const float* motion, float* out, idx n, float threshold, float eps);
void signs_to_labels(const float* signs, std::uint8_t* labels, idx n);
// Returns the number of labels outside 0..4 (written as static).
idx labels_to_signs(const std::uint8_t* labels, float* signs, idx n);
void clean_isolated(const float* signs, float* out, idx h, idx w);
void composite_region(float* signs, float* valid, const float* matte, idx n, float dx, float dy);
// fwd, bwd, motion: [n, 2]; trust, miss: [n] (the central difference, its consistency, |fwd + bwd|)
void central_motion(const float* fwd, const float* bwd, float* motion, float* trust, float* miss, idx n, float rel2);
// a, b, d: [n] the structure tensor's blurred entries -> out [n], its smaller eigenvalue, at least 0
void smaller_eigenvalue(const float* a, const float* b, const float* d, float* out, idx n);
// signs, expo: [n, 2] -> g [n, 6]: (sx, sy, 1, ex / scale, ey / scale, 1)
void guidance_planes(const float* signs, const float* expo, float* g, idx n, float scale);
// affine: the fit's 2x3 matrix (row-major); its motion at (x, y) is (A (x, y, 1) - (x, y)), in float64 then float32.
// coarse [h, w, 2] -> q [h, w]: -|coarse - fit|^2 / max(floor2, rel2 |fit|^2)
void affine_gate(const float* coarse, float* q, const double* affine, idx h, idx w, float rel2, float floor2);
// wf = half / (tex + half) (* gate, when given); out = motion + wf (fit - motion); tout = trust + wf (share - trust)
void affine_fill(const float* motion, const float* trust, const float* tex, const float* gate, float* out, float* tout,
                 const double* affine, idx h, idx w, float half, float share);

// ---- tiling.cpp
void feather_weight(float* out, idx h, idx w, idx overlap, bool top, bool bottom, bool left, bool right);
void accumulate_tile(float* acc, float* wsum, idx W, idx C, const float* tile, const float* weight, idx h, idx w,
                     idx y0, idx x0);
void normalize_accumulated(const float* acc, const float* wsum, float* out, idx n, idx C);

// ---- retime.cpp  (m = H*W*C floats per frame)
void resample_subframes(const float* sub, float* out, idx k, idx n, idx m);
void reblur_project(const float* sub, const float* target, float* out, idx n, idx m);
// reblur_project in place, then (clamp) the values kept in [0, hi] where the mean allows (hi: +inf without ceiling)
void reblur_keep_range(float* sub, const float* target, idx n, idx m, float hi, bool ceiling, bool clamp);
// sub, moved: n pixels x c, weight: n; sub += (moved - sub) * weight, in place
void lean_toward(float* sub, const float* moved, const float* weight, idx n, idx c);

// ---- warp.cpp  (planar: src/base/sharp [c, h, w], motion [2, h, w], gate [k, h, w], out/res [k, c, h, w])
void flow_warp(const float* src, const float* motion, float* out, idx c, idx h, idx w, idx k);
void warp_blend(float* res, const float* base, const float* sharp, const float* motion, const float* gate, idx c, idx h,
                idx w, idx k);

// ---- deblur.cpp  (interleaved: img/start/blurred/out [h, w, c] with c <= 16, motion [h, w, 2])
void motion_blur(const float* img, const float* motion, float* out, idx h, idx w, idx c, float span, float spacing,
                 idx max_taps, bool adjoint);
void deblur_motion(const float* start, const float* blurred, const float* motion, float* out, idx h, idx w, idx c,
                   float span, idx iterations, float spacing, idx max_taps);

// ---- transfer.cpp  (n floats, any shape)
void srgb_encode(const float* x, float* y, idx n);
void srgb_decode(const float* x, float* y, idx n);
void rec709_encode(const float* x, float* y, idx n);
void rec709_decode(const float* x, float* y, idx n);
void log_encode(const float* x, float* y, idx n);
void log_decode(const float* x, float* y, idx n);
// x: k x c x hp x wp (planar, the network's layout), y: k x h x w x c with h <= hp, w <= wp, c <= 4:
// y = srgb_decode(x) * scale (the product skipped at scale 1), cropped and channels last in one pass
void srgb_decode_channels_last(const float* x, float* y, idx k, idx c, idx hp, idx wp, idx h, idx w, float scale);

// ---- landing.cpp  (n sorted pixels: positions, motions, float16 pairs as int32; pairs: h x w, written in place)
void land_motion(const std::uint16_t* px, const std::uint16_t* py, const float* mx, const float* my,
                 const std::int32_t* src, idx n, float t, idx w, idx h, std::int32_t* pairs);
// motion: h x w x 2, priority: h x w or null, pairs: h x w; the five outputs: h * w each, w and h at most 65535
void sort_landings(const float* motion, const float* priority, const std::int32_t* pairs, idx h, idx w,
                   std::uint16_t* px, std::uint16_t* py, float* mx, float* my, std::int32_t* src);

// ---- cpu.cpp
void zero_upper();  // VZEROUPPER where the CPU has AVX (see cpu.cpp)

// ---- half.cpp  (n floats, any shape; compilers with _Float16 only: the Python side falls back to numpy)
#if defined(__FLT16_MAX__)
#define UNSHUTTER_HAVE_HALF 1
void to_half(const float* x, std::uint16_t* y, idx n);
// field: rows x w x 2 float16 bits; mx, my: rows x w (see half.cpp)
void warp_maps(const std::uint16_t* field, idx rows, idx w, float t, float y0, float* mx, float* my);
// field: h x w x 2 float16 bits, in place (see half.cpp)
void close_lattice(std::uint16_t* field, idx h, idx w, float rel);
#endif

}  // namespace unshutter
