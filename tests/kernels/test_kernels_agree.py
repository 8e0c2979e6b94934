"""The native kernels agree with the NumPy reference (exact, or within 1e-6 relative)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tests.kernels.helpers import F32, assert_rel, special_floats, wide_floats
from unshutter.kernels import reference as ref

SHAPES_HW = [(1, 1), (1, 2), (2, 1), (1, 9), (9, 1), (2, 2), (3, 3), (37, 53), (181, 211)]  # last: threaded
TRANSFERS = ["srgb_encode", "srgb_decode", "rec709_encode", "rec709_decode", "log_encode", "log_decode"]
THRESHOLDS = [0.0031308, 0.04045, 0.018, 0.081, 0.055, 0.099]


def ref_quiet(fn, *args):
    with np.errstate(all="ignore"):  # the reference overflows to inf on purpose
        return fn(*args)


# ---------------------------------------------------------------- transfer


@pytest.mark.parametrize("name", TRANSFERS)
@pytest.mark.parametrize("scale", [1e-3, 1.0, 30.0])
def test_transfer_random(native, rng, name, scale):
    x = (rng.standard_normal((67, 229, 3)) * scale).astype(F32)
    assert_rel(getattr(native, name)(x), ref_quiet(getattr(ref, name), x))


@pytest.mark.parametrize("name", TRANSFERS)
def test_transfer_wide_range_and_specials(native, rng, name):
    x = np.concatenate([wide_floats(rng, (40001,)), special_floats(*THRESHOLDS)])
    assert_rel(getattr(native, name)(x), ref_quiet(getattr(ref, name), x))


@pytest.mark.parametrize("name", TRANSFERS)
@pytest.mark.parametrize("shape", [(), (0,), (1,), (1, 1, 1), (3, 0, 3), (5, 7), (2, 3, 4, 5)])
def test_transfer_shapes(native, rng, name, shape):
    x = rng.standard_normal(shape).astype(F32)
    got = getattr(native, name)(x)
    assert got.shape == x.shape
    assert_rel(got, ref_quiet(getattr(ref, name), x))


@pytest.mark.parametrize(
    "enc,dec", [("srgb_encode", "srgb_decode"), ("rec709_encode", "rec709_decode"), ("log_encode", "log_decode")]
)
def test_transfer_round_trip(native, rng, enc, dec):
    x = (rng.standard_normal(10000) * 4).astype(F32)
    back = getattr(native, dec)(getattr(native, enc)(x))
    np.testing.assert_allclose(back, x, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("kc", [(1, 1), (7, 3), (2, 4)])
@pytest.mark.parametrize("crop", [(1, 1, 0, 0), (37, 300, 5, 3), (200, 600, 8, 0)])  # last: threaded, 3 chunks
@pytest.mark.parametrize("scale", [1.0, 0.37, 4.0])
def test_srgb_decode_channels_last_is_the_three_passes_to_the_bit(native, rng, kc, crop, scale):
    """Decoding, cropping and laying out the network's planar outputs in one pass gives the bits of the
    native decode of the cropped, transposed planes times the scale (float32): what the node did in three
    passes. Specials (NaN, infinities, signed zeros, subnormals, the curve's threshold) included."""
    (k, c), (h, w, ph, pw) = kc, crop
    planar = (rng.standard_normal((k, c, h + ph, w + pw)) * 2).astype(F32)
    flat = planar.reshape(-1)
    sp = special_floats(0.04045)
    flat[rng.choice(flat.size, min(sp.size, flat.size), replace=False)] = sp[: min(sp.size, flat.size)]
    got = native.srgb_decode_channels_last(planar, h, w, scale)
    with np.errstate(all="ignore"):
        want = native.srgb_decode(np.ascontiguousarray(planar[:, :, :h, :w].transpose(0, 2, 3, 1)))
        if scale != 1.0:
            want *= F32(scale)
    assert got.shape == (k, h, w, c) and got.flags.c_contiguous
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
    assert_rel(got, ref_quiet(ref.srgb_decode_channels_last, planar, h, w, scale))


def test_srgb_decode_channels_last_checks_its_arguments():
    from unshutter import kernels

    planar = np.zeros((2, 3, 8, 9), F32)
    assert kernels.srgb_decode_channels_last(planar, 0, 9, 1.0).shape == (2, 0, 9, 3)
    with pytest.raises(ValueError, match="at least 9 x 9"):
        kernels.srgb_decode_channels_last(planar, 9, 9, 1.0)
    with pytest.raises(ValueError, match="1 to 4 channels"):
        kernels.srgb_decode_channels_last(np.zeros((2, 5, 8, 9), F32), 8, 9, 1.0)
    with pytest.raises(ValueError):
        kernels.srgb_decode_channels_last(planar[:, :, :, :4], 8, 4, 1.0)  # not C-contiguous
    with pytest.raises(TypeError):
        kernels.srgb_decode_channels_last(planar.astype(np.float64), 8, 9, 1.0)


# ---------------------------------------------------------------- guidance


def motion_field(rng, h, w, threshold):
    m = (rng.standard_normal((h, w, 2)) * 2 * max(threshold, 0.5)).astype(F32)
    flat = m.reshape(-1)
    # exact quarter-threshold and threshold boundaries, NaN, inf, huge
    eps = F32(0.25 * threshold)
    edge = [eps, -eps, np.nextafter(eps, F32(1)), F32(threshold), np.nan, np.inf, -np.inf, 1e30, -1e30, 0.0, -0.0]
    k = min(len(edge), flat.size)
    flat[rng.choice(flat.size, k, replace=False)] = np.array(edge[:k], F32)
    return m


@pytest.mark.parametrize("hw", SHAPES_HW + [(0, 5)])
@pytest.mark.parametrize("threshold", [0.0, 0.5, 1.0, 3.0])
def test_quantize_motion(native, rng, hw, threshold):
    m = motion_field(rng, *hw, threshold)
    got = native.quantize_motion(m, threshold)
    np.testing.assert_array_equal(got, ref_quiet(ref.quantize_motion, m, threshold))
    assert got.dtype == np.float32


@pytest.mark.parametrize("hw", SHAPES_HW + [(0, 5)])
def test_central_motion_is_numpys_steps_to_the_bit(native, rng, hw):
    """The central difference, its consistency trust and miss in one native pass give the bits of the numpy
    steps they replace (flow's central difference), NaN, infinities and signed zeros included."""
    fwd = (rng.standard_normal(hw + (2,)) * 6).astype(F32)
    bwd = (-fwd + rng.standard_normal(hw + (2,)).astype(F32) * F32(0.7)).astype(F32)
    for a in (fwd, bwd):
        flat = a.reshape(-1)
        sp = special_floats(0.25, 4.0)
        k = min(sp.size, flat.size // 4)
        flat[rng.choice(flat.size, k, replace=False)] = sp[rng.permutation(sp.size)[:k]]
    want = ref_quiet(ref.central_motion, fwd, bwd, 0.25)
    with np.errstate(all="ignore"):
        got = native.central_motion(fwd, bwd, 0.25)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == np.float32
        np.testing.assert_array_equal(g.view(np.uint32), w.view(np.uint32))


def test_central_motion_checks_its_arrays():
    from unshutter import kernels

    a = np.zeros((4, 5, 2), F32)
    with pytest.raises(ValueError):
        kernels.central_motion(a, np.zeros((4, 6, 2), F32), 0.25)
    with pytest.raises(ValueError):
        kernels.central_motion(a, np.zeros((4, 5, 3), F32), 0.25)
    with pytest.raises(TypeError):
        kernels.central_motion(a, a.astype(np.float64), 0.25)


def _sprinkle(rng, a, *around):
    """Put NaN, infinities, signed zeros, subnormals and huge values at random places of ``a`` (in place)."""
    flat = a.reshape(-1)
    sp = special_floats(*around)
    k = min(sp.size, flat.size // 4)
    flat[rng.choice(flat.size, k, replace=False)] = sp[rng.permutation(sp.size)[:k]]


def _same_bits(got, want):
    assert got.shape == want.shape and got.dtype == np.float32 and want.dtype == np.float32
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


@pytest.mark.parametrize("hw", SHAPES_HW + [(0, 5)])
def test_smaller_eigenvalue_is_numpys_steps_to_the_bit(native, rng, hw):
    """The structure tensor's smaller eigenvalue (dominant.texture's arithmetic) in one pass: numpy's bits,
    NaN, infinities, signed zeros (maximum(-0, 0) is +0) and negative determinants included."""
    a, b, d = (np.abs(rng.standard_normal(hw)).astype(F32) * F32(1e-3) for _ in range(3))
    for x in (a, b, d):
        _sprinkle(rng, x, 1e-4)
    if a.size:
        a.reshape(-1)[0], d.reshape(-1)[0] = F32(-0.0), F32(-0.0)  # half the trace -0: the result's sign
    _same_bits(native.smaller_eigenvalue(a, b, d), ref_quiet(ref.smaller_eigenvalue, a, b, d))


@pytest.mark.parametrize("hw", SHAPES_HW + [(0, 5)])
def test_guidance_planes_is_the_strided_writes_to_the_bit(native, rng, hw):
    from unshutter.decomposer.contract import GVALID, GX, GY, MOTION_SCALE, MVALID, MX, MY

    assert (GX, GY, GVALID, MX, MY, MVALID) == tuple(range(6))  # the order the kernel writes
    expo = (rng.standard_normal(hw + (2,)) * 20).astype(F32)
    _sprinkle(rng, expo, MOTION_SCALE)
    signs = ref_quiet(ref.quantize_motion, np.nan_to_num(expo), 1.0)
    want = np.empty(hw + (6,), F32)  # what encode.guidance_from_motion wrote channel by channel
    want[..., GX], want[..., GY], want[..., GVALID] = signs[..., 0], signs[..., 1], 1.0
    with np.errstate(all="ignore"):
        want[..., MX], want[..., MY] = expo[..., 0] / MOTION_SCALE, expo[..., 1] / MOTION_SCALE
    want[..., MVALID] = 1.0
    _same_bits(native.guidance_planes(signs, expo, MOTION_SCALE), want)
    _same_bits(ref.guidance_planes(signs, expo, MOTION_SCALE), want)


AFFINES = [
    np.array([[1.0, 0.0, 20.0], [0.0, 1.0, -3.5]]),  # a pan
    np.array([[1.013, -0.021, 7.25], [0.017, 0.994, 1.0 / 3.0]]),  # zoom and turn: rounding in float64
]


@pytest.mark.parametrize("hw", [(1, 1), (2, 9), (37, 53), (181, 211)])
@pytest.mark.parametrize("affine", AFFINES)
@pytest.mark.parametrize("with_gate", [True, False])
def test_affine_gate_and_fill_are_numpys_steps_to_the_bit(native, rng, hw, affine, with_gate):
    """dominant.fill_untextured's arithmetic with the fit's field computed per pixel (float64, then
    float32) instead of stored: the bits of numpy's steps over the stored field, specials included."""
    coarse = (rng.standard_normal(hw + (2,)) * 8 + [20.0, -3.0]).astype(F32)
    motion = (rng.standard_normal(hw + (2,)) * 4 + [18.0, -2.0]).astype(F32)
    trust = rng.random(hw).astype(F32)
    tex = (rng.random(hw) * 3e-4).astype(F32)
    for x in (coarse, motion, trust, tex):
        _sprinkle(rng, x, 1e-4, 16.0)
    gate = None
    if with_gate:
        gate = native.affine_gate(coarse, affine, 1.0, 4.0)
        _same_bits(gate, ref_quiet(ref.affine_gate, coarse, affine, 1.0, 4.0))
        with np.errstate(all="ignore"):
            gate = np.exp(gate)
    with np.errstate(all="ignore"):
        got = native.affine_fill(motion, trust, tex, gate, affine, 1e-4, 0.8125)
    for g, w in zip(got, ref_quiet(ref.affine_fill, motion, trust, tex, gate, affine, 1e-4, 0.8125)):
        _same_bits(g, w)


def test_fill_untextured_is_the_stored_field_to_the_bit(rng):
    """The whole fill (texture, the fit, gate and blend by the kernels) against the same steps in numpy over
    the stored field of :func:`dominant.affine_motion`, as the fill computed them before."""
    from unshutter.guidance import dominant

    h, w = 96, 160
    gray = (rng.random((h, w)) * 255).astype(np.uint8)
    gray[: h // 2] = 128  # flat: filled
    motion = (rng.standard_normal((h, w, 2)) * 3 + [12.0, 2.0]).astype(F32)
    trust = rng.random((h, w)).astype(F32)
    coarse = (rng.standard_normal((h, w, 2)) * 6 + [12.0, 2.0]).astype(F32)
    tex = dominant.texture(gray)
    model, share = dominant.affine_motion(motion, tex * trust)
    assert model is not None
    wf = F32(dominant.TEXTURE_HALF) / (tex + F32(dominant.TEXTURE_HALF))
    s2 = np.maximum(F32(16.0), F32(dominant.AGREE_REL**2) * (model[..., 0] ** 2 + model[..., 1] ** 2))
    d = coarse - model
    wf = wf * np.exp(-(d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1]) / s2)
    want = (motion + wf[..., None] * (model - motion), trust + wf * (F32(share) - trust))
    for g, w in zip(dominant.fill_untextured(motion, trust, gray, coarse, tex), want):
        _same_bits(g, w)


def test_affine_kernels_check_their_arrays():
    from unshutter import kernels

    m, t, a = np.zeros((4, 5, 2), F32), np.zeros((4, 5), F32), AFFINES[0]
    with pytest.raises(TypeError):
        kernels.affine_gate(m, a.astype(F32), 1.0, 4.0)
    with pytest.raises(ValueError):
        kernels.affine_gate(m, np.zeros((3, 3)), 1.0, 4.0)
    with pytest.raises(ValueError):
        kernels.affine_fill(m, np.zeros((4, 6), F32), t, None, a, 1e-4, 0.5)
    with pytest.raises(ValueError):
        kernels.affine_fill(m, t, t, np.zeros((5, 4), F32), a, 1e-4, 0.5)
    with pytest.raises(ValueError):
        kernels.smaller_eigenvalue(t, t, np.zeros((4, 6), F32))
    with pytest.raises(ValueError):
        kernels.guidance_planes(m, np.zeros((4, 5, 3), F32), 32.0)


def test_quantize_motion_folds_axis_motion(native):
    m = np.array([[[0, 5], [0, -5], [5, 0], [-5, 0], [0.1, 0.1], [5, 5]]], F32)
    want = np.array([[[1, 1], [-1, -1], [1, -1], [-1, 1], [0, 0], [1, 1]]], F32)
    np.testing.assert_array_equal(native.quantize_motion(m, 1.0), want)


def random_signs(rng, h, w, with_nan=True):
    s = rng.choice(np.array([-1, 0, 1, 0.3, -2.5], F32), size=(h, w, 2))
    if with_nan and s.size >= 4:
        s.reshape(-1)[rng.choice(s.size, 3, replace=False)] = [np.nan, -0.0, np.inf]
    return s


@pytest.mark.parametrize("hw", SHAPES_HW + [(0, 3)])
def test_signs_labels_round_trip(native, rng, hw):
    s = random_signs(rng, *hw)
    lab = native.signs_to_labels(s)
    np.testing.assert_array_equal(lab, ref.signs_to_labels(s))
    assert lab.dtype == np.uint8
    np.testing.assert_array_equal(native.labels_to_signs(lab), ref.labels_to_signs(lab))


def test_labels_out_of_range(native):
    lab = np.array([[0, 4, 5]], np.uint8)
    with pytest.raises(ValueError, match="0..4"):
        native.labels_to_signs(lab)
    with pytest.raises(ValueError, match="0..4"):
        ref.labels_to_signs(lab)


@pytest.mark.parametrize("hw", SHAPES_HW + [(0, 4), (4, 0)])
def test_clean_isolated_random(native, rng, hw):
    s = random_signs(rng, *hw)
    np.testing.assert_array_equal(native.clean_isolated(s), ref.clean_isolated(s))


def test_clean_isolated_smooth_field(native, rng):
    lab = np.repeat(np.repeat(rng.integers(0, 5, (10, 12)), 8, 0), 8, 1).astype(np.uint8)
    noisy = lab.copy()
    noisy.reshape(-1)[rng.choice(noisy.size, 300, replace=False)] = rng.integers(0, 5, 300)
    s = ref.labels_to_signs(noisy)
    got = native.clean_isolated(s)
    np.testing.assert_array_equal(got, ref.clean_isolated(s))
    assert (ref.signs_to_labels(got) != noisy).sum() > 0  # something was cleaned


def test_clean_isolated_ties_take_lowest(native):
    lab = np.array([[1, 1, 3], [2, 4, 3], [2, 0, 0]], np.uint8)  # centre 4 isolated; 1, 2, 3, 0 tie at 2
    s = ref.labels_to_signs(lab)
    got = native.clean_isolated(s)
    np.testing.assert_array_equal(got, ref.clean_isolated(s))
    assert ref.signs_to_labels(got)[1, 1] == 0


@pytest.mark.parametrize("hw", SHAPES_HW)
@pytest.mark.parametrize("direction", [(1.0, -1.0), (0.0, 0.0), (-1.0, 1.0), (0.3, 1e30)])
def test_composite_region(native, rng, hw, direction):
    s = random_signs(rng, *hw)
    v = rng.random(hw, dtype=F32)
    matte = rng.random(hw, dtype=F32)
    flat = matte.reshape(-1)
    for i, val in enumerate([0.5, np.nextafter(F32(0.5), F32(0)), np.nan, np.inf][: flat.size]):
        flat[i] = val
    s1, v1, s2, v2 = s.copy(), v.copy(), s.copy(), v.copy()
    assert native.composite_region(s1, v1, matte, direction) is None
    ref.composite_region(s2, v2, matte, direction)
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(v1, v2)


# ---------------------------------------------------------------- tiling


@pytest.mark.parametrize("h,w", [(0, 3), (1, 1), (2, 5), (64, 65), (130, 7)])
@pytest.mark.parametrize("overlap", [-1, 0, 1, 3, 32, 64, 200])
def test_feather_weight(native, h, w, overlap):
    for flags in itertools.product([False, True], repeat=4):
        got = native.feather_weight(h, w, overlap, *flags)
        want = ref.feather_weight(h, w, overlap, *flags)
        assert got.dtype == np.float32 and got.shape == (h, w)
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("c", [1, 2, 3, 4, 5, 21])
def test_accumulate_and_normalize(native, rng, c):
    H, W = 71, 93
    acc1 = np.zeros((H, W, c), F32)
    ws1 = np.zeros((H, W), F32)
    acc2, ws2 = acc1.copy(), ws1.copy()
    for y0, x0, h, w in [
        (0, 0, 40, 50),
        (31, 0, 40, 50),
        (0, 43, 40, 50),
        (31, 43, 40, 50),
        (70, 92, 1, 1),
        (5, 5, 0, 7),
        (0, 0, H, W),
    ]:
        t = (rng.standard_normal((h, w, c)) * 10).astype(F32)
        wt = ref.feather_weight(h, w, 8, y0 > 0, y0 + h < H, x0 > 0, x0 + w < W)
        assert native.accumulate_tile(acc1, ws1, t, wt, y0, x0) is None
        ref.accumulate_tile(acc2, ws2, t, wt, y0, x0)
    np.testing.assert_array_equal(acc1, acc2)
    np.testing.assert_array_equal(ws1, ws2)
    np.testing.assert_array_equal(native.normalize_accumulated(acc1, ws1), ref.normalize_accumulated(acc2, ws2))


def test_normalize_edge_weights(native, rng):
    acc = wide_floats(rng, (5, 7, 3))
    ws = np.array([0.0, -0.0, -1.0, 1e-13, 1e-12, 1e-11, np.nan, np.inf, 1e30, 3.0] * 4, F32)[:35].reshape(5, 7)
    np.testing.assert_array_equal(native.normalize_accumulated(acc, ws), ref_quiet(ref.normalize_accumulated, acc, ws))


def test_accumulate_nan_and_huge(native, rng):
    acc = wide_floats(rng, (6, 6, 3))
    acc[0, 0, 0] = np.nan
    ws = rng.random((6, 6), dtype=F32)
    t = wide_floats(rng, (4, 5, 3))
    wt = rng.random((4, 5), dtype=F32)
    a2, w2 = acc.copy(), ws.copy()
    native.accumulate_tile(acc, ws, t, wt, 2, 1)
    ref_quiet(ref.accumulate_tile, a2, w2, t, wt, 2, 1)
    np.testing.assert_array_equal(acc, a2)
    np.testing.assert_array_equal(ws, w2)


# ---------------------------------------------------------------- retime


@pytest.mark.parametrize("k", [1, 2, 3, 7])
@pytest.mark.parametrize("n", [1, 2, 3, 4, 8, 13])
def test_resample_subframes(native, rng, k, n):
    sub = (rng.standard_normal((k, 5, 7, 3)) * 3).astype(F32)
    sub.reshape(-1)[:3] = [np.nan, np.inf, 1e38]
    got = native.resample_subframes(sub, n)
    np.testing.assert_array_equal(got, ref_quiet(ref.resample_subframes, sub, n))
    assert got.shape == (n, 5, 7, 3)


def test_resample_subframes_large(native, rng):
    sub = rng.random((7, 33, 1031, 3), dtype=F32)  # > one block per thread
    np.testing.assert_array_equal(native.resample_subframes(sub, 8), ref.resample_subframes(sub, 8))


@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 9, 16])
@pytest.mark.parametrize("shape", [(1, 1, 1), (5, 7, 3), (33, 257, 3)])
def test_reblur_project(native, rng, n, shape):
    sub = (rng.standard_normal((n,) + shape) * 2).astype(F32)
    target = rng.standard_normal(shape).astype(F32)
    got = native.reblur_project(sub, target)
    assert_rel(got, ref.reblur_project(sub, target))
    # the contract: the linear mean of the result equals the target
    np.testing.assert_allclose(got.mean(0, dtype=np.float64), target, rtol=1e-5, atol=1e-5)


def test_reblur_project_huge_and_nan(native, rng):
    sub = wide_floats(rng, (4, 3, 5, 3)) * F32(1e-10)
    sub[0, 0, 0, 0] = np.nan
    sub[1, 0, 1, 0] = np.inf
    target = wide_floats(rng, (3, 5, 3)) * F32(1e-10)
    assert_rel(native.reblur_project(sub, target), ref_quiet(ref.reblur_project, sub, target))


def _out_of_range_subframes(rng, n, shape):
    """Sub-frames around a target, some pixel channels below 0 or above 1, with NaN, infinities and signed zeros."""
    sub = (rng.standard_normal((n,) + shape) * 0.6 + 0.5).astype(F32)
    target = (rng.standard_normal(shape) * 0.4 + 0.5).astype(F32)
    flat, t = sub.reshape(-1), target.reshape(-1)
    picks = rng.integers(0, flat.size, 12)
    flat[picks] = [np.nan, np.nan, np.inf, -np.inf, -0.0, -0.0, 0.0, 0.0, 1.0, 1.0, 3e38, -3e38]
    t[rng.integers(0, t.size, 4)] = [np.nan, -0.1, 1.5, 1.0]
    return sub, target


@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 9, 15, 16])
@pytest.mark.parametrize("shape", [(1, 1, 1), (5, 7, 3), (130, 257, 3)])  # last: threaded, several bands
@pytest.mark.parametrize("ceiling", [None, 1.0])
def test_reblur_keep_range_is_the_references_to_the_bit(native, rng, n, shape, ceiling):
    """The reblur and the range clamp in one native pass give numpy's values bit for bit: its pairwise sums of
    the values its mask gathers, its clip (NaN and -0 kept), the pixel channels it leaves alone."""
    sub, target = _out_of_range_subframes(rng, n, shape)
    got = {}
    for clamp in (False, True):
        want, got[clamp] = sub.copy(), sub.copy()
        ref_quiet(ref.reblur_keep_range, want, target, ceiling, clamp)
        with np.errstate(all="ignore"):
            native.reblur_keep_range(got[clamp], target, ceiling, clamp)
        np.testing.assert_array_equal(got[clamp].view(np.uint32), want.view(np.uint32))
    if n > 1 and shape[0] > 1:
        assert (got[False] < 0).any() and (got[False] != got[True]).any()  # the clamp had something to do


def test_reblur_keep_range_checks_its_arrays():
    from unshutter import kernels

    sub = np.zeros((3, 4, 5, 3), F32)
    with pytest.raises(ValueError, match="read-only"):
        ro = sub.copy()
        ro.flags.writeable = False
        kernels.reblur_keep_range(ro, np.zeros((4, 5, 3), F32), 1.0, True)
    with pytest.raises(ValueError):
        kernels.reblur_keep_range(sub, np.zeros((4, 6, 3), F32), 1.0, True)
    with pytest.raises(TypeError):
        kernels.reblur_keep_range(sub.astype(np.float64), np.zeros((4, 5, 3), F32), None, True)


@pytest.mark.parametrize(
    "shape", [(1, 1, 3), (5, 7, 3), (64, 1280, 3), (9, 11, 1), (3, 4, 5), (7, 9, 4)]
)  # third: threaded
@pytest.mark.parametrize("trailing_one", [False, True])
def test_lean_toward_is_numpys_three_steps_to_the_bit(native, rng, shape, trailing_one):
    """``moved -= sub; moved *= w; sub += moved`` (what the follow and the neighbours' blend did per band) in
    one pass: the same bits, NaN, infinities, signed zeros and subnormals included."""
    sub = (rng.standard_normal(shape) * 3).astype(F32)
    moved = (rng.standard_normal(shape) * 3).astype(F32)
    weight = rng.random(shape[:2], dtype=F32)
    for a in (sub, moved, weight):
        flat = a.reshape(-1)
        sp = special_floats(0.5)
        k = min(sp.size, flat.size // 3)
        flat[rng.choice(flat.size, k, replace=False)] = sp[rng.permutation(sp.size)[:k]]
    w = weight[..., None] if trailing_one else weight
    want, got = sub.copy(), sub.copy()
    with np.errstate(all="ignore"):
        d = moved.copy()
        d -= want
        d *= weight[..., None]
        want += d
        native.lean_toward(got, moved, w)
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
    ref_got = sub.copy()
    ref_quiet(ref.lean_toward, ref_got, moved, w)
    np.testing.assert_array_equal(ref_got.view(np.uint32), want.view(np.uint32))


def test_lean_toward_checks_its_arrays():
    from unshutter import kernels

    sub = np.zeros((4, 5, 3), F32)
    with pytest.raises(ValueError, match="read-only"):
        ro = sub.copy()
        ro.flags.writeable = False
        kernels.lean_toward(ro, sub, np.zeros((4, 5), F32))
    with pytest.raises(ValueError):
        kernels.lean_toward(sub, np.zeros((4, 6, 3), F32), np.zeros((4, 5), F32))
    with pytest.raises(ValueError):
        kernels.lean_toward(sub, sub.copy(), np.zeros((4, 5, 3), F32))
    with pytest.raises(ValueError):
        kernels.lean_toward(np.zeros((4, 10, 3), F32)[:, ::2], sub, np.zeros((4, 5), F32))  # not C-contiguous
    with pytest.raises(TypeError):
        kernels.lean_toward(sub, sub.astype(np.float64), np.zeros((4, 5), F32))


# ---------------------------------------------------------------- warp


@pytest.mark.parametrize("hw", SHAPES_HW)
@pytest.mark.parametrize("k", [1, 7])
def test_flow_warp(native, rng, hw, k):
    src = rng.standard_normal((3,) + hw).astype(F32)
    motion = (rng.standard_normal((2,) + hw) * 9).astype(F32)  # many samples fall off the frame
    np.testing.assert_array_equal(native.flow_warp(src, motion, k), ref.flow_warp(src, motion, k))


def test_flow_warp_is_the_networks_grid_sample(native, rng):
    torch = pytest.importorskip("torch")
    from unshutter.train.flowunet_arch import flow_warp_stack

    src = rng.random((3, 37, 53), dtype=F32)
    motion = (rng.standard_normal((2, 37, 53)) * 6).astype(F32)
    want = flow_warp_stack(torch.from_numpy(src[None]), torch.from_numpy(motion[None])).numpy()[0]
    np.testing.assert_allclose(native.flow_warp(src, motion, 7), want, rtol=0, atol=1e-5)


def test_flow_warp_moves_by_time_times_motion(native):
    src = np.zeros((1, 1, 40), F32)
    src[0, 0, 20] = 1.0
    motion = np.zeros((2, 1, 40), F32)
    motion[0] = 14.0  # sub-frame i of 7 samples at x - (i - 3) * 2
    out = native.flow_warp(src, motion, 7)
    assert [int(np.argmax(out[i, 0, 0])) for i in range(7)] == [20 + 2 * (i - 3) for i in range(7)]


@pytest.mark.parametrize("hw", [(1, 1), (9, 1), (37, 53), (181, 211)])
def test_warp_blend(native, rng, hw):
    k = 7
    res = rng.standard_normal((k, 3) + hw).astype(F32)
    base, sharp = rng.random((3,) + hw, dtype=F32), rng.random((3,) + hw, dtype=F32)
    motion = (rng.standard_normal((2,) + hw) * 5).astype(F32)
    gate = rng.standard_normal((k,) + hw).astype(F32)
    got, want = res.copy(), res.copy()
    native.warp_blend(got, base, sharp, motion, gate)
    ref.warp_blend(want, base, sharp, motion, gate)
    np.testing.assert_array_equal(got, want)
    warps = ref.flow_warp(sharp, motion, k)
    np.testing.assert_allclose(want, base + gate[:, None] * (warps - base) + res, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------- deblur


@pytest.mark.parametrize("hw", SHAPES_HW)
@pytest.mark.parametrize("c", [1, 3, 4])
@pytest.mark.parametrize("adjoint", [False, True])
def test_motion_blur(native, rng, hw, c, adjoint):
    img = rng.standard_normal(hw + (c,)).astype(F32)
    motion = (rng.standard_normal(hw + (2,)) * 9).astype(F32)  # many taps fall off the frame
    np.testing.assert_allclose(
        native.motion_blur(img, motion, 0.75, 1.5, 32, adjoint),
        ref.motion_blur(img, motion, 0.75, 1.5, 32, adjoint),
        rtol=1e-5,
        atol=1e-5,
    )


def test_motion_blur_is_the_mean_along_the_path(native):
    img = np.zeros((1, 60, 1), F32)
    img[0, 30] = 1.0
    motion = np.zeros((1, 60, 2), F32)
    motion[..., 0] = 12.0  # 12 px over the exposure: 8 taps 1.5 px apart
    out = native.motion_blur(img, motion, 1.0, 1.5, 64)[0, :, 0]
    assert abs(float(out.sum()) - 1.0) < 1e-5  # the light is spread, not lost
    lit = np.nonzero(out > 1e-6)[0]
    assert lit.min() >= 30 - 7 and lit.max() <= 30 + 7  # over the path, centred on the exposure's middle
    back = native.motion_blur(img, motion, 1.0, 1.5, 64, True)[0, :, 0]
    np.testing.assert_allclose(back[::-1][:-1], out[1:], rtol=0, atol=1e-6)  # the adjoint mirrors it


@pytest.mark.parametrize("hw", [(1, 1), (9, 1), (37, 53), (181, 211)])
def test_deblur_motion(native, rng, hw):
    sharp = rng.random(hw + (3,), dtype=F32)
    motion = (rng.standard_normal(hw + (2,)) * 6).astype(F32)
    blurred = ref.motion_blur(sharp, motion, 1.0, 1.5, 32)
    got = native.deblur_motion(blurred, blurred, motion, 1.0, 4, 1.5, 32)
    np.testing.assert_allclose(got, ref.deblur_motion(blurred, blurred, motion, 1.0, 4, 1.5, 32), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("c", [1, 3, 4])
def test_deblur_motion_is_its_iterations_of_motion_blur_bit_for_bit(native, rng, c):
    """The deconvolution's taps are computed once and kept in a table across its iterations: the same
    sums as motion_blur's taps computed on the fly, to the bit (outputs byte-identical)."""
    h, w = 41, 67
    start = rng.random((h, w, c), dtype=F32)
    start[0, :3] = -0.5  # floored at the epsilon
    blurred = rng.random((h, w, c), dtype=F32)
    motion = (rng.standard_normal((h, w, 2)) * 7).astype(F32)  # taps falling off every edge
    motion[10:20] = 0.0  # still rows: one tap, the pixel itself
    motion[25, 30] = (200.0, -150.0)  # more taps than max_taps
    x = np.maximum(start, F32(ref.DEBLUR_EPS))
    for _ in range(3):
        ratio = blurred / np.maximum(native.motion_blur(x, motion, 0.8, 1.5, 24), F32(ref.DEBLUR_EPS))
        x = x * native.motion_blur(ratio, motion, 0.8, 1.5, 24, True)
    got = native.deblur_motion(start, blurred, motion, 0.8, 3, 1.5, 24)
    np.testing.assert_array_equal(got.view(np.uint32), x.view(np.uint32))


# ---------------------------------------------------------------- half


def test_to_half_is_numpys_astype_to_the_bit(native, rng):
    """Every float32 rounds to the half numpy gives: subnormals, exact ties (to even), overflow, inf, signed zero."""
    x = np.concatenate(
        [
            wide_floats(rng, (5000,)),
            special_floats(2.0**-14, 2.0**-24, 2.0**-25, 3.0 * 2.0**-25, 65504.0, 65520.0, 1.0 + 2.0**-11),
            (rng.standard_normal(5000) * 2.0**-14).astype(F32),  # half subnormals (a near-zero motion component)
            ((np.arange(-512, 512) + 0.5) * 2.0**-24).astype(F32),  # ties between two subnormals
            ((np.arange(1024, 2048) + 0.5) * 2.0**-10).astype(F32),  # ties between two normal halves
        ]
    )
    with np.errstate(over="ignore"):
        want = x.astype(np.float16)
    got = native.to_half(x)
    assert got.dtype == np.uint16 and got.shape == x.shape
    nan = np.isnan(x)
    np.testing.assert_array_equal(got[~nan], want.view(np.uint16)[~nan])
    assert np.isnan(got[nan].view(np.float16)).all()
    img = wide_floats(rng, (37, 53, 6))  # any shape, kept (the threaded size of the other kernels)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(native.to_half(img), img.astype(np.float16).view(np.uint16))


def test_warp_maps_are_numpys_float32_products_and_sums_to_the_bit(native, rng):
    """x - t * m from a half field: every half (subnormals, inf, the largest) and odd times, as numpy computes them."""
    m = np.concatenate(
        [
            (rng.standard_normal(3000) * 40.0).astype(np.float16),
            (rng.standard_normal(1000) * 2.0**-14).astype(np.float16),  # half subnormals
            np.array([0.0, -0.0, 65504.0, -65504.0, np.inf, -np.inf, 2.0**-24], np.float16),
        ]
    )
    field = np.resize(m, 23 * 97 * 2).reshape(23, 97, 2)
    for t in (-3.0 / 7.0, 2.0 / 7.0, 1.0, -0.8571428571428572):
        got = native.warp_maps(field.view(np.uint16), float(np.float32(t)), 40.0)
        tt = np.float32(t)
        with np.errstate(invalid="ignore", over="ignore"):
            mx = np.multiply(field[..., 0], -tt, dtype=np.float32) + np.arange(97, dtype=np.float32)[None, :]
            my = np.multiply(field[..., 1], -tt, dtype=np.float32) + (40 + np.arange(23, dtype=np.float32))[:, None]
        assert got.shape == (2, 23, 97) and got.dtype == np.float32
        np.testing.assert_array_equal(got[0].view(np.uint32), mx.view(np.uint32))
        np.testing.assert_array_equal(got[1].view(np.uint32), my.view(np.uint32))
        np.testing.assert_array_equal(ref.warp_maps(field.view(np.uint16), t, 40).view(np.uint32), got.view(np.uint32))


def test_close_lattice_is_the_references_to_the_bit(native, rng):
    """Random fields with a fast layer sieved by a slower one, NaN and border pixels: the same fixes, the same
    float16 means, the same untouched pixels; frames too small to have an interior are left alone."""
    for h, w in ((1, 1), (2, 9), (3, 3), (37, 53), (96, 131)):
        field = (rng.standard_normal((h, w, 2)) * 3.0).astype(np.float16)
        field[h // 4 : 3 * h // 4 + 1, w // 4 : 3 * w // 4 + 1] += np.float16(40.0)  # the fast layer
        holes = rng.random((h, w)) < 0.2
        field[holes] = (rng.standard_normal((int(holes.sum()), 2)) * 2.0).astype(np.float16)  # its sieve
        if h * w > 10:
            field.reshape(-1, 2)[[3, 7, 9]] = np.float16(np.nan)
        want = field.view(np.uint16).copy()
        got = want.copy()
        ref.close_lattice(want, 0.1)
        native.close_lattice(got, 0.1)
        np.testing.assert_array_equal(got, want)
        if min(h, w) >= 37:
            assert (want != field.view(np.uint16)).any()  # the case is exercised


def test_land_motion_writes_where_numpy_lands_in_the_same_order(native, rng):
    """Sorted pixels land on the nearest pixel (ties to even, float32 arithmetic), the last write wins; motions
    that leave the frame, huge ones and NaN land nowhere."""
    h, w, n = 31, 47, 4000
    px = rng.integers(0, w, n).astype(np.uint16)
    py = rng.integers(0, h, n).astype(np.uint16)
    mx = (rng.standard_normal(n) * 20.0).astype(F32)
    my = (rng.standard_normal(n) * 20.0).astype(F32)
    mx[:40] = np.float32(1.0)  # t * m + p exactly halfway at t = 0.5: ties to even
    mx[40:44] = [np.nan, np.inf, -np.inf, 3e9]
    my[44:48] = [-0.9, 2.5e9, np.nan, -3e9]
    src = rng.integers(-(2**31), 2**31 - 1, n, dtype=np.int64).astype(np.int32)
    for t in (0.5, -3.0 / 7.0, 1.0 - 1.0 / 7.0):
        want = rng.integers(0, 1000, h * w).astype(np.int32)
        got = want.copy()
        with np.errstate(invalid="ignore"):
            ref.land_motion(px, py, mx, my, src, t, w, h, want)
        native.land_motion(px, py, mx, my, src, float(np.float32(t)), w, h, got)
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("priority", ["none", "float32", "float16"])
def test_sort_landings_orders_as_numpys_stable_argsort(native, rng, priority):
    """The native counting sort gives numpy's order (trust steps above quarter-pixel speeds, ties in pixel
    order) and the same positions, motions and pairs; speeds past the cap, trust outside [0, 1] and NaN too."""
    h, w = 37, 53
    motion = (rng.standard_normal((h, w, 2)) * 30.0).astype(F32)
    motion[:5] = np.round(motion[:5])  # whole motions: many equal keys, their order is the pixels'
    motion[5, :4] = [[300.0, 0.0], [0.0, -256.0], [np.nan, 1.0], [1e30, -1e30]]
    trust = rng.random((h, w)).astype(F32) * np.float32(1.4) - np.float32(0.2)
    trust[6, :3] = [np.nan, 1.0, 0.0]
    trust[7] = np.float32(0.5)
    prio = {"none": None, "float32": trust, "float16": trust.astype(np.float16)}[priority]
    pairs = rng.integers(-(2**31), 2**31 - 1, h * w, dtype=np.int64).astype(np.int32)
    with np.errstate(invalid="ignore", over="ignore"):
        want = ref.sort_landings(motion, prio, pairs)
    trust32 = np.empty((0, 0), F32) if prio is None else np.asarray(prio, F32)
    got = native.sort_landings(motion, trust32, pairs)
    for g, x in zip(got, want):
        assert g.dtype == x.dtype
        np.testing.assert_array_equal(g, x)
