"""Sub-frames and the reblur correction travel with the motion."""

from __future__ import annotations

import cv2
import numpy as np

from unshutter import retime, timing, travel
from unshutter.kernels import reference

from .conftest import textured_photo


def test_warper_moves_an_image_along_the_motion() -> None:
    img = textured_photo(64, 96)
    motion = np.zeros((64, 96, 2), np.float32)
    motion[..., 0] = 6.0
    moved = travel.Warper(motion)(img, 0.5)  # 3 px to the right
    np.testing.assert_allclose(moved[:, 10:90], img[:, 7:87], atol=1e-6)


def test_travelling_correction_keeps_the_mean_and_moves_with_the_scene() -> None:
    rng = np.random.default_rng(1)
    sub = rng.uniform(0, 1, (4, 32, 64, 3)).astype(np.float32)
    target = sub.mean(axis=0)
    target[:, 30:34] += 1.0  # a residue the sub-frames do not explain: a bright bar
    motion = np.zeros((32, 64, 2), np.float32)
    motion[..., 0] = 16.0
    offsets = timing.schedule(4, 360.0).offsets()  # -3/8 .. 3/8 of the interval: -6, -2, 2, 6 px
    before = sub.copy()
    travel.travel_residue(sub, target, travel.Warper(motion), offsets)
    np.testing.assert_allclose(sub.mean(axis=0), before.mean(axis=0), atol=1e-5)  # zero-mean correction
    added = (sub - before).mean(axis=(1, 3))  # [4, W]
    peaks = added.argmax(axis=1)
    assert list(np.diff(peaks)) == [4, 4, 4]  # the bar sits 4 px further right in each sub-frame


def test_retime_with_motion_keeps_the_exact_reblur_and_follow_zero_keeps_the_subframes() -> None:
    rng = np.random.default_rng(2)
    sub = rng.uniform(0, 2, (7, 24, 40, 3)).astype(np.float32)
    blurred = rng.uniform(0, 2, (24, 40, 3)).astype(np.float32)
    motion = rng.normal(0, 4, (24, 40, 2)).astype(np.float32)
    sched = timing.schedule(5, 360.0)
    out = retime.retime(
        sub.copy(), blurred, 5, sched=sched, motion=motion, follow_weight=np.full((24, 40), 0.7, np.float32)
    )
    np.testing.assert_allclose(out.mean(axis=0, dtype=np.float64), blurred, rtol=1e-5, atol=1e-5)
    # follow 0 and no residue to carry: the resampled sub-frames come back unchanged
    same = retime.resample_at(sub, sched.fractions())
    blurred0 = same.mean(axis=0)
    out0 = retime.retime(
        sub.copy(), blurred0, 5, sched=sched, motion=motion, follow_weight=np.zeros((24, 40), np.float32)
    )
    np.testing.assert_allclose(out0, same, atol=1e-5)


def test_gap_frames_cross_fade_between_the_two_frames_along_their_motion() -> None:
    img = textured_photo(48, 80)
    motion = np.zeros((48, 80, 2), np.float32)
    motion[..., 0] = 8.0
    w = travel.Warper(motion)
    last, first = img, w(img, 1.0)  # the next frame's first output: the same scene 8 px on
    gap = travel.gap_frames(last, 0.0, w, first, 1.0, w, [0.5])
    # the two ends agree (to their resampling): nothing to restore beyond rounding
    np.testing.assert_allclose(gap[0][:, 12:70], w(img, 0.5)[:, 12:70], atol=5e-4)


def test_gap_frames_moved_by_a_fraction_of_a_pixel_keep_the_ends_detail_without_ringing() -> None:
    """Half a pixel of motion in a bilinear warp averages neighbours: the gap frames were the clip's
    blurriest. Bicubic keeps the detail; clamped to the pixels it reads, it adds no halo beside an edge."""
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.uniform(0.1, 0.9, (64, 96, 3)).astype(np.float32), (0, 0), 1.0)  # fine texture
    img[24:40, 60:80] = 8.0  # a highlight: a plain bicubic warp rings below zero beside it
    motion = np.zeros((64, 96, 2), np.float32)
    motion[..., 0] = 3.0
    w = travel.Warper(motion)
    first = np.ascontiguousarray(np.roll(img, 3, axis=1))  # the next frame's first output: 3 px on
    gap = travel.gap_frames(img, 0.0, w, first, 1.0, w, [0.5])[0]  # 1.5 px from either end

    def detail(x: np.ndarray) -> float:  # over the texture, away from the highlight
        return float(np.abs(cv2.Laplacian(cv2.cvtColor(x[8:56, 8:52], cv2.COLOR_RGB2GRAY), cv2.CV_32F)).mean())

    assert detail(gap) > 0.95 * detail(img)  # bilinear: 0.87 of it
    assert gap.min() >= img.min() and gap.max() <= img.max()  # a plain bicubic: -0.36 and 8.7


def test_gap_frames_keep_the_detail_of_ends_that_do_not_line_up() -> None:
    """The two ends hold the same fine texture 3 px apart (a motion a little off): a plain cross-fade halfway
    mixes two unrelated patterns and keeps about 0.7 of their detail; the gap keeps most of it, with the
    coarse picture still the cross-fade. Ends that line up, and the ends themselves, come out unchanged."""
    rng = np.random.default_rng(4)
    tex = cv2.GaussianBlur(rng.uniform(0.2, 0.8, (64, 96, 3)).astype(np.float32), (0, 0), 0.7)
    last, first = tex, np.ascontiguousarray(np.roll(tex, 3, axis=1))
    still = travel.Warper(np.zeros((64, 96, 2), np.float32))
    gap = travel.gap_frames(last, 0.0, still, first, 1.0, still, [0.0, 0.5, 1.0])

    def detail(x: np.ndarray) -> float:
        return float(np.abs(cv2.Laplacian(cv2.cvtColor(x[8:56, 8:88], cv2.COLOR_RGB2GRAY), cv2.CV_32F)).mean())

    from unshutter import kernels

    faded = kernels.srgb_decode(0.5 * (kernels.srgb_encode(last) + kernels.srgb_encode(first)))  # the plain fade
    assert detail(faded) < 0.75 * detail(tex)
    assert detail(gap[1]) > 0.85 * detail(tex)

    def coarse(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (0, 0), 4.0)[8:56, 8:88]

    np.testing.assert_allclose(coarse(gap[1]), coarse(faded), atol=0.01)
    np.testing.assert_allclose(gap[0], last, atol=1e-5)
    np.testing.assert_allclose(gap[2], first, atol=1e-5)
    same = travel.gap_frames(last, 0.0, still, last.copy(), 1.0, still, [0.5])[0]
    np.testing.assert_allclose(same, last, atol=1e-5)


def test_fade_keeping_detail_in_bands_is_the_whole_frame_result() -> None:
    rng = np.random.default_rng(5)
    h = travel.DETAIL_ROWS + 70  # two bands
    a = cv2.GaussianBlur(rng.uniform(0, 1, (h, 48, 3)).astype(np.float32), (0, 0), 0.8)
    b = np.ascontiguousarray(np.roll(a, 2, axis=0))
    share = rng.uniform(0, 1, (h, 48, 1)).astype(np.float32)
    whole = travel._fade_band(a, b, share[..., 0])
    np.testing.assert_allclose(travel.fade_keeping_detail(a, b, share), whole, atol=1e-6)


def test_gap_frames_fade_what_one_frame_has_and_the_other_not_evenly_as_displayed() -> None:
    """A dark object over a bright sky leaves the frame between the last output and the next frame's first
    (no motion to carry it out): the gap frames dissolve from one to the other in the display encoding, so a
    fifth of the way the object is a fifth faded as seen, not half gone (linear light) ; the sky is exact."""
    from unshutter import kernels

    h, w = 8, 16
    sky = np.full((h, w, 3), 0.9, np.float32)
    last = sky.copy()
    last[2:6, 4:12] = 0.01  # the dark object
    still = travel.Warper(np.zeros((h, w, 2), np.float32))
    gap = travel.gap_frames(last, 0.0, still, sky, 1.0, still, [0.2, 0.5, 0.8])
    shown = kernels.srgb_encode(np.ascontiguousarray(gap))
    dark, bright = kernels.srgb_encode(np.float32([0.01, 0.9]).reshape(1, 1, 2))[0, 0]
    for i, a in enumerate((0.2, 0.5, 0.8)):
        np.testing.assert_allclose(shown[i, 3, 6], dark + a * (bright - dark), atol=1e-4)
    np.testing.assert_allclose(gap[:, 0, 0], 0.9, atol=1e-5)
    hdr = travel.gap_frames(last * 4.0, 0.0, still, sky * 4.0, 1.0, still, [0.5], scale=4.0)
    np.testing.assert_allclose(hdr, gap[1:2] * 4.0, rtol=1e-5)  # the encoding of the frame's own exposure


def test_gap_frames_show_more_of_the_end_whose_motion_holds() -> None:
    """A dark object the last output's motion does not hold (trust 0 there) and the next frame's first output
    shows elsewhere: halfway through the gap the first output's sky shows where the object was, instead of a
    half-faded copy; equal trusts give the plain cross-fade."""
    from unshutter import kernels

    h, w = 8, 32
    sky = np.full((h, w, 3), 0.9, np.float32)
    last, first = sky.copy(), sky.copy()
    last[2:6, 4:10] = 0.01  # where the last output has the object ...
    first[2:6, 20:26] = 0.01  # ... and where the next frame's first has it
    still = travel.Warper(np.zeros((h, w, 2), np.float32))
    trust_last, trust_first = np.ones((h, w), np.float32), np.ones((h, w), np.float32)
    trust_last[:, :12] = 0.0
    plain = travel.gap_frames(last, 0.0, still, first, 1.0, still, [0.5])[0]
    weighed = travel.gap_frames(last, 0.0, still, first, 1.0, still, [0.5], 1.0, trust_last, trust_first)[0]
    same = travel.gap_frames(last, 0.0, still, first, 1.0, still, [0.5], 1.0, trust_first, trust_first)[0]
    np.testing.assert_allclose(same, plain, atol=1e-6)
    shown = kernels.srgb_encode(np.ascontiguousarray(np.stack([plain, weighed])))
    dark, bright = kernels.srgb_encode(np.float32([0.01, 0.9]).reshape(1, 1, 2))[0, 0]
    share = 1.0 / (1.0 + travel.GAP_TRUST_FLOOR)  # the first output's share where the last's trust is floored
    np.testing.assert_allclose(shown[0, 3, 6], dark + 0.5 * (bright - dark), atol=1e-4)
    np.testing.assert_allclose(shown[1, 3, 6], dark + share * (bright - dark), atol=1e-4)
    # both trusted, beyond the detail's neighbourhood (travel.DETAIL_WINDOW) of where they differ: as before
    np.testing.assert_allclose(weighed[:, 22:], plain[:, 22:], atol=1e-5)
    ends = travel.gap_frames(last, 0.0, still, first, 1.0, still, [0.0, 1.0], 1.0, trust_last, trust_first)
    np.testing.assert_allclose(ends[0], last, atol=1e-6)
    np.testing.assert_allclose(ends[1], first, atol=1e-6)


def test_clamp_keeps_the_mean_and_the_range_where_the_mean_allows() -> None:
    rng = np.random.default_rng(3)
    sub = rng.uniform(-0.3, 1.3, (5, 16, 24, 3)).astype(np.float32)
    target = np.clip(sub.mean(axis=0), 0.0, 1.0)
    target[0, 0, 0] = 1.2  # a mean above the ceiling: that pixel cannot be brought into range
    sub[:, 0, 0, 0] = [1.5, 1.1, 1.0, 1.2, 1.2]
    sub += (target - sub.mean(axis=0))[None]
    reference.clamp_keep_mean(sub, target, 1.0)
    np.testing.assert_allclose(sub.mean(axis=0), target, atol=1e-5)
    inside = np.ones(target.shape, bool)
    inside[0, 0, 0] = False
    assert sub.transpose(1, 2, 3, 0)[inside].min() >= -1e-6 and sub.transpose(1, 2, 3, 0)[inside].max() <= 1 + 1e-6
    assert sub[:, 0, 0, 0].max() > 1.0  # left alone
    # no ceiling (scene-linear HDR): only negative light is cut
    hdr = rng.uniform(-0.2, 4.0, (4, 8, 8, 3)).astype(np.float32)
    t = np.maximum(hdr.mean(axis=0), 0.0)
    hdr += (t - hdr.mean(axis=0))[None]
    reference.clamp_keep_mean(hdr, t, None)
    np.testing.assert_allclose(hdr.mean(axis=0), t, atol=1e-5)
    assert hdr.min() >= -1e-6 and hdr.max() > 1.0


def test_warp_consistency_drops_where_a_warp_leaves_a_region_of_its_own_motion() -> None:
    m = np.zeros((40, 100, 2), np.float32)
    m[..., 0] = -2.0  # a slow pan left
    m[10:30, 30:70] = (20.0, 0.0)  # a car moving 20 px right per span
    c = travel.warp_consistency(m)
    assert c.shape == (40, 100) and c.dtype == np.float32
    assert (c[:, :5] == 1).all() and (c[:, -5:] == 1).all()  # the pan alone: no edge within reach
    assert (c[20, 41:59] == 1).all()  # 10 px from both ends, a warp by +-10 px stays on the car
    assert c[20, 30:36].max() == 0 and c[20, 64:70].max() == 0  # the car's first and last pixels pull the pan
    assert c[20, 29] == 0 and (c[20, 15:28] == 1).all()  # the pan pixel at the car's back reaches onto the car
    np.testing.assert_array_equal(travel.warp_consistency(np.full((8, 8, 2), 7.0, np.float32)), 1.0)


def _square(h: int = 40, w: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """A bright 10 px square at columns 10-19 moving 10 px right per frame interval over a still background."""
    img = np.zeros((h, w, 1), np.float32)
    img[10:20, 10:20] = 1.0
    motion = np.zeros((h, w, 2), np.float32)
    motion[10:20, 10:20, 0] = 10.0
    return img, motion


def test_a_sharp_edged_object_advances_whole_not_stretched_or_left_behind() -> None:
    img, motion = _square()
    warp = travel.Warper(motion)
    for t, first in ((0.5, 15), (-0.5, 5)):
        ys, xs = np.nonzero(warp(img, t)[..., 0] > 0.5)
        assert (xs.min(), xs.max(), ys.min(), ys.max()) == (first, first + 9, 10, 19), t
    assert warp(img, 0.5).sum() == img.sum()  # the square keeps its size: nothing dragged, nothing cut


def test_a_motion_that_stretches_leaves_no_lattice_of_dots() -> None:
    """Motion growing across the frame (0.3 px per px): rounded landings leave every third or fourth pixel
    with nothing landing on it, in a regular lattice. Such a gap keeps no motion of its own (one that
    would fetch from elsewhere than its neighbours, a dot in the output): it takes its neighbours'.
    A wide area nothing lands on (what a moving square uncovers) still keeps its own motion."""
    h, w = 24, 80
    motion = np.zeros((h, w, 2), np.float32)
    motion[..., 0] = 0.3 * np.arange(w, dtype=np.float32)[None, :]
    warper = travel.Warper(motion, uncovered=True)
    at = warper.at(1.0).astype(np.float32)[..., 0]
    jump = np.abs(np.diff(at[:, 2:-2], axis=1))  # the landed motion grows by ~0.23 px per px, smoothly
    assert jump.max() < 0.6, jump.max()
    ramp = np.repeat(np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :, None], h, axis=0).repeat(3, axis=2)
    out = warper(ramp, 1.0)[..., 0]
    assert np.all(np.diff(out[:, 2:-2], axis=1) >= -1e-6)  # the ramp stays a ramp: no dots fetched from elsewhere
    assert warper.uncovered(1.0)[:, 4:-4].max() < 0.1  # and nothing counts as uncovered
    _, square = _square()  # columns 10-19 move 10 px: half a frame later nothing lands on 10-14
    np.testing.assert_array_equal(travel.Warper(square).at(0.5)[10:20, 10:15], square[10:20, 10:15])  # their own


def test_a_fast_layer_that_stretches_over_a_still_one_shows_no_dots_of_it() -> None:
    """A fast object whose motion grows across it (16 to 31 px per frame interval) lands half a frame later
    with a gap every two or three pixels; the still background under its new place lands on itself and used
    to fill each gap, a dot of background in the object. Those pixels take the object's motion now; the
    background beside the object, and a still frame, keep theirs."""
    h, w = 12, 80
    motion = np.zeros((h, w, 2), np.float32)
    xs = np.arange(10, 30, dtype=np.float32)
    motion[2:10, 10:30, 0] = 16.0 + 0.8 * (xs - 10.0)  # lands on columns 18..45, spaced 1.4 px
    at = travel.Warper(motion, np.ones((h, w), np.float32)).at(0.5).astype(np.float32)
    assert at[3:9, 19:44, 0].min() > 15.0, at[3:9, 19:44, 0].min()  # no background motion inside the object
    np.testing.assert_array_equal(at[:, 50:, 0], 0.0)  # the background beyond it keeps its own (still) motion
    np.testing.assert_array_equal(at[0, :, 0], 0.0)
    np.testing.assert_array_equal(travel.Warper(np.zeros((h, w, 2), np.float32)).at(0.5), 0.0)


def test_where_two_motions_land_on_one_pixel_the_trusted_one_wins() -> None:
    img, motion = _square()
    motion[10:20, 25:35, 0] = -10.0  # a second square's motion, coming the other way, untrusted
    trust = np.ones(motion.shape[:2], np.float32)
    trust[10:20, 25:35] = 0.1
    at = travel.Warper(motion, trust).at(0.5)
    # at t = 0.5 the first square reaches columns 15-24 and the untrusted motion lands on 20-29
    np.testing.assert_array_equal(at[15, 20:25, 0], 10.0)
    np.testing.assert_array_equal(at[15, 25:30, 0], -10.0)
    assert at.dtype == np.float16


def test_clamp_touches_only_the_pixel_channels_out_of_range() -> None:
    """The clamp's work is bounded by what is out of range: everything else is left bit for bit."""
    rng = np.random.default_rng(5)
    sub = rng.uniform(0.1, 0.9, (4, 12, 10, 3)).astype(np.float32)
    target = sub.mean(axis=0) + np.float32(0.01)  # in range, and not quite the mean: not the clamp's business
    sub[1, 3, 4, 0] = -0.2  # one pixel channel below zero
    target[3, 4, 0] = sub[:, 3, 4, 0].mean()
    before = sub.copy()
    reference.clamp_keep_mean(sub, target, 1.0)
    changed = np.any(sub != before, axis=0)
    assert changed[3, 4, 0] and changed.sum() == 1
    assert sub[:, 3, 4, 0].min() >= 0.0
    np.testing.assert_allclose(sub[:, 3, 4, 0].mean(), target[3, 4, 0], atol=1e-6)


def test_gap_frames_let_the_trusted_motion_win_as_inside_the_exposure() -> None:
    """Where a fast untrusted motion lands on a still trusted region in the closed-shutter gap, the
    trusted one keeps the pixel (the occluder), as the outputs inside the exposure do."""
    from unshutter import timing

    h, w = 6, 60
    img = np.zeros((h, w, 3), np.float32)
    img[:, :20] = 1.0  # the moving region (20 px right per frame, flow inconsistent: trust 0) ...
    motion = np.zeros((h, w, 2), np.float32)
    motion[:, :20, 0] = 20.0
    trust = np.ones((h, w), np.float32)
    trust[:, :20] = 0.0  # ... passes behind a still, trusted region at x >= 20
    sched = timing.schedule(4, 180.0)  # outputs 0, 1 inside the exposure; 2, 3 in the gap
    outs = [np.repeat(img[None], 4, axis=0) for _ in range(2)]
    retime.fill_gap(outs[0], sched, motion, img, motion)
    retime.fill_gap(outs[1], sched, motion, img, motion, trust, trust)
    # gap output 2 is 5 px on from output 1: fastest-wins drags the moving region over x = 20..24
    assert outs[0][2][:, 21:24].min() > 0.3
    np.testing.assert_allclose(outs[1][2][:, 21:24], 0.0, atol=1e-6)


def test_a_settled_warper_gives_the_same_motions_without_its_sort() -> None:
    rng = np.random.default_rng(5)
    motion = rng.normal(0.0, 6.0, (40, 56, 2)).astype(np.float32)
    trust = rng.random((40, 56)).astype(np.float32)
    times = [-0.4, -0.1, 0.2, 0.45]
    plain, settled = travel.Warper(motion, trust), travel.Warper(motion, trust)
    settled.settle(times)
    assert settled._sorted is None  # the five frame-sized arrays of the sort are gone
    img = textured_photo(40, 56)
    for t in times:
        np.testing.assert_array_equal(settled.at(t), plain.at(t))
        np.testing.assert_array_equal(settled(img, t), plain(img, t))
    np.testing.assert_array_equal(settled.at(0.3), plain.at(0.3))  # another time still works (sorted again)


def _whole_warp(warper: travel.Warper, img: np.ndarray, t: float) -> np.ndarray:
    """The warp with whole-frame maps, as the warper made it before it worked in bands of rows."""
    h, w = img.shape[:2]
    mt = warper.at(t)
    mx = np.multiply(mt[..., 0], -np.float32(t), dtype=np.float32) + np.arange(w, dtype=np.float32)[None, :]
    my = np.multiply(mt[..., 1], -np.float32(t), dtype=np.float32) + np.arange(h, dtype=np.float32)[:, None]
    return cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).reshape(img.shape)


def _moving_scene(h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An image, a motion with an object moving across a background, and a trust with holes in it."""
    rng = np.random.default_rng(7)
    img = rng.uniform(0, 2, (h, w, 3)).astype(np.float32)
    motion = rng.normal(0, 3, (h, w, 2)).astype(np.float32)
    motion[h // 4 : h // 2, w // 4 : w // 2] = (17.0, -9.0)
    trust = rng.uniform(0, 1, (h, w)).astype(np.float32)
    return img, motion, trust


def test_a_warp_in_bands_of_rows_is_the_whole_frame_warp_to_the_bit() -> None:
    h, w = 2 * travel.BAND_ROWS + 21, 90  # a last band shorter than the others
    img, motion, trust = _moving_scene(h, w)
    warper = travel.Warper(motion, trust)
    for t in (-0.43, 0.14, 1.0):
        whole = _whole_warp(warper, img, t)
        assert np.array_equal(warper(img, t), whole)
        assert np.array_equal(warper.rows(img, t, 5, 70), whole[5:70])
        one = warper(img[..., :1], t)  # one channel keeps its axis
        assert one.shape == (h, w, 1) and np.array_equal(one, whole[..., :1])


def test_follow_and_travelling_residue_in_bands_are_the_whole_frame_formulas_to_the_bit() -> None:
    h, w = 2 * travel.BAND_ROWS + 21, 90
    img, motion, trust = _moving_scene(h, w)
    rng = np.random.default_rng(8)
    sub = rng.uniform(0, 2, (5, h, w, 3)).astype(np.float32)
    offsets = timing.schedule(5, 360.0).offsets()
    warper = travel.Warper(motion, trust)
    want = sub.copy()  # the formulas on whole frames
    for k, t in enumerate(offsets):
        want[k] += (_whole_warp(warper, img, float(t)) - want[k]) * trust[..., None]
    resid = img - want.mean(axis=0, dtype=np.float32)
    mean_moved = np.zeros_like(resid)
    for t in offsets:
        mean_moved += _whole_warp(warper, resid, float(t))
    mean_moved *= np.float32(1.0 / 5)
    for k, t in enumerate(offsets):
        want[k] += _whole_warp(warper, resid, float(t)) - mean_moved
    travel.follow(sub, img, warper, offsets, trust)
    travel.travel_residue(sub, img, warper, offsets)
    assert np.array_equal(sub, want)


def test_uncovered_marks_what_a_moving_object_leaves_behind_and_what_enters_at_the_edge() -> None:
    """The square (columns 10-19, 10 px per frame to the right) half a frame later covers 15-24 and leaves
    10-14 with nothing landing on it; a uniform motion uncovers only the columns it brings in at the edge."""
    _, motion = _square()
    hole = travel.Warper(motion, uncovered=True).uncovered(0.5)
    assert hole.shape == motion.shape[:2] and hole.dtype == np.float32
    assert hole[12:18, 11:14].min() > 0.9  # left behind
    assert hole[12:18, 18:23].max() < 0.1 and hole[:, 30:].max() < 0.1  # landed on; the still background
    np.testing.assert_array_equal(travel.Warper(motion, uncovered=True).uncovered(0.0), 0.0)
    uniform = np.zeros((20, 40, 2), np.float32)
    uniform[..., 0] = 6.0
    edge = travel.Warper(uniform, uncovered=True).uncovered(1.0)  # everything moves 6 px right: columns 0-5 get nothing
    assert edge[:, :4].min() > 0.9 and edge[:, 10:].max() < 0.1


def test_uncovered_is_the_same_from_the_native_landings_and_numpy_s() -> None:
    """Frames wider than 65535 px land their pixels in numpy (float32 positions): the same uncovered mask."""
    rng = np.random.default_rng(3)
    motion = rng.normal(0.0, 6.0, (30, 50, 2)).astype(np.float32)
    native = travel.Warper(motion, uncovered=True)
    fallback = travel.Warper(motion, uncovered=True)
    sorted_ = fallback._sort()
    fallback._sorted = (sorted_[0].astype(np.float32), sorted_[1].astype(np.float32)) + sorted_[2:]
    for t in (-0.4, 0.3, 1.0):
        np.testing.assert_array_equal(native.uncovered(t), fallback.uncovered(t))
        assert native.uncovered(t).max() > 0.5  # random motion leaves pixels nothing lands on
