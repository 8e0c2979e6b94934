"""Retime: K -> N resampling at slice middles, the reblur constraint, output numbering."""

from __future__ import annotations

import numpy as np
import pytest

from unshutter import retime, timing, travel
from unshutter.errors import ParameterError


def _ramp(k: int = 7) -> np.ndarray:
    # sub-frame k holds the value of its time (k + 0.5) / K everywhere
    t = (np.arange(k, dtype=np.float32) + 0.5) / k
    return np.ascontiguousarray(np.broadcast_to(t[:, None, None, None], (k, 3, 4, 3)))


@pytest.mark.parametrize("n", [2, 3, 4, 7, 9, 16])
def test_resample_hits_slice_middles(n: int) -> None:
    sub = _ramp()
    blurred = np.full((3, 4, 3), 0.5, np.float32)
    out = retime.retime(sub, blurred, n)
    want = (np.arange(n) + 0.5) / n
    inner = (want >= 0.5 / 7) & (want <= 6.5 / 7)  # beyond the outer middles the ends are held
    np.testing.assert_allclose(out[inner, 0, 0, 0], want[inner], atol=1e-6)
    np.testing.assert_allclose(out.mean(0), blurred, atol=1e-6)


def test_factor_one_is_the_middle() -> None:
    sub = np.random.default_rng(1).random((7, 5, 6, 3)).astype(np.float32)
    out = retime.retime(sub, sub.mean(0), 1)
    np.testing.assert_array_equal(out[0], sub[3])


def test_reblur_exact_on_random_hdr() -> None:
    rng = np.random.default_rng(2)
    sub = (rng.random((7, 9, 11, 3)) * 50).astype(np.float32)
    target = (rng.random((9, 11, 3)) * 50).astype(np.float32)
    out = retime.retime(sub, target, 5)
    np.testing.assert_allclose(out.mean(0, dtype=np.float64), target, rtol=1e-6, atol=1e-5)


def test_numbering_contract() -> None:
    assert [retime.output_frame(1001, 1001, 4, k) for k in range(4)] == [1001, 1002, 1003, 1004]
    assert retime.output_frame(1001, 1003, 4, 2) == 1001 + 2 * 4 + 2
    assert retime.subframe_time(0, 4) == pytest.approx(0.125)
    assert retime.subframe_time(3, 4, 180.0, "exposure") == pytest.approx(0.4375)
    assert retime.subframe_time(3, 4, 180.0) == pytest.approx(0.875)  # even timing: in the shutter gap


@pytest.mark.parametrize("factor,shutter", [(0, 360.0), (17, 360.0), (2.5, 360.0), (4, 0.0), (4, 361.0)])
def test_bad_params(factor, shutter) -> None:
    with pytest.raises(ParameterError):
        retime.check_params(factor, shutter)


@pytest.mark.parametrize("n", [1, 3, 7, 12])
def test_banded_and_in_place_match_whole_frame_kernels(n: int) -> None:
    from unshutter import kernels

    rng = np.random.default_rng(3)
    h = retime.BAND_ROWS * 2 + 37  # several bands and a short last one
    sub = (rng.random((7, h, 5, 3)) * 4).astype(np.float32)
    target = (rng.random((h, 5, 3)) * 4).astype(np.float32)
    want = kernels.resample_subframes(sub, n)
    if n >= 2:
        want = kernels.reblur_project(want, target)
    np.testing.assert_array_equal(retime.retime(sub, target, n), want)
    work = sub.copy()
    got = retime.retime(work, target, n, reuse=True)
    np.testing.assert_array_equal(got, want)
    assert np.shares_memory(got, work) == (n <= 7)


@pytest.mark.parametrize("k", [7, 8])
def test_resample_at_slice_middles_gives_the_kernels_values_exactly(k: int) -> None:
    """Outputs that fall on one sub-frame are copied (or left in place at N == K): the kernel's values,
    bit for bit, for every factor, into a new stack or into the sub-frames' own memory."""
    from unshutter import kernels

    rng = np.random.default_rng(k)
    sub = rng.normal(0.3, 0.5, (k, 21, 19, 3)).astype(np.float32)
    for m in range(1, 17):
        u = (np.arange(m) + 0.5) / m
        want = kernels.resample_subframes(sub, m)
        assert retime.resample_at(sub, u).tobytes() == want.tobytes(), m
        if m <= k:
            own = sub.copy()
            got = retime.resample_at(own, u, out=own[:m])
            assert got.tobytes() == want.tobytes(), m
    own = sub.copy()
    assert retime.resample_at(own, (np.arange(k) + 0.5) / k, out=own[:k]).ctypes.data == own.ctypes.data


def _pattern(h: int, w: int, shift: float) -> np.ndarray:
    """A smooth texture moved ``shift`` px to the right. Shape: -> [H, W, 3]"""
    x = np.arange(w, dtype=np.float32)[None, :, None] - np.float32(shift)
    y = np.arange(h, dtype=np.float32)[:, None, None]
    c = np.array([1.0, 0.7, 0.4], np.float32)
    return (0.5 + 0.3 * np.sin(x * 0.35 + c) * np.cos(y * 0.2 - c)).astype(np.float32)


def _carried(mid: np.ndarray, speed: float) -> retime.Carried:
    h, w = mid.shape[:2]
    motion = np.zeros((h, w, 2), np.float32)
    motion[..., 0] = speed
    return retime.Carried(mid.astype(np.float16), motion, np.ones((h, w), np.float16))


def test_a_carried_frame_is_made_grey_once_per_exposure_scale(monkeypatch) -> None:
    """Node.settle checks a frame's mid-exposure frame for a cut against both neighbours, and each
    neighbour checks it again: it is encoded and made grey once per scale, as the flow would make it."""
    from unshutter import color
    from unshutter.guidance import flow

    mid = _pattern(24, 40, 0.0) * np.float32(3.0)
    carried = _carried(mid, 2.0)
    calls = []
    real = flow.to_gray8
    monkeypatch.setattr(flow, "to_gray8", lambda enc: calls.append(1) or real(enc))
    g = carried.gray(2.5)
    assert carried.gray(2.5) is g and len(calls) == 1
    np.testing.assert_array_equal(g, real(color.to_network(np.asarray(carried.mid, np.float32), 2.5)))
    other = carried.gray(1.0)  # another frame's exposure: its own encoding
    assert len(calls) == 2 and not np.array_equal(other, g)


def test_outputs_lean_toward_the_neighbours_along_their_motion_and_keep_the_exact_reblur() -> None:
    """Frame f's outputs all hold its mid-exposure frame (no motion inside the frame): blended with the
    neighbours' mid-exposure frames carried to their times, the late and early outputs move toward where
    the scene is then, and the mean is still the blurred input."""
    h, w, n, v = 24, 64, 5, 6.0  # 6 px per frame interval to the right
    sched = timing.schedule(n, 360.0)
    offsets = sched.offsets()
    blurred = np.mean([_pattern(h, w, v * t) for t in np.linspace(-0.5, 0.5, 41)], axis=0).astype(np.float32)
    out = np.repeat(_pattern(h, w, 0.0)[None], n, axis=0)
    truth = np.stack([_pattern(h, w, v * t) for t in offsets])
    inner = (slice(None), slice(None), slice(12, -12))  # away from the borders the warps replicate

    def err(a: np.ndarray) -> np.ndarray:
        return np.abs(a - truth)[inner].mean(axis=(1, 2, 3))

    before = err(out)
    own = _carried(_pattern(h, w, 0.0), v)
    retime.blend_neighbours(
        out, blurred, sched, own, _carried(_pattern(h, w, -v), v), _carried(_pattern(h, w, v), v), None
    )
    after = err(out)
    assert after[0] < 0.6 * before[0] and after[-1] < 0.6 * before[-1]  # the outputs nearest the boundaries
    np.testing.assert_allclose(out.mean(axis=0), blurred, atol=1e-5)  # the exact reblur


def test_no_neighbour_or_a_closed_shutter_leaves_the_outputs_alone() -> None:
    h, w, n = 8, 16, 4
    blurred = _pattern(h, w, 0.0)
    own = _carried(blurred, 4.0)
    for sched, before, after in (
        (timing.schedule(n, 360.0), None, None),  # the clip's only frame, or cuts both sides
        (timing.schedule(n, 180.0), own, own),  # below 360 degrees the closed-shutter gap bridges frames
    ):
        out = np.repeat(blurred[None], n, axis=0)
        retime.blend_neighbours(out, blurred, sched, own, before, after, None)
        np.testing.assert_array_equal(out, np.repeat(blurred[None], n, axis=0))
    assert retime.blends(timing.schedule(n, 360.0)) and not retime.blends(timing.schedule(1, 360.0))


def test_what_a_moving_object_uncovers_comes_whole_from_the_neighbour_that_saw_it() -> None:
    """A bright square moves 20 px per frame over a still texture. Carried from mid-exposure, the frame's own
    outputs put the square's edge a second time where it has just uncovered the texture (a ghost band); the
    neighbour on that side saw the texture there, so the band takes the neighbour's frame whole, not only
    the share its time would give it (0.4 of it at 0.2 frame intervals from mid-exposure)."""
    h, w, n, v, x0, size = 32, 96, 5, 20.0, 30, 12
    sched = timing.schedule(n, 360.0)
    offsets = sched.offsets()  # -0.4 .. 0.4
    background = _pattern(h, w, 0.0)

    def scene(t: float) -> tuple[np.ndarray, np.ndarray]:
        img, motion = background.copy(), np.zeros((h, w, 2), np.float32)
        a = int(round(x0 + v * t))
        img[10:22, a : a + size] = 0.95
        motion[10:22, a : a + size, 0] = v
        return img, motion

    def carried(t: float) -> retime.Carried:
        img, motion = scene(t)
        return retime.Carried(img, motion, np.ones((h, w), np.float16))

    own = carried(0.0)
    warp = travel.Warper(own.motion, np.ones((h, w), np.float32))
    out = np.stack([warp(np.asarray(own.mid), float(t)) for t in offsets])
    truth = np.stack([scene(float(t))[0] for t in offsets])
    blurred = np.mean([scene(float(t))[0] for t in np.linspace(-0.5, 0.5, 81)], axis=0).astype(np.float32)
    bands = {1: (slice(12, 20), slice(x0 + size - 4, x0 + size)), 3: (slice(12, 20), slice(x0, x0 + 4))}
    ghost = {k: np.abs(out[k] - truth[k])[b].mean() for k, b in bands.items()}
    assert min(ghost.values()) > 0.05  # the carried frame has a ghost band there
    retime.blend_neighbours(out, blurred, sched, own, carried(-1.0), carried(1.0), None)
    for k, b in bands.items():
        assert np.abs(out[k] - truth[k])[b].mean() < 0.25 * ghost[k], k
    np.testing.assert_allclose(out.mean(axis=0), blurred, atol=1e-5)  # the exact reblur


def test_where_neither_frame_trusts_its_motion_the_change_dissolves_across_the_frame(monkeypatch) -> None:
    """A fast object the flow misread: neither frame trusts its motion, so nothing is carried, and each frame's
    outputs would hold its own picture and jump at the boundary. The outputs after mid-exposure take the next
    frame's picture in proportion to their time (before it, the previous frame's): the change fades across the
    frame. Where the motion is trusted nothing dissolves; the exact reblur holds either way."""
    h, w, n = 16, 32, 7
    sched = timing.schedule(n, 360.0)
    offsets = sched.offsets()
    own_pic, next_pic, prev_pic = _pattern(h, w, 0.0), _pattern(h, w, 5.0), _pattern(h, w, -3.0)

    def carried(pic: np.ndarray, trust: float) -> retime.Carried:
        still = np.zeros((h, w, 2), np.float32)  # the motion as misread: nothing moves
        return retime.Carried(pic.astype(np.float16), still, np.full((h, w), trust, np.float16))

    def blend(trust: float, gain: float) -> np.ndarray:
        monkeypatch.setattr(retime, "DISSOLVE_GAIN", gain)
        out = np.repeat(own_pic[None], n, axis=0)
        own = carried(own_pic, trust)
        retime.blend_neighbours(out, own_pic, sched, own, carried(prev_pic, trust), carried(next_pic, trust), None)
        np.testing.assert_allclose(out.mean(axis=0), own_pic, atol=1e-5)  # the exact reblur
        return out

    gain = retime.DISSOLVE_GAIN
    out = blend(0.0, gain)
    step = out[-1] - out[0]  # late output minus early one: the projection shifts both alike
    expected = offsets[-1] * (next_pic - own_pic) + offsets[0] * (prev_pic - own_pic)
    np.testing.assert_allclose(step, expected, atol=2e-3)
    assert 0.0 < offsets[-1] < 0.5  # the last output holds less of the next frame than of its own
    np.testing.assert_array_equal(blend(1.0, gain), blend(1.0, 0.0))  # trusted: no dissolve
    half = blend(0.5, gain) - blend(0.5, 0.0)  # half trusted in each frame: less of it
    assert 0.02 < np.abs(half[-1] - half[0]).max() < 0.5 * np.abs(expected).max()


def test_a_neighbour_whose_motion_holds_places_what_this_frames_misread_motion_could_not(monkeypatch) -> None:
    """The scene pans 6 px per frame; this frame read no motion and trusts none, its neighbours read the pan
    and trust it. The lean toward their carried frames goes by the mean of the two trusts (never above the
    neighbour's), so the outputs nearest the boundaries move toward where the scene is then; by the lesser
    trust alone (share 0) they held this frame's picture. Where both trust their motion the share changes
    nothing."""
    h, w, n, v = 24, 64, 5, 6.0
    sched = timing.schedule(n, 360.0)
    offsets = sched.offsets()
    blurred = np.mean([_pattern(h, w, v * t) for t in np.linspace(-0.5, 0.5, 41)], axis=0).astype(np.float32)
    truth = np.stack([_pattern(h, w, v * t) for t in offsets])
    inner = (slice(None), slice(None), slice(12, -12))

    def blend(share: float, own_trust: float) -> np.ndarray:
        monkeypatch.setattr(retime, "NEIGHBOUR_TRUST_SHARE", share)
        out = np.repeat(_pattern(h, w, 0.0)[None], n, axis=0)
        own = retime.Carried(
            _pattern(h, w, 0.0).astype(np.float16),
            np.zeros((h, w, 2), np.float32) if own_trust == 0 else _carried(blurred, v).motion,
            np.full((h, w), own_trust, np.float16),
        )
        nb = [_carried(_pattern(h, w, -v), v), _carried(_pattern(h, w, v), v)]
        retime.blend_neighbours(out, blurred, sched, own, nb[0], nb[1], None)
        np.testing.assert_allclose(out.mean(axis=0), blurred, atol=1e-5)  # the exact reblur
        return out

    def err(a: np.ndarray) -> np.ndarray:
        return np.abs(a - truth)[inner].mean(axis=(1, 2, 3))

    held, placed = err(blend(0.0, 0.0)), err(blend(0.5, 0.0))
    assert placed[0] < 0.8 * held[0] and placed[-1] < 0.8 * held[-1]
    np.testing.assert_array_equal(blend(0.5, 1.0), blend(0.0, 1.0))
