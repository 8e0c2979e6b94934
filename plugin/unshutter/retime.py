"""From the model's K sub-frames to the N the user asked for, with exact reblur."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from unshutter import color, kernels, memory, sharpen, timing, travel
from unshutter.errors import ParameterError
from unshutter.guidance import flow
from unshutter.render.numbering import output_frame  # noqa: F401  (the numbering contract lives there)

MAX_FACTOR = 16

BLEND_GAIN = 2.0
"""At a 360 degree shutter, how fast an output leans toward the neighbouring source frame's deblurred
mid-exposure frame carried to its time: its weight is this times the output's distance from mid-exposure
(in frame intervals), at most 1 (:func:`blend_neighbours`)."""


@dataclass(frozen=True)
class Carried:
    """What a source frame lends its neighbours' outputs (:func:`blend_neighbours`).

    Shape: mid [H, W, 3] float32 scene-linear (the deblurred mid-exposure frame), motion [H, W, 2] px per
    frame interval, weight [H, W] float16 (the follow weight: how far the motion is trusted)
    """

    mid: np.ndarray
    motion: np.ndarray
    weight: np.ndarray
    grays: dict[float, np.ndarray] = field(default_factory=dict, repr=False)
    """``mid`` in grey for the cut checks, by the exposure scale of its encoding (:meth:`gray`)."""

    def gray(self, scale: float) -> np.ndarray:
        """``mid`` network-encoded at ``scale`` and in grey (:func:`unshutter.guidance.flow.to_gray8`), made once:
        a frame's own blend and both its neighbours' check it for a cut (12 ms each at 720p).

        Shape: -> [H, W] uint8
        """
        g = self.grays.get(scale)
        if g is None:
            g = self.grays[scale] = flow.to_gray8(color.to_network(np.asarray(self.mid, np.float32), scale))
        return g


NEIGHBOUR_TRUST_SHARE = 0.5
"""How far the neighbour's trust in its own motion counts where it is the greater: the lean toward the
neighbour's carried frame goes by the lesser of the two frames' trusts moved this share of the way to the
neighbour's, i.e. by min(theirs, (theirs + own) / 2). A neighbour whose motion holds can place what this frame's
misread motion could not; the lesser alone (0) left those pixels to jump at the boundary."""

DISSOLVE_GAIN = 1.0
"""Where neither frame trusts its motion (a fast object the flow misread), an output at ``t`` frame intervals from
mid-exposure also dissolves toward the neighbouring frame's mid-exposure frame as it stands, weight this times
|t| x (1 - own trust) x (1 - the neighbour's trust): with no motion to carry it, what changed between the two
frames fades across the frame instead of jumping at the boundary (the frame blending of an editor's retime).
Below 0.5 at every output of an open shutter, so a frame's outputs never hold more of a neighbour than its own."""

BLEND_PIXELS = 2048 * 1080
"""Largest frame whose outputs blend toward the neighbours': a larger frame would hold its N outputs while the
next frame is decomposed (0.7 GB more at 4K, measured 2.2 -> 3.9 GB peak), so 4K is not blended."""


def blends(sched: timing.Schedule, size: tuple[int, int] | None = None) -> bool:
    """True when a frame's outputs blend toward its neighbours' (an open shutter: no gap to bridge), for frames
    of ``size`` (height, width) up to :data:`BLEND_PIXELS`."""
    small = size is None or size[0] * size[1] <= BLEND_PIXELS
    return sched.exposure >= 1.0 and sched.inside >= 2 and sched.gap == 0 and small


def check_params(factor: int, shutter: float) -> None:
    if not isinstance(factor, (int, np.integer)) or not 1 <= int(factor) <= MAX_FACTOR:
        raise ParameterError(f"--factor {factor}: must be an integer from 1 to {MAX_FACTOR}")
    if not (0.0 < float(shutter) <= 360.0):
        raise ParameterError(f"--shutter {shutter}: must be an angle in (0, 360] degrees")


BAND_ROWS = 128
"""Rows per band when resampling: the work is per pixel, so bands bound the temporaries."""


def _slice_middles(u: np.ndarray) -> bool:
    """True when exposure fractions ``u`` are the middles of len(u) equal slices (the native resampler's case)."""
    m = len(u)
    return bool(np.allclose(u, (np.arange(m) + 0.5) / m, rtol=0, atol=1e-12))


def _exact_picks(m: int, k: int) -> list[int] | None:
    """The sub-frame each of ``m`` slice middles falls on exactly among ``k``, or None when one falls
    between two. The native resampler's taps (the same double arithmetic): a factor equal to K, or
    the middle of an odd K, is a copy (0.13 CPU s per 1280x720 frame of resampling that changed nothing)."""
    picks = []
    for i in range(m):
        pos = min(max((i + 0.5) / m * k - 0.5, 0.0), k - 1.0)
        if pos != int(pos):
            return None
        picks.append(int(pos))
    return picks


def resample_at(sub_linear: np.ndarray, u: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """K sub-frames at slice middles -> frames at exposure fractions ``u``, linear in time.

    The same taps as :func:`kernels.resample_subframes` (which it calls when
    ``u`` are slice middles) for any fractions. Works in bands of rows, each
    read whole before it is written, so ``out`` may be ``sub_linear``'s own
    first M planes (no second full-size stack at 4K).

    Shape:
        sub_linear: [K, H, W, 3], u: [M] -> [M, H, W, 3]
    """
    k, h, w, c = sub_linear.shape
    m = len(u)
    middles = _slice_middles(u)
    picks = _exact_picks(m, k) if middles else None
    if picks is not None and out is not None and np.may_share_memory(out, sub_linear):
        if picks == list(range(m)) and out.ctypes.data == sub_linear.ctypes.data and out.strides == sub_linear.strides:
            return out  # N == K: every output is its own sub-frame already
    elif picks is not None:  # each output is one sub-frame (the kernel's 1 * lo + 0 * hi): copied
        out = np.empty((m, h, w, c), np.float32) if out is None else out
        for i, j in enumerate(picks):
            out[i] = sub_linear[j]
        return out
    if out is None:
        out = np.empty((m, h, w, c), np.float32)
    taps = []
    for ui in u:
        pos = min(max(float(ui) * k - 0.5, 0.0), k - 1.0)
        lo = int(np.floor(pos))
        taps.append((lo, min(lo + 1, k - 1), np.float32(pos - lo)))
    for y0, y1 in memory.row_bands(h, BAND_ROWS):
        band_in = np.ascontiguousarray(sub_linear[:, y0:y1], np.float32)
        if middles:
            band = kernels.resample_subframes(band_in, m)
        else:
            band = np.stack([band_in[lo] * (np.float32(1.0) - a) + band_in[hi] * a for lo, hi, a in taps])
        out[:, y0:y1] = band
    return out


def retime(
    sub_linear: np.ndarray,
    blurred_linear: np.ndarray,
    factor: int,
    reuse: bool = False,
    sched: timing.Schedule | None = None,
    motion: np.ndarray | None = None,
    follow_weight: np.ndarray | None = None,
    ceiling: float | None = None,
    deblur: int = sharpen.ITERATIONS,
    mid_out: list[np.ndarray] | None = None,
    warper_out: list[travel.Warper] | None = None,
) -> np.ndarray:
    """K linear sub-frames -> ``factor`` output frames at the times of ``sched``.

    Outputs inside the exposure are resampled from the sub-frames; with
    ``motion`` (px per frame interval) they are blended toward the mid-exposure
    frame, deblurred along it (``deblur`` iterations, :mod:`unshutter.sharpen`), carried along it
    (by ``follow_weight``, per pixel) and the reblur
    correction travels with it (:mod:`unshutter.travel`); they are then kept in
    [0, ``ceiling``] where their mean allows (:func:`unshutter.kernels.reblur_keep_range`). For factor >= 2 their
    linear mean then equals ``blurred_linear`` exactly; factor 1 returns the
    sharp sub-frame at the middle of the exposure. Outputs in the
    closed-shutter gap are carried forward from the last inside output along
    ``motion``; :func:`fill_gap` interpolates them toward the next source frame
    once it is known. Without ``sched`` the outputs share the exposure (the
    ``exposure`` timing). With ``reuse`` and ``factor`` <= K the result is
    written into ``sub_linear``'s own memory. ``mid_out`` receives the deblurred
    mid-exposure frame the outputs followed, if any (the neighbours' outputs
    blend toward it: :func:`blend_neighbours`), and ``warper_out`` then the warper
    they followed it with (:func:`blend_neighbours` carries them along it again).

    Shape:
        sub_linear: [K, H, W, 3], blurred_linear: [H, W, 3], motion: [H, W, 2],
        follow_weight: [H, W] -> [N, H, W, 3]
    """
    k, h, w, c = sub_linear.shape
    n = int(factor)
    sched = sched or timing.schedule(n, 360.0, "exposure")
    if sched.n != n:
        raise ValueError(f"retime: schedule has {sched.n} outputs, factor is {n}")
    inside = sched.inside
    u = sched.fractions()
    if motion is None and inside == n and _slice_middles(u):
        return _retime_bands(sub_linear, blurred_linear, n, reuse)
    # the blend reads where nothing lands at the sub-frames' times (Warper.uncovered): kept with the warper
    lends = mid_out is not None and warper_out is not None and follow_weight is not None and inside >= 2
    warper = travel.Warper(motion, follow_weight, uncovered=lends) if motion is not None else None
    if warper is not None and inside == n >= 2:  # only the sub-frames' own times are warped to: sort freed
        warper.settle(sched.offsets())
    mid = None
    if warper is not None and follow_weight is not None and inside >= 2:
        mid = resample_at(sub_linear, np.array([0.5]))[0]  # before ``out`` may overwrite the sub-frames
        mid = sharpen.along_motion(mid, blurred_linear, warper.motion, sched.exposure, deblur, out=mid)
        if mid_out is not None:
            mid_out.append(mid)
            if lends and warper_out is not None:
                warper_out.append(warper)
    if reuse and n <= k and sub_linear.dtype == np.float32 and sub_linear.flags.c_contiguous:
        out = sub_linear[:n]
    else:
        out = np.empty((n, h, w, c), np.float32)
    resample_at(sub_linear, u, out[:inside])
    part = out[:inside]
    if n >= 2:
        if warper is not None:
            offsets = sched.offsets()
            if mid is not None and follow_weight is not None:
                travel.follow(part, mid, warper, offsets, follow_weight)
                del mid
            travel.travel_residue(part, blurred_linear, warper, offsets)
        moved = warper is not None
        if inside == n:  # its landing fields are not needed any more (190 MiB off the projection at 4K)
            warper = None
        _project(part, blurred_linear, ceiling, clamp=moved)
    if inside < n:
        carry = warper or travel.Warper(np.zeros((h, w, 2), np.float32))
        out[inside:] = travel.gap_frames(
            out[inside - 1], sched.times[inside - 1], carry, None, 0.0, None, sched.times[inside:]
        )
    return out


def _project(part: np.ndarray, blurred_linear: np.ndarray, ceiling: float | None, clamp: bool) -> None:
    """The exact reblur (in place): the outputs' mean becomes ``blurred_linear``; with ``clamp`` (moving content
    can overshoot) they are then kept in [0, ``ceiling``] where their mean allows, the mean kept
    (:func:`unshutter.kernels.reblur_keep_range`). Shape: [N, H, W, 3], [H, W, 3]"""
    target = np.ascontiguousarray(blurred_linear, np.float32)
    work = np.ascontiguousarray(part, np.float32)  # ``part`` itself when it is C-contiguous float32
    kernels.reblur_keep_range(work, target, ceiling, clamp)
    if work is not part:
        part[...] = work


def blend_neighbours(
    out: np.ndarray,
    blurred_linear: np.ndarray,
    sched: timing.Schedule,
    own: Carried,
    before: Carried | None,
    after: Carried | None,
    ceiling: float | None,
    mine: travel.Warper | None = None,
) -> None:
    """Lean each output toward the neighbouring frame's deblurred mid-exposure frame carried to its time (in place).

    With an open shutter one frame's last output and the next frame's first are
    1/N of a frame apart, but each frame's outputs are built from its own
    decomposition: whatever that got differently (a residue of the blur, ringing,
    an object placed a little off) pops at every frame boundary. So output k of
    frame f, at ``t`` frame intervals from mid-exposure, is blended toward frame
    f+1's mid-exposure frame carried back by 1 - t along f+1's motion (t > 0) or
    frame f-1's carried forward by 1 + t (t < 0), with weight ``BLEND_GAIN`` x
    |t| (at most 1) times the trust in that motion (the lesser of the two frames',
    raised toward the neighbour's: :data:`NEIGHBOUR_TRUST_SHARE`). Where frame f's own
    motion leaves a pixel uncovered at that time (just behind a moving object,
    where its own frames have nothing true to carry: :meth:`travel.Warper.uncovered`),
    the neighbour's carried frame is taken whole wherever the neighbour trusts it and
    lands something there itself. Where neither frame trusts its motion, the output
    then dissolves toward the neighbour's mid-exposure frame where it stands
    (:data:`DISSOLVE_GAIN`). The reblur correction
    then travels again and the exact projection follows: the outputs' mean
    stays ``blurred_linear``. ``before`` / ``after`` None (the clip's ends, a cut)
    leave that side alone. ``mine``: the warper the outputs followed ``own``'s motion
    with (:func:`retime`'s ``warper_out``, made with ``uncovered=True``); without it one
    is made from ``own`` (its motion, its float16 weight as the landing priority).

    Shape:
        out: [N, H, W, 3] scene-linear (the inside outputs of ``sched``), blurred_linear: [H, W, 3]
    """
    if not blends(sched) or (before is None and after is None):
        return
    inside = sched.inside
    part = out[:inside]
    offsets = sched.offsets()
    weight = np.asarray(own.weight, np.float32)
    if mine is None:
        mine = travel.Warper(own.motion, weight, uncovered=True)
    sides = {}
    for side, nb in (("before", before), ("after", after)):
        if nb is not None:
            nbw = np.asarray(nb.weight, np.float32)
            unknown = np.subtract(np.float32(1.0), weight)  # [H, W]: neither frame trusts its motion
            unknown *= np.float32(1.0) - nbw
            sides[side] = (
                travel.Warper(nb.motion, nbw, uncovered=True),
                nbw[..., None],
                np.asarray(nb.mid, np.float32),
                unknown,
            )
    h = part.shape[1]
    for k, t in enumerate(offsets):
        side, tt = ("after", float(t) - 1.0) if t > 0 else ("before", float(t) + 1.0)
        if t == 0 or side not in sides:
            continue
        warper, nbw, mid, unknown = sides[side]
        a = np.float32(min(1.0, BLEND_GAIN * abs(float(t))))
        fade = np.float32(DISSOLVE_GAIN * abs(float(t)))
        lands = warper.uncovered(tt)  # [H, W]: 1 - it, where the neighbour carries something of its own
        np.subtract(np.float32(1.0), lands, out=lands)
        bare = mine.uncovered(float(t))  # [H, W]: where this frame's own carry has nothing true
        # in bands; the weight and the frame warped with the same maps
        for y0, y1 in memory.row_bands(h, travel.BAND_ROWS):
            maps = warper.maps(tt, y0, y1)
            theirs = warper.rows(nbw, tt, y0, y1, maps).reshape(y1 - y0, -1)  # [rows, W]
            theirs *= lands[y0:y1]
            wgt = np.minimum(theirs, weight[y0:y1])
            wgt += np.float32(NEIGHBOUR_TRUST_SHARE) * (theirs - wgt)  # the neighbour's trust counts too
            wgt *= a
            theirs *= bare[y0:y1]  # taken whole where this frame has nothing of its own
            np.maximum(wgt, theirs, out=wgt)
            kernels.lean_toward(part[k, y0:y1], warper.rows(mid, tt, y0, y1, maps), wgt)
            np.multiply(unknown[y0:y1], fade, out=wgt)
            kernels.lean_toward(part[k, y0:y1], mid[y0:y1], wgt)
    del sides
    travel.travel_residue(part, blurred_linear, mine, offsets)
    _project(part, blurred_linear, ceiling, clamp=True)


def fill_gap(
    out: np.ndarray,
    sched: timing.Schedule,
    motion: np.ndarray | None,
    next_first: np.ndarray,
    next_motion: np.ndarray | None,
    priority: np.ndarray | None = None,
    next_priority: np.ndarray | None = None,
    scale: float = 1.0,
) -> None:
    """Interpolate the gap outputs of ``out`` toward the next source frame's first output (in place).

    ``priority`` and ``next_priority`` (each frame's follow weight) decide which
    motion wins where two land on one pixel, as inside the exposure (:func:`retime`),
    and weigh the two ends in the cross-fade where one's motion holds and the other's not.
    ``scale`` is the frame's exposure scale: the cross-fade runs in its display encoding
    (:func:`unshutter.travel.gap_frames`).

    Shape:
        out: [N, H, W, 3], next_first: [H, W, 3], motion, next_motion: [H, W, 2] or None,
        priority, next_priority: [H, W] or None
    """
    if sched.gap == 0:
        return
    h, w = out.shape[1:3]

    def warper(m: np.ndarray | None, p: np.ndarray | None) -> travel.Warper:  # no motion known: stays put
        return travel.Warper(m, p) if m is not None else travel.Warper(np.zeros((h, w, 2), np.float32))

    i = sched.inside
    out[i:] = travel.gap_frames(
        out[i - 1],
        sched.times[i - 1],
        warper(motion, priority),
        next_first,
        1.0 + sched.times[0],
        warper(next_motion, next_priority),
        sched.times[i:],
        scale,
        priority,
        next_priority,
    )


def _retime_bands(sub_linear: np.ndarray, blurred_linear: np.ndarray, n: int, reuse: bool) -> np.ndarray:
    """The all-inside, motionless case in bands of rows: no full-size temporaries beyond the result at 4K."""
    k, h, w, c = sub_linear.shape
    if reuse and n <= k and sub_linear.dtype == np.float32 and sub_linear.flags.c_contiguous:
        out = sub_linear[:n]
    else:
        out = np.empty((n, h, w, c), np.float32)
    for y0, y1 in memory.row_bands(h, BAND_ROWS):
        band = kernels.resample_subframes(np.ascontiguousarray(sub_linear[:, y0:y1], np.float32), n)
        if n >= 2:
            band = kernels.reblur_project(band, np.ascontiguousarray(blurred_linear[y0:y1], np.float32))
        out[:, y0:y1] = band
    return out


def subframe_time(k: int, factor: int, shutter: float = 360.0, timing_mode: str = "even") -> float:
    """Time of output sub-frame k in source frame intervals after the exposure opens."""
    return timing.schedule(factor, shutter, timing_mode).times[k]
