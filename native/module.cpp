// unshutter._native: pybind11 bindings of the per-pixel kernels.
//
// Each function mirrors the signature of unshutter/kernels/reference.py. It
// accepts only C-contiguous, aligned float32 (labels: uint8) arrays, never
// converts or copies them, checks shapes (ValueError) and releases the GIL
// while the kernel runs (the release is scoped to the kernel call, so every
// Python object is touched with the GIL held). The public wrappers in unshutter.kernels check the
// same things first with friendlier messages.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kernels.hpp"
#include "pool.hpp"

namespace py = pybind11;
namespace us = unshutter;
using us::idx;

namespace {

using farr = py::array_t<float, py::array::c_style>;
using u8arr = py::array_t<std::uint8_t, py::array::c_style>;

void require(bool ok, const std::string& msg) {
    if (!ok) throw py::value_error(msg);
}

template <class A>
void check(const A& a, const char* fn, const char* name, int ndim, const char* layout) {
    const bool aligned = (a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_) != 0;
    require(aligned, std::string(fn) + ": " + name + " is not aligned");
    if (ndim >= 0)
        require(a.ndim() == ndim, std::string(fn) + ": " + name + " must be " + layout + ", got " +
                                      std::to_string(a.ndim()) + " dimensions");
}

std::vector<py::ssize_t> shape_of(const py::array& a) {
    return {a.shape(), a.shape() + a.ndim()};
}

// A new C-contiguous output array; large ones take their memory from the
// buffer cache (pool.hpp) and hand it back when the array is freed.
template <class T>
py::array_t<T, py::array::c_style> new_array(const std::vector<py::ssize_t>& shape) {
    std::size_t count = 1;
    for (py::ssize_t d : shape)
        if (__builtin_mul_overflow(count, static_cast<std::size_t>(d), &count)) throw std::bad_alloc();
    std::size_t bytes = 0;
    if (__builtin_mul_overflow(count, sizeof(T), &bytes)) throw std::bad_alloc();
    if (bytes < us::kPoolMinBytes || us::pool_limit_bytes() == 0) return py::array_t<T, py::array::c_style>(shape);
    void* p = us::pool_acquire(bytes);
    py::capsule owner(p, [](void* q) { us::pool_release(q); });
    return py::array_t<T, py::array::c_style>(shape, static_cast<T*>(p), owner);
}

farr quantize_motion(const farr& motion, double threshold) {
    check(motion, "quantize_motion", "motion", 3, "[H, W, 2]");
    require(motion.shape(2) == 2, "quantize_motion: motion must be [H, W, 2]");
    farr out = new_array<float>(shape_of(motion));
    const idx n = motion.shape(0) * motion.shape(1);
    const float th = static_cast<float>(threshold);
    const float eps = static_cast<float>(0.25 * threshold);
    const float* in = motion.data();
    float* o = out.mutable_data();
    {
        py::gil_scoped_release nogil;
        us::quantize_motion(in, o, n, th, eps);
    }
    return out;
}

u8arr signs_to_labels(const farr& signs) {
    check(signs, "signs_to_labels", "signs", 3, "[H, W, 2]");
    require(signs.shape(2) == 2, "signs_to_labels: signs must be [H, W, 2]");
    u8arr out = new_array<std::uint8_t>(std::vector<py::ssize_t>{signs.shape(0), signs.shape(1)});
    const float* in = signs.data();
    std::uint8_t* o = out.mutable_data();
    const idx n = signs.shape(0) * signs.shape(1);
    {
        py::gil_scoped_release nogil;
        us::signs_to_labels(in, o, n);
    }
    return out;
}

farr labels_to_signs(const u8arr& labels) {
    check(labels, "labels_to_signs", "labels", 2, "[H, W]");
    farr out = new_array<float>(std::vector<py::ssize_t>{labels.shape(0), labels.shape(1), 2});
    const std::uint8_t* in = labels.data();
    float* o = out.mutable_data();
    idx bad;
    const idx n = labels.shape(0) * labels.shape(1);
    {
        py::gil_scoped_release nogil;
        bad = us::labels_to_signs(in, o, n);
    }
    require(bad == 0, "labels_to_signs: " + std::to_string(bad) + " labels outside 0..4");
    return out;
}

farr clean_isolated(const farr& signs) {
    check(signs, "clean_isolated", "signs", 3, "[H, W, 2]");
    require(signs.shape(2) == 2, "clean_isolated: signs must be [H, W, 2]");
    farr out = new_array<float>(shape_of(signs));
    const float* in = signs.data();
    float* o = out.mutable_data();
    {
        py::gil_scoped_release nogil;
        us::clean_isolated(in, o, signs.shape(0), signs.shape(1));
    }
    return out;
}

py::tuple central_motion(const farr& fwd, const farr& bwd, double rel) {
    check(fwd, "central_motion", "fwd", 3, "[H, W, 2]");
    check(bwd, "central_motion", "bwd", 3, "[H, W, 2]");
    require(fwd.shape(2) == 2 && bwd.shape(0) == fwd.shape(0) && bwd.shape(1) == fwd.shape(1) && bwd.shape(2) == 2,
            "central_motion: fwd and bwd must both be [H, W, 2]");
    const idx h = fwd.shape(0), w = fwd.shape(1);
    farr motion = new_array<float>(shape_of(fwd));
    farr trust = new_array<float>(std::vector<py::ssize_t>{h, w});
    farr miss = new_array<float>(std::vector<py::ssize_t>{h, w});
    const float* f = fwd.data();
    const float* b = bwd.data();
    float* m = motion.mutable_data();
    float* t = trust.mutable_data();
    float* d = miss.mutable_data();
    const float rel2 = static_cast<float>(rel * rel);
    {
        py::gil_scoped_release nogil;
        us::central_motion(f, b, m, t, d, h * w, rel2);
    }
    return py::make_tuple(motion, trust, miss);
}

farr smaller_eigenvalue(const farr& a, const farr& b, const farr& d) {
    check(a, "smaller_eigenvalue", "a", 2, "[H, W]");
    check(b, "smaller_eigenvalue", "b", 2, "[H, W]");
    check(d, "smaller_eigenvalue", "d", 2, "[H, W]");
    require(
        b.shape(0) == a.shape(0) && b.shape(1) == a.shape(1) && d.shape(0) == a.shape(0) && d.shape(1) == a.shape(1),
        "smaller_eigenvalue: a, b and d must have the same [H, W]");
    farr out = new_array<float>(shape_of(a));
    const float *pa = a.data(), *pb = b.data(), *pd = d.data();
    float* o = out.mutable_data();
    const idx n = a.shape(0) * a.shape(1);
    {
        py::gil_scoped_release nogil;
        us::smaller_eigenvalue(pa, pb, pd, o, n);
    }
    return out;
}

farr guidance_planes(const farr& signs, const farr& expo, double scale) {
    check(signs, "guidance_planes", "signs", 3, "[H, W, 2]");
    check(expo, "guidance_planes", "expo", 3, "[H, W, 2]");
    require(
        signs.shape(2) == 2 && expo.shape(0) == signs.shape(0) && expo.shape(1) == signs.shape(1) && expo.shape(2) == 2,
        "guidance_planes: signs and expo must both be [H, W, 2]");
    const idx h = signs.shape(0), w = signs.shape(1);
    farr g = new_array<float>(std::vector<py::ssize_t>{h, w, 6});
    const float* s = signs.data();
    const float* e = expo.data();
    float* o = g.mutable_data();
    const float sc = static_cast<float>(scale);
    {
        py::gil_scoped_release nogil;
        us::guidance_planes(s, e, o, h * w, sc);
    }
    return g;
}

using darr = py::array_t<double, py::array::c_style>;

void check_affine(const darr& affine, const char* fn) {
    check(affine, fn, "affine", 2, "[2, 3]");
    require(affine.shape(0) == 2 && affine.shape(1) == 3, std::string(fn) + ": affine must be [2, 3]");
}

farr affine_gate(const farr& coarse, const darr& affine, double rel, double floor) {
    check(coarse, "affine_gate", "coarse", 3, "[H, W, 2]");
    require(coarse.shape(2) == 2, "affine_gate: coarse must be [H, W, 2]");
    check_affine(affine, "affine_gate");
    const idx h = coarse.shape(0), w = coarse.shape(1);
    farr q = new_array<float>(std::vector<py::ssize_t>{h, w});
    const float* c = coarse.data();
    const double* a = affine.data();
    float* o = q.mutable_data();
    const float rel2 = static_cast<float>(rel * rel), floor2 = static_cast<float>(floor * floor);
    {
        py::gil_scoped_release nogil;
        us::affine_gate(c, o, a, h, w, rel2, floor2);
    }
    return q;
}

py::tuple affine_fill(const farr& motion, const farr& trust, const farr& tex, const std::optional<farr>& gate,
                      const darr& affine, double half, double share) {
    check(motion, "affine_fill", "motion", 3, "[H, W, 2]");
    check(trust, "affine_fill", "trust", 2, "[H, W]");
    check(tex, "affine_fill", "tex", 2, "[H, W]");
    check_affine(affine, "affine_fill");
    const idx h = motion.shape(0), w = motion.shape(1);
    auto hw = [&](const farr& a) { return a.shape(0) == h && a.shape(1) == w; };
    require(motion.shape(2) == 2 && hw(trust) && hw(tex), "affine_fill: motion [H, W, 2], trust and tex [H, W]");
    const float* g = nullptr;
    if (gate) {
        check(*gate, "affine_fill", "gate", 2, "[H, W]");
        require(hw(*gate), "affine_fill: gate must be [H, W] like trust");
        g = gate->data();
    }
    farr out = new_array<float>(shape_of(motion));
    farr tout = new_array<float>(std::vector<py::ssize_t>{h, w});
    const float *m = motion.data(), *t = trust.data(), *x = tex.data();
    const double* a = affine.data();
    float* o = out.mutable_data();
    float* to = tout.mutable_data();
    const float hf = static_cast<float>(half), sh = static_cast<float>(share);
    {
        py::gil_scoped_release nogil;
        us::affine_fill(m, t, x, g, o, to, a, h, w, hf, sh);
    }
    return py::make_tuple(out, tout);
}

void composite_region(farr& signs, farr& valid, const farr& matte, std::pair<double, double> direction) {
    check(signs, "composite_region", "signs", 3, "[H, W, 2]");
    check(valid, "composite_region", "valid", 2, "[H, W]");
    check(matte, "composite_region", "matte", 2, "[H, W]");
    require(signs.shape(2) == 2 && valid.shape(0) == signs.shape(0) && valid.shape(1) == signs.shape(1) &&
                matte.shape(0) == signs.shape(0) && matte.shape(1) == signs.shape(1),
            "composite_region: signs [H, W, 2], valid [H, W] and matte [H, W] must agree");
    float* s = signs.mutable_data();
    float* v = valid.mutable_data();
    const float* m = matte.data();
    const float dx = static_cast<float>(direction.first), dy = static_cast<float>(direction.second);
    {
        py::gil_scoped_release nogil;
        us::composite_region(s, v, m, signs.shape(0) * signs.shape(1), dx, dy);
    }
}

farr feather_weight(idx h, idx w, idx overlap, bool top, bool bottom, bool left, bool right) {
    require(h >= 0 && w >= 0, "feather_weight: h and w must be >= 0");
    farr out = new_array<float>(std::vector<py::ssize_t>{h, w});
    float* o = out.mutable_data();
    {
        py::gil_scoped_release nogil;
        us::feather_weight(o, h, w, overlap, top, bottom, left, right);
    }
    return out;
}

void accumulate_tile(farr& acc, farr& wsum, const farr& tile_out, const farr& weight, idx y0, idx x0) {
    const char* fn = "accumulate_tile";
    check(acc, fn, "acc", 3, "[H, W, C]");
    check(wsum, fn, "wsum", 2, "[H, W]");
    check(tile_out, fn, "tile_out", 3, "[h, w, C]");
    check(weight, fn, "weight", 2, "[h, w]");
    const idx H = acc.shape(0), W = acc.shape(1), C = acc.shape(2);
    const idx h = weight.shape(0), w = weight.shape(1);
    require(wsum.shape(0) == H && wsum.shape(1) == W, "accumulate_tile: wsum must be [H, W] like acc");
    require(tile_out.shape(0) == h && tile_out.shape(1) == w && tile_out.shape(2) == C,
            "accumulate_tile: tile_out must be [h, w, C] with weight [h, w] and acc [H, W, C]");
    require(y0 >= 0 && x0 >= 0 && y0 + h <= H && x0 + w <= W, "accumulate_tile: tile lies outside the frame");
    float* a = acc.mutable_data();
    float* ws = wsum.mutable_data();
    const float* t = tile_out.data();
    const float* wt = weight.data();
    {
        py::gil_scoped_release nogil;
        us::accumulate_tile(a, ws, W, C, t, wt, h, w, y0, x0);
    }
}

farr normalize_accumulated(const farr& acc, const farr& wsum) {
    check(acc, "normalize_accumulated", "acc", 3, "[H, W, C]");
    check(wsum, "normalize_accumulated", "wsum", 2, "[H, W]");
    require(wsum.shape(0) == acc.shape(0) && wsum.shape(1) == acc.shape(1),
            "normalize_accumulated: wsum must be [H, W] like acc");
    farr out = new_array<float>(shape_of(acc));
    const float* a = acc.data();
    const float* ws = wsum.data();
    float* o = out.mutable_data();
    {
        py::gil_scoped_release nogil;
        us::normalize_accumulated(a, ws, o, acc.shape(0) * acc.shape(1), acc.shape(2));
    }
    return out;
}

farr resample_subframes(const farr& sub, idx n) {
    check(sub, "resample_subframes", "sub", 4, "[K, H, W, C]");
    require(sub.shape(0) >= 1, "resample_subframes: sub needs at least one sub-frame");
    require(n >= 1, "resample_subframes: n must be >= 1");
    std::vector<py::ssize_t> shape = shape_of(sub);
    shape[0] = n;
    farr out = new_array<float>(shape);
    const idx m = sub.shape(1) * sub.shape(2) * sub.shape(3);
    const float* s = sub.data();
    float* o = out.mutable_data();
    {
        py::gil_scoped_release nogil;
        us::resample_subframes(s, o, sub.shape(0), n, m);
    }
    return out;
}

farr reblur_project(const farr& sub, const farr& target) {
    check(sub, "reblur_project", "sub", 4, "[N, H, W, C]");
    check(target, "reblur_project", "target", 3, "[H, W, C]");
    require(sub.shape(0) >= 1, "reblur_project: sub needs at least one sub-frame");
    require(target.shape(0) == sub.shape(1) && target.shape(1) == sub.shape(2) && target.shape(2) == sub.shape(3),
            "reblur_project: target must be [H, W, C] like each sub-frame");
    farr out = new_array<float>(shape_of(sub));
    const idx m = target.shape(0) * target.shape(1) * target.shape(2);
    const float* s = sub.data();
    const float* t = target.data();
    float* o = out.mutable_data();
    {
        py::gil_scoped_release nogil;
        us::reblur_project(s, t, o, sub.shape(0), m);
    }
    return out;
}

void reblur_keep_range(farr& sub, const farr& target, py::object ceiling, bool clamp) {
    check(sub, "reblur_keep_range", "sub", 4, "[N, H, W, C]");
    check(target, "reblur_keep_range", "target", 3, "[H, W, C]");
    require(sub.shape(0) >= 1, "reblur_keep_range: sub needs at least one sub-frame");
    require(target.shape(0) == sub.shape(1) && target.shape(1) == sub.shape(2) && target.shape(2) == sub.shape(3),
            "reblur_keep_range: target must be [H, W, C] like each sub-frame");
    require((sub.flags() & py::detail::npy_api::NPY_ARRAY_WRITEABLE_) != 0, "reblur_keep_range: sub is read-only");
    const bool has = !ceiling.is_none();
    const float hi = has ? static_cast<float>(ceiling.cast<double>()) : INFINITY;
    const idx m = target.shape(0) * target.shape(1) * target.shape(2);
    float* s = sub.mutable_data();
    const float* t = target.data();
    {
        py::gil_scoped_release nogil;
        us::reblur_keep_range(s, t, sub.shape(0), m, hi, has, clamp);
    }
}

farr flow_warp(const farr& src, const farr& motion, idx k) {
    check(src, "flow_warp", "src", 3, "[C, H, W]");
    check(motion, "flow_warp", "motion", 3, "[2, H, W]");
    require(k >= 1, "flow_warp: k must be at least 1");
    const idx c = src.shape(0), h = src.shape(1), w = src.shape(2);
    require(motion.shape(0) == 2 && motion.shape(1) == h && motion.shape(2) == w,
            "flow_warp: motion must be [2, H, W] like src [C, H, W]");
    farr out = new_array<float>({k, c, h, w});
    const float* s = src.data();
    const float* m = motion.data();
    float* o = out.mutable_data();
    if (h > 0 && w > 0) {
        py::gil_scoped_release nogil;
        us::flow_warp(s, m, o, c, h, w, k);
    }
    return out;
}

void check_deblur_params(const char* fn, double span, double spacing, idx max_taps) {
    require(std::isfinite(span) && span > 0.0 && span <= 1.0, std::string(fn) + ": span must be in (0, 1]");
    require(std::isfinite(spacing) && spacing > 0.0, std::string(fn) + ": spacing must be positive");
    require(max_taps >= 1 && max_taps <= 1024, std::string(fn) + ": max_taps must be from 1 to 1024");
}

void check_frame_motion(const char* fn, const farr& img, const farr& motion) {
    check(img, fn, "img", 3, "[H, W, C]");
    check(motion, fn, "motion", 3, "[H, W, 2]");
    require(img.shape(2) >= 1 && img.shape(2) <= 16, std::string(fn) + ": C must be from 1 to 16");
    require(motion.shape(0) == img.shape(0) && motion.shape(1) == img.shape(1) && motion.shape(2) == 2,
            std::string(fn) + ": motion must be [H, W, 2] like the frame [H, W, C]");
}

farr motion_blur(const farr& img, const farr& motion, double span, double spacing, idx max_taps, bool adjoint) {
    check_frame_motion("motion_blur", img, motion);
    check_deblur_params("motion_blur", span, spacing, max_taps);
    farr out = new_array<float>(shape_of(img));
    const float* s = img.data();
    const float* m = motion.data();
    float* o = out.mutable_data();
    {
        py::gil_scoped_release nogil;
        us::motion_blur(s, m, o, img.shape(0), img.shape(1), img.shape(2), static_cast<float>(span),
                        static_cast<float>(spacing), max_taps, adjoint);
    }
    return out;
}

farr deblur_motion(const farr& start, const farr& blurred, const farr& motion, double span, idx iterations,
                   double spacing, idx max_taps) {
    check_frame_motion("deblur_motion", start, motion);
    check(blurred, "deblur_motion", "blurred", 3, "[H, W, C]");
    require(shape_of(blurred) == shape_of(start), "deblur_motion: blurred must be [H, W, C] like start");
    require(iterations >= 0, "deblur_motion: iterations must be at least 0");
    check_deblur_params("deblur_motion", span, spacing, max_taps);
    farr out = new_array<float>(shape_of(start));
    const float* s = start.data();
    const float* b = blurred.data();
    const float* m = motion.data();
    float* o = out.mutable_data();
    {
        py::gil_scoped_release nogil;
        us::deblur_motion(s, b, m, o, start.shape(0), start.shape(1), start.shape(2), static_cast<float>(span),
                          iterations, static_cast<float>(spacing), max_taps);
    }
    return out;
}

void warp_blend(farr& res, const farr& base, const farr& sharp, const farr& motion, const farr& gate) {
    check(res, "warp_blend", "res", 4, "[K, C, H, W]");
    check(base, "warp_blend", "base", 3, "[C, H, W]");
    check(sharp, "warp_blend", "sharp", 3, "[C, H, W]");
    check(motion, "warp_blend", "motion", 3, "[2, H, W]");
    check(gate, "warp_blend", "gate", 3, "[K, H, W]");
    require(res.writeable(), "warp_blend: res is read-only but is written in place");
    const idx k = res.shape(0), c = res.shape(1), h = res.shape(2), w = res.shape(3);
    for (const farr* a : {&base, &sharp})
        require(a->shape(0) == c && a->shape(1) == h && a->shape(2) == w,
                "warp_blend: base and sharp must be [C, H, W] like each sub-frame of res");
    require(motion.shape(0) == 2 && motion.shape(1) == h && motion.shape(2) == w,
            "warp_blend: motion must be [2, H, W]");
    require(gate.shape(0) == k && gate.shape(1) == h && gate.shape(2) == w, "warp_blend: gate must be [K, H, W]");
    float* r = res.mutable_data();
    const float* b = base.data();
    const float* s = sharp.data();
    const float* m = motion.data();
    const float* g = gate.data();
    if (h > 0 && w > 0) {
        py::gil_scoped_release nogil;
        us::warp_blend(r, b, s, m, g, c, h, w, k);
    }
}

using TransferFn = void (*)(const float*, float*, idx);

template <TransferFn F>
farr transfer(const farr& x) {
    check(x, "transfer", "x", -1, "");
    farr out = new_array<float>(shape_of(x));
    const float* in = x.data();
    float* o = out.mutable_data();
    const idx n = x.size();
    {
        py::gil_scoped_release nogil;
        F(in, o, n);
    }
    return out;
}

farr srgb_decode_channels_last(const farr& planar, idx h, idx w, double scale) {
    check(planar, "srgb_decode_channels_last", "planar", 4, "[K, C, H, W]");
    const idx k = planar.shape(0), c = planar.shape(1), hp = planar.shape(2), wp = planar.shape(3);
    require(c >= 1 && c <= 4, "srgb_decode_channels_last: planar must have 1 to 4 channels");
    require(h >= 0 && w >= 0 && h <= hp && w <= wp,
            "srgb_decode_channels_last: h and w must be within the planar frame's size");
    farr out = new_array<float>(std::vector<py::ssize_t>{k, h, w, c});
    const float* in = planar.data();
    float* o = out.mutable_data();
    if (k > 0 && h > 0 && w > 0) {
        py::gil_scoped_release nogil;
        us::srgb_decode_channels_last(in, o, k, c, hp, wp, h, w, static_cast<float>(scale));
    }
    return out;
}

void lean_toward(farr& sub, const farr& moved, const farr& weight) {
    check(sub, "lean_toward", "sub", 3, "[H, W, C]");
    check(moved, "lean_toward", "moved", 3, "[H, W, C]");
    check(weight, "lean_toward", "weight", -1, "");
    require(sub.writeable(), "lean_toward: sub is read-only but is written in place");
    const idx h = sub.shape(0), w = sub.shape(1), c = sub.shape(2);
    require(moved.shape(0) == h && moved.shape(1) == w && moved.shape(2) == c,
            "lean_toward: moved must be [H, W, C] like sub");
    require(weight.size() == h * w && (weight.ndim() == 2 || (weight.ndim() == 3 && weight.shape(2) == 1)) &&
                weight.shape(0) == h && weight.shape(1) == w,
            "lean_toward: weight must be [H, W] or [H, W, 1] like sub");
    float* s = sub.mutable_data();
    const float* m = moved.data();
    const float* g = weight.data();
    if (h * w * c > 0) {
        py::gil_scoped_release nogil;
        us::lean_toward(s, m, g, h * w, c);
    }
}

void land_motion(const py::array_t<std::uint16_t, py::array::c_style>& px,
                 const py::array_t<std::uint16_t, py::array::c_style>& py_, const farr& mx, const farr& my,
                 const py::array_t<std::int32_t, py::array::c_style>& src, double t, idx w, idx h,
                 py::array_t<std::int32_t, py::array::c_style>& pairs) {
    const idx n = px.size();
    require(py_.size() == n && mx.size() == n && my.size() == n && src.size() == n,
            "land_motion: px, py, mx, my and src must have the same length");
    require(w > 0 && h > 0 && pairs.size() == w * h, "land_motion: pairs must hold h x w values");
    require((pairs.flags() & py::detail::npy_api::NPY_ARRAY_WRITEABLE_) != 0, "land_motion: pairs is read-only");
    const std::uint16_t *a = px.data(), *b = py_.data();
    const float *c = mx.data(), *d = my.data();
    const std::int32_t* e = src.data();
    std::int32_t* o = pairs.mutable_data();
    {
        py::gil_scoped_release nogil;
        us::land_motion(a, b, c, d, e, n, static_cast<float>(t), w, h, o);
    }
}

py::tuple sort_landings(const farr& motion, const farr& priority,
                        const py::array_t<std::int32_t, py::array::c_style>& pairs) {
    check(motion, "sort_landings", "motion", 3, "[H, W, 2]");
    require(motion.shape(2) == 2, "sort_landings: motion must be [H, W, 2]");
    const idx h = motion.shape(0), w = motion.shape(1), n = h * w;
    require(h <= 65535 && w <= 65535, "sort_landings: frames wider or taller than 65535 px take numpy's reference");
    require(priority.size() == 0 || (priority.ndim() == 2 && priority.shape(0) == h && priority.shape(1) == w),
            "sort_landings: priority must be [H, W] like motion, or empty");
    require(pairs.size() == n, "sort_landings: pairs must hold H x W values");
    auto px = new_array<std::uint16_t>({n});
    auto py_ = new_array<std::uint16_t>({n});
    auto mx = new_array<float>({n});
    auto my = new_array<float>({n});
    auto src = new_array<std::int32_t>({n});
    const float* m = motion.data();
    const float* pr = priority.size() ? priority.data() : nullptr;
    const std::int32_t* pa = pairs.data();
    std::uint16_t *a = px.mutable_data(), *b = py_.mutable_data();
    float *c = mx.mutable_data(), *d = my.mutable_data();
    std::int32_t* e = src.mutable_data();
    {
        py::gil_scoped_release nogil;
        us::sort_landings(m, pr, pa, h, w, a, b, c, d, e);
    }
    return py::make_tuple(px, py_, mx, my, src);
}

#if defined(UNSHUTTER_HAVE_HALF)
py::array_t<std::uint16_t, py::array::c_style> to_half(const farr& x) {
    check(x, "to_half", "x", -1, "");
    auto out = new_array<std::uint16_t>(shape_of(x));
    const float* in = x.data();
    std::uint16_t* o = out.mutable_data();
    const idx n = x.size();
    {
        py::gil_scoped_release nogil;
        us::to_half(in, o, n);
    }
    return out;
}

py::array_t<float, py::array::c_style> warp_maps(const py::array_t<std::uint16_t, py::array::c_style>& field, double t,
                                                 double y0) {
    check(field, "warp_maps", "field", 3, "[R, W, 2]");
    require(field.shape(2) == 2, "warp_maps: field must be [R, W, 2]");
    const idx rows = field.shape(0), w = field.shape(1);
    auto out = new_array<float>(std::vector<py::ssize_t>{2, rows, w});
    const std::uint16_t* in = field.data();
    float* o = out.mutable_data();
    {
        py::gil_scoped_release nogil;
        us::warp_maps(in, rows, w, static_cast<float>(t), static_cast<float>(y0), o, o + rows * w);
    }
    return out;
}

void close_lattice(py::array_t<std::uint16_t, py::array::c_style>& field, double rel) {
    check(field, "close_lattice", "field", 3, "[H, W, 2]");
    require(field.shape(2) == 2, "close_lattice: field must be [H, W, 2]");
    require((field.flags() & py::detail::npy_api::NPY_ARRAY_WRITEABLE_) != 0, "close_lattice: field is read-only");
    const idx h = field.shape(0), w = field.shape(1);
    std::uint16_t* f = field.mutable_data();
    {
        py::gil_scoped_release nogil;
        us::close_lattice(f, h, w, static_cast<float>(rel));
    }
}
#endif

}  // namespace

PYBIND11_MODULE(_native, m) {
    m.doc() = "Unshutter native kernels (C++17, OpenMP). Use unshutter.kernels, which checks inputs.";
    m.attr("__version__") = "0.1.0";
    m.def("max_threads", &us::max_threads, "Threads a large kernel uses (OMP_NUM_THREADS or the core count).");
    m.def("set_max_threads", &us::set_max_threads, py::arg("n"),
          "Bound the threads of every kernel in this process (0: no bound, OMP_NUM_THREADS or the core count).");
    m.def(
        "cache_info",
        [] {
            py::dict d;
            d["cached_bytes"] = us::pool_cached_bytes();
            d["limit_bytes"] = us::pool_limit_bytes();
            return d;
        },
        "Bytes of freed output buffers kept for reuse, and the limit (UNSHUTTER_NATIVE_CACHE_MB).");
    m.def("clear_cache", &us::pool_clear, "Free the output buffers kept for reuse.");

    m.def("quantize_motion", &quantize_motion, py::arg("motion").noconvert(), py::arg("threshold"));
    m.def("signs_to_labels", &signs_to_labels, py::arg("signs").noconvert());
    m.def("labels_to_signs", &labels_to_signs, py::arg("labels").noconvert());
    m.def("clean_isolated", &clean_isolated, py::arg("signs").noconvert());
    m.def("composite_region", &composite_region, py::arg("signs").noconvert(), py::arg("valid").noconvert(),
          py::arg("matte").noconvert(), py::arg("direction"));
    m.def("central_motion", &central_motion, py::arg("fwd").noconvert(), py::arg("bwd").noconvert(), py::arg("rel"));
    m.def("smaller_eigenvalue", &smaller_eigenvalue, py::arg("a").noconvert(), py::arg("b").noconvert(),
          py::arg("d").noconvert());
    m.def("guidance_planes", &guidance_planes, py::arg("signs").noconvert(), py::arg("expo").noconvert(),
          py::arg("scale"));
    m.def("affine_gate", &affine_gate, py::arg("coarse").noconvert(), py::arg("affine").noconvert(), py::arg("rel"),
          py::arg("floor"));
    m.def("affine_fill", &affine_fill, py::arg("motion").noconvert(), py::arg("trust").noconvert(),
          py::arg("tex").noconvert(), py::arg("gate").noconvert(), py::arg("affine").noconvert(), py::arg("half"),
          py::arg("share"));

    m.def("feather_weight", &feather_weight, py::arg("h"), py::arg("w"), py::arg("overlap"), py::arg("top"),
          py::arg("bottom"), py::arg("left"), py::arg("right"));
    m.def("accumulate_tile", &accumulate_tile, py::arg("acc").noconvert(), py::arg("wsum").noconvert(),
          py::arg("tile_out").noconvert(), py::arg("weight").noconvert(), py::arg("y0"), py::arg("x0"));
    m.def("normalize_accumulated", &normalize_accumulated, py::arg("acc").noconvert(), py::arg("wsum").noconvert());

    m.def("resample_subframes", &resample_subframes, py::arg("sub").noconvert(), py::arg("n"));
    m.def("reblur_project", &reblur_project, py::arg("sub").noconvert(), py::arg("target").noconvert());
    m.def("reblur_keep_range", &reblur_keep_range, py::arg("sub").noconvert(), py::arg("target").noconvert(),
          py::arg("ceiling"), py::arg("clamp"));
    m.def("lean_toward", &lean_toward, py::arg("sub").noconvert(), py::arg("moved").noconvert(),
          py::arg("weight").noconvert());

    m.def("flow_warp", &flow_warp, py::arg("src").noconvert(), py::arg("motion").noconvert(), py::arg("k"));
    m.def("warp_blend", &warp_blend, py::arg("res").noconvert(), py::arg("base").noconvert(),
          py::arg("sharp").noconvert(), py::arg("motion").noconvert(), py::arg("gate").noconvert());

    m.def("motion_blur", &motion_blur, py::arg("img").noconvert(), py::arg("motion").noconvert(), py::arg("span"),
          py::arg("spacing"), py::arg("max_taps"), py::arg("adjoint") = false);
    m.def("deblur_motion", &deblur_motion, py::arg("start").noconvert(), py::arg("blurred").noconvert(),
          py::arg("motion").noconvert(), py::arg("span"), py::arg("iterations"), py::arg("spacing"),
          py::arg("max_taps"));

    m.def("srgb_encode", &transfer<us::srgb_encode>, py::arg("x").noconvert());
    m.def("srgb_decode", &transfer<us::srgb_decode>, py::arg("y").noconvert());
    m.def("srgb_decode_channels_last", &srgb_decode_channels_last, py::arg("planar").noconvert(), py::arg("h"),
          py::arg("w"), py::arg("scale"));
    m.def("rec709_encode", &transfer<us::rec709_encode>, py::arg("x").noconvert());
    m.def("rec709_decode", &transfer<us::rec709_decode>, py::arg("y").noconvert());
    m.def("log_encode", &transfer<us::log_encode>, py::arg("x").noconvert());
    m.def("log_decode", &transfer<us::log_decode>, py::arg("y").noconvert());
    m.def("land_motion", &land_motion, py::arg("px").noconvert(), py::arg("py").noconvert(), py::arg("mx").noconvert(),
          py::arg("my").noconvert(), py::arg("src").noconvert(), py::arg("t"), py::arg("w"), py::arg("h"),
          py::arg("pairs").noconvert(),
          "Write each sorted pixel's pair where it lands after t (in order: the last write stays)");
    m.def("sort_landings", &sort_landings, py::arg("motion").noconvert(), py::arg("priority").noconvert(),
          py::arg("pairs").noconvert(), "Pixels in ascending landing priority: positions, motions and pairs");
    m.def("zero_upper", &us::zero_upper,
          "VZEROUPPER: clear the vector registers' upper halves another library's AVX code left in use");
#if defined(UNSHUTTER_HAVE_HALF)
    m.def("to_half", &to_half, py::arg("x").noconvert(), "float32 -> float16 bits (uint16), as numpy's astype");
    m.def("warp_maps", &warp_maps, py::arg("field").noconvert(), py::arg("t"), py::arg("y0"),
          "Remap coordinates of a backward warp by t along a float16 field (bits), rows from y0");
    m.def("close_lattice", &close_lattice, py::arg("field").noconvert(), py::arg("rel"),
          "A slower motion's single pixels between two agreeing faster ones take their mean (float16 bits, in place)");
#endif
}
