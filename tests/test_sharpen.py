"""The mid-exposure frame deblurred along a known motion (unshutter.sharpen)."""

from __future__ import annotations

import numpy as np

from unshutter import kernels, retime, sharpen, timing, travel
from unshutter.kernels.reference import DEBLUR_EPS


def stripes(h: int = 24, w: int = 96) -> np.ndarray:
    """Vertical bars of random widths: edges across a horizontal motion. Shape: -> [H, W, 3]."""
    rng = np.random.default_rng(3)
    cols = np.repeat(rng.random(w // 6).astype(np.float32) * 0.8 + 0.1, 6)
    return np.ascontiguousarray(np.broadcast_to(cols[None, :, None], (h, w, 3)), np.float32)


def pan(h: int, w: int, dx: float) -> np.ndarray:
    m = np.zeros((h, w, 2), np.float32)
    m[..., 0] = dx
    return m


def test_a_smear_along_a_known_motion_comes_back_sharper() -> None:
    truth = stripes()
    motion = pan(*truth.shape[:2], 10.0)
    blurred = kernels.motion_blur(truth, motion, 1.0, sharpen.SPACING, sharpen.MAX_TAPS)
    inner = np.s_[:, 12:-12]  # away from the clamped borders
    before = np.abs(blurred - truth)[inner].mean()
    out = sharpen.along_motion(blurred, blurred, motion, 1.0)
    after = np.abs(out - truth)[inner].mean()
    assert after < 0.75 * before, (before, after)
    # and it still blurs back to the input: Richardson-Lucy fits the exposure
    reblurred = kernels.motion_blur(out, motion, 1.0, sharpen.SPACING, sharpen.MAX_TAPS)
    assert np.abs(reblurred - blurred)[inner].mean() < 0.25 * before


def test_the_exposure_sets_the_length_of_the_blur() -> None:
    truth = stripes()
    motion = pan(*truth.shape[:2], 20.0)  # 20 px per frame interval, a 180 degree shutter: 10 px of blur
    blurred = kernels.motion_blur(truth, motion, 0.5, sharpen.SPACING, sharpen.MAX_TAPS)
    inner = np.s_[:, 12:-12]
    half = np.abs(sharpen.along_motion(blurred, blurred, motion, 0.5) - truth)[inner].mean()
    full = np.abs(sharpen.along_motion(blurred, blurred, motion, 1.0) - truth)[inner].mean()
    assert half < full


def test_negative_light_and_zero_iterations_keep_the_start() -> None:
    mid = stripes()
    mid[3, 40] = -0.2  # out-of-gamut scene-linear value
    blurred = mid.copy()
    motion = pan(*mid.shape[:2], 8.0)
    out = sharpen.along_motion(mid, blurred, motion, 1.0)
    np.testing.assert_array_equal(out[3, 40], mid[3, 40])
    assert np.isfinite(out).all() and (out[mid >= 0] >= 0).all()
    assert sharpen.along_motion(mid, blurred, motion, 1.0, iterations=0) is mid


def test_retime_carries_the_sharpened_frame_and_keeps_the_exact_reblur() -> None:
    truth = stripes()
    h, w = truth.shape[:2]
    motion = pan(h, w, 14.0)
    blurred = kernels.motion_blur(truth, motion, 1.0, sharpen.SPACING, sharpen.MAX_TAPS)
    sub = np.repeat(blurred[None], 7, axis=0)  # a decomposer that only hedged: seven smears
    sched = timing.schedule(7, 360.0, "even")
    weight = np.ones((h, w), np.float32)

    def run(deblur: int) -> np.ndarray:
        return retime.retime(sub.copy(), blurred, 7, sched=sched, motion=motion, follow_weight=weight, deblur=deblur)

    plain, sharp = run(0), run(sharpen.ITERATIONS)
    for out in (plain, sharp):
        np.testing.assert_allclose(out.mean(axis=0), blurred, rtol=0, atol=1e-5)
    # the scene at each output's time, and the error away from the clamped borders
    warp = travel.Warper(motion)
    want = np.stack([warp(truth, float(t)) for t in sched.offsets()])

    def error(x: np.ndarray) -> float:
        return float(np.abs(x - want)[:, :, 20:-20].mean())

    assert error(sharp) < 0.8 * error(plain), (error(plain), error(sharp))


def test_large_frames_are_deconvolved_smaller_and_still_gain() -> None:
    assert sharpen.work_scale(384, 384) == 1.0
    assert sharpen.work_scale(720, 1280) == 0.5
    assert sharpen.work_scale(2160, 3840) == 0.25
    truth = stripes(720, 1296)
    motion = pan(720, 1296, 24.0)  # 12 px at half size
    blurred = kernels.motion_blur(truth, motion, 1.0, sharpen.SPACING, sharpen.MAX_TAPS)
    out = sharpen.along_motion(blurred, blurred, motion, 1.0)
    inner = np.s_[:, 40:-40]
    assert out.shape == truth.shape and (out >= 0).all()
    assert np.abs(out - truth)[inner].mean() < 0.85 * np.abs(blurred - truth)[inner].mean()


def test_a_large_frame_is_sharpened_in_its_own_buffer_with_small_temporaries() -> None:
    """Above the pixel budget the deconvolution runs smaller; at full size the floored target is shrunk and
    the gain grown back a band of rows at a time, and ``out=mid`` writes the result over ``mid``: a 4K run's
    resampling peaked here, with a floored copy of the frame and a full-size gain beside it (1.1 frames
    over the inputs; now under 0.4). The values are those of the whole frame shrunk and grown at once."""
    import tracemalloc

    import cv2

    h, w = 1600, 1536  # deconvolved at a quarter of the size, as 4K
    assert sharpen.work_scale(h, w) == 0.25
    rng = np.random.default_rng(3)
    mid = rng.random((h, w, 3), dtype=np.float32)
    mid[rng.random((h, w, 3)) < 1e-3] = -0.1  # out-of-gamut values keep mid
    blurred = rng.random((h, w, 3), dtype=np.float32) - np.float32(0.01)
    motion = np.full((h, w, 2), 3.0, np.float32)
    frame = mid.nbytes
    # the result the whole-frame resizes give
    size = (w // 4, h // 4)
    small = cv2.resize(mid, size, interpolation=cv2.INTER_AREA)
    target = cv2.resize(np.maximum(blurred, np.float32(0.0)), size, interpolation=cv2.INTER_AREA)
    gain = kernels.deblur_motion(
        small,
        target,
        cv2.resize(motion, size, interpolation=cv2.INTER_AREA) * np.float32(0.25),
        1.0,
        2,
        sharpen.SPACING,
        sharpen.MAX_TAPS,
    )
    gain -= np.maximum(small, DEBLUR_EPS)
    want = np.maximum(cv2.resize(gain, (w, h), interpolation=cv2.INTER_LINEAR) + mid, np.float32(0.0))
    keep = (mid < 0) | (blurred < 0)
    want[keep] = mid[keep]
    tracemalloc.start()
    try:
        out = sharpen.along_motion(mid, blurred, motion, 1.0, iterations=2)
        _, peak_new = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        inplace = mid.copy()
        base = tracemalloc.get_traced_memory()[0]
        res = sharpen.along_motion(inplace, blurred, motion, 1.0, iterations=2, out=inplace)
        _, peak_inplace = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert res is inplace
    np.testing.assert_array_equal(out.view(np.uint32), want.view(np.uint32))
    np.testing.assert_array_equal(inplace.view(np.uint32), want.view(np.uint32))
    assert peak_new < 1.4 * frame, peak_new / frame  # the result, a band, the small frames
    assert peak_inplace - base < 0.4 * frame, (peak_inplace - base) / frame
