"""Make the sub-frames travel with the scene's motion.

The decomposer's sub-frames hedge toward the blurred frame, and whatever the
exact reblur adds to them is the same image in every sub-frame: either way a
residue of the blur stays put inside a source frame and jumps at the next one,
which playback shows as a pop every N frames (see MODEL_CARD.md, "Motion").
Three remedies, all along the per-pixel motion ``m`` (px per frame interval):

- :func:`follow`: blend each sub-frame toward the mid-exposure sub-frame
  carried to its time along ``m``;
- :func:`travel_residue`: the reblur's correction is carried along ``m`` to
  each sub-frame's time instead of being added in place, with a zero-mean
  remainder so the mean still equals the input exactly;
- :func:`gap_frames`: output frames in the closed-shutter gap, interpolated
  from the last sharp sub-frame of a frame and the first of the next, each
  carried along its own motion.

Warps are backward (the value at p comes from p - t * m(p)) with OpenCV's
bilinear remap and replicated borders.
"""

from __future__ import annotations

import cv2
import numpy as np

from unshutter import color, kernels, memory
from unshutter.kernels import reference

BAND_ROWS = 64
"""Rows warped at a time: the maps and temporaries of a band stay small (and in cache) at any frame size."""
LANDING_CHUNK = 1 << 18
"""Pixels whose landing spots :meth:`Warper.at` computes at a time."""
GAP_CLOSE = 5
"""Side (px) of the square closing that tells gaps between landings from an uncovered area: holes
up to 4 px across (where a motion that stretches spreads its rounded landings apart) are gaps, to
be filled from their edges; wider ones are uncovered (see :meth:`Warper.uncovered`)."""
LATTICE_REL = 0.1
"""Where a faster motion lands over a slower one with one-pixel gaps between its landings (it stretches),
the slower one's landings fill them and show as dots of the wrong layer: a pixel slower than both its
neighbours on a line by more than this part of their speed (at least 1 px), between two that agree as
closely, takes their mean (:func:`unshutter.kernels.close_lattice`)."""
UNCOVERED_FEATHER = 1.5
"""Gaussian sigma (px) softening the edge of :meth:`Warper.uncovered` (nearest-pixel landings are jagged)."""


class Warper:
    """Backward warps of images of one size along one motion field, by different times."""

    def __init__(self, motion: np.ndarray, priority: np.ndarray | None = None, uncovered: bool = False) -> None:
        """Shape: motion [H, W, 2] px per frame interval (x, y; y down); priority [H, W] in [0, 1].

        ``priority`` (how far each pixel's motion is trusted) decides which
        motion wins where two land on one pixel (:meth:`at`); faster wins among equals.
        ``uncovered`` keeps, per time, which pixels something lands on (one byte per pixel and time),
        for :meth:`uncovered`.
        """
        h, w = motion.shape[:2]
        self.motion = np.ascontiguousarray(motion, np.float32)
        self._priority = priority
        self._xs = np.arange(w, dtype=np.float32)[None, :]
        self._ys = np.arange(h, dtype=np.float32)[:, None]
        self._sorted: tuple[np.ndarray, ...] | None = None
        self._moving = bool(np.any(self.motion))
        self._at: dict[float, np.ndarray] = {}
        self._landed: dict[float, np.ndarray] | None = {} if uncovered else None

    def at(self, t: float) -> np.ndarray:
        """The motion of whatever is at each pixel ``t`` frame intervals later. Shape: -> [H, W, 2] float16.

        A backward warp fetches the value at p from p - t * m(p), with the
        motion *at p*. At a fast object's leading edge p is still background,
        so the object would not advance, and behind it the object's motion
        drags the object along: with sharp-edged motion a fast object stands
        still inside a source frame and jumps at the next. So every pixel's
        motion is carried to where it lands at time t; where several land on
        one pixel the most trusted wins (the occluder keeps a consistent flow,
        what it covers does not), the fastest among equals. Landings are
        rounded to whole pixels, so a motion that stretches leaves one-pixel
        gaps between them in a regular lattice; a gap that keeps its own motion
        fetches from elsewhere than its neighbours, which shows as a grid of
        dots. Gaps (pixels the closing of the landed ones fills,
        :func:`_fill_gaps`) take the mean motion of the landed pixels around
        them; pixels nothing lands on in a larger area (just uncovered) keep
        their own motion. Where a fast layer stretches over a slower one, the
        slower one lands in the fast one's gaps instead, dots of the wrong
        layer: a single pixel slower than two agreeing neighbours on a line
        takes their motion (:data:`LATTICE_REL`). Kept per time as float16 (0.1 px at 200 px of motion;
        a 4K field is 33 MB).
        """
        key = float(t)
        hit = self._at.get(key)
        if hit is not None:
            return hit
        h, w = self.motion.shape[:2]
        if self._sorted is None:
            self._sorted = self._sort()
        px, py, mx, my, src = self._sorted
        own = np.empty((h, w, 2), np.float16)
        pairs = own.view(np.int32).reshape(-1)  # a float16 (x, y) pair moves as one int32
        pairs.fill(_UNLANDED)  # a NaN pair: no finite motion has it, so what stays NaN was not landed on
        # ascending priority: where several land, the last (most trusted, fastest) write stays
        if px.dtype == np.uint16:  # in one pass, no temporaries: a third of a 720p frame's resampling in numpy
            kernels.land_motion(px, py, mx, my, src, t, w, h, pairs)
        else:  # float32 positions (wider than uint16): the kernel's numpy reference, in chunks, in that order
            for c0 in range(0, px.size, LANDING_CHUNK):  # a chunk's temporaries, not six frame-sized arrays
                c = slice(c0, c0 + LANDING_CHUNK)
                reference.land_motion(px[c], py[c], mx[c], my[c], src[c], t, w, h, pairs)
        landed = (pairs != _UNLANDED).view(np.uint8).reshape(h, w)
        _fill_gaps(own, landed, self.motion)
        kernels.close_lattice(own, LATTICE_REL)
        if self._landed is not None:
            self._landed[key] = landed
        self._at[key] = own
        return own

    @property
    def nbytes(self) -> int:
        """Memory of the landings it keeps (the motion at each time asked for, and where something landed)."""
        return sum(int(a.nbytes) for a in (*self._at.values(), *(self._landed or {}).values()))

    def uncovered(self, t: float) -> np.ndarray:
        """Pixels nothing lands on ``t`` frame intervals later: 1 there, 0 where something lands, feathered.

        Just behind a moving object lies what it hid at mid-exposure; a warp of
        this frame has nothing true to put there (it fetches the object's own
        edge a second time, a ghost band), while a neighbouring frame, taken
        when the object was elsewhere, may have it. Pixels a motion brings in
        from beyond the frame's edge count too. One-pixel gaps between
        neighbouring landings (a motion that stretches) are closed first. Needs
        a Warper made with ``uncovered=True``.

        Shape: -> [H, W] float32 in [0, 1]
        """
        if self._landed is None:
            raise ValueError("Warper.uncovered: make the Warper with uncovered=True")
        h, w = self.motion.shape[:2]
        if not self._moving or t == 0.0:
            return np.zeros((h, w), np.float32)
        self.at(t)
        square = np.ones((3, 3), np.uint8)
        hole = cv2.morphologyEx(self._landed[float(t)], cv2.MORPH_CLOSE, square)
        hole ^= np.uint8(1)
        hole = cv2.dilate(hole, square)
        hole *= np.uint8(255)
        hole = cv2.GaussianBlur(hole, (0, 0), UNCOVERED_FEATHER)
        return hole.astype(np.float32) * np.float32(1.0 / 255.0)

    def settle(self, times: np.ndarray | list[float]) -> None:
        """Make the motions of ``times`` now and drop the sort that makes them (five frame-sized
        arrays: 166 MB at 4K): for a caller that will ask only for these times."""
        if self._moving:
            for t in times:
                if float(t) != 0.0:  # a warp by 0 is a copy: its motion is never asked for (33 MB at 4K)
                    self.at(float(t))
        self._sorted = None
        memory.trim()  # large frames: the sort's buffers leave the process before the warps' peak (4K)

    def _sort(self) -> tuple[np.ndarray, ...]:
        """Pixel positions, motions and float16 motion pairs in ascending priority (one counting sort per frame)."""
        half = kernels.to_half(self.motion)  # as astype(float16); numpy's is slow for half subnormals
        sorted_ = kernels.sort_landings(self.motion, self._priority, half.view(np.int32).reshape(-1))
        del half  # not kept: a gap that keeps its own motion converts its rows again (_fill_gaps), 33 MB at 4K
        return sorted_

    def __call__(self, img: np.ndarray, t: float, sharp: bool = False) -> np.ndarray:
        """``img`` as it looks ``t`` frame intervals later; ``sharp``: bicubic (:func:`sharp_remap`)
        instead of bilinear. Shape: [H, W, C] -> [H, W, C]."""
        if t == 0.0:
            return img.copy()
        h = img.shape[0]
        out = np.empty(img.shape, img.dtype)
        for y0, y1 in memory.row_bands(h, BAND_ROWS):  # the maps of a band at a time: no frame-sized maps
            out[y0:y1] = self.rows(img, t, y0, y1, sharp=sharp)
        return out

    def maps(self, t: float, y0: int, y1: int) -> tuple[np.ndarray, np.ndarray]:
        """The coordinates rows ``y0:y1`` of a warp by ``t`` read from (for :meth:`rows` of several images).

        Shape: -> [y1 - y0, W] float32 each (x, y)
        """
        if self._moving:
            xy = kernels.warp_maps(self.at(t)[y0:y1], t, y0)  # the half field converted by the processor
            return xy[0], xy[1]
        tt = np.float32(t)  # xs - t * m: a field of zeros, as float32
        mx = np.multiply(self.motion[y0:y1, :, 0], -tt, dtype=np.float32)
        mx += self._xs
        my = np.multiply(self.motion[y0:y1, :, 1], -tt, dtype=np.float32)
        my += self._ys[y0:y1]
        return mx, my

    def rows(
        self,
        img: np.ndarray,
        t: float,
        y0: int,
        y1: int,
        maps: tuple[np.ndarray, np.ndarray] | None = None,
        sharp: bool = False,
    ) -> np.ndarray:
        """Rows ``y0:y1`` of ``img`` warped by ``t`` (the same values as those rows of :meth:`__call__`'s result);
        ``maps``: :meth:`maps` of the same rows and time, when several images are warped alike; ``sharp``:
        bicubic (:func:`sharp_remap`) instead of bilinear.

        Shape: [H, W, C] -> [y1 - y0, W, C]
        """
        if t == 0.0:
            return img[y0:y1].copy()
        mx, my = maps if maps is not None else self.maps(t, y0, y1)
        if sharp:
            return sharp_remap(img, mx, my)
        out = cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return out.reshape((y1 - y0,) + img.shape[1:])


def sharp_remap(img: np.ndarray, mx: np.ndarray, my: np.ndarray) -> np.ndarray:
    """``cv2.remap`` bicubic, each value clamped into the range of the 2 x 2 pixels a bilinear remap reads.

    A bilinear warp by a fraction of a pixel averages neighbours, which halves the finest detail of a
    sharp frame: the closed-shutter gap's outputs, made by warping the two sharp ends, were the clip's
    blurriest (MODEL_CARD.md, "Session 11"). Bicubic keeps that detail; the clamp keeps its overshoot
    (up to 9% of an edge's step, which beside a highlight in scene-linear light is a dark or negative
    halo) out. The four corners are read per call: no frame-sized minimum and maximum images.

    Shape: img [H, W, C], mx, my [h, w] -> [h, w, C]
    """
    out = cv2.remap(img, mx, my, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE).reshape(mx.shape + img.shape[2:])
    x0, y0 = np.floor(mx), np.floor(my)
    x1, y1 = x0 + np.float32(1.0), y0 + np.float32(1.0)

    def corner(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return cv2.remap(img, x, y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE).reshape(out.shape)

    lo = corner(x0, y0)
    hi = lo.copy()
    for x, y in ((x1, y0), (x0, y1), (x1, y1)):
        c = corner(x, y)
        np.minimum(lo, c, out=lo)
        np.maximum(hi, c, out=hi)
    np.maximum(out, lo, out=out)
    np.minimum(out, hi, out=out)
    return out


_UNLANDED = np.array([np.nan, np.nan], np.float16).view(np.int32)[0]
"""The float16 (x, y) pair, as one int32, that :meth:`Warper.at` starts every pixel with."""
_NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def _fill_gaps(field: np.ndarray, landed: np.ndarray, motion: np.ndarray) -> None:
    """Fill, in place, the pixels of ``field`` nothing landed on: gaps between landings (what a
    :data:`GAP_CLOSE` closing of ``landed`` fills) with the mean motion of their landed neighbours,
    from the gap's edge inwards; the rest (an uncovered area) with their own ``motion`` as float16.

    Shape: field [H, W, 2] float16 (NaN where not landed), landed [H, W] uint8 0/1, motion [H, W, 2] float32
    """
    hole = landed ^ np.uint8(1)
    if not cv2.countNonZero(hole):
        return
    closed = cv2.morphologyEx(landed, cv2.MORPH_CLOSE, np.ones((GAP_CLOSE, GAP_CLOSE), np.uint8))
    gap = cv2.findNonZero(cv2.bitwise_and(closed, hole))  # (x, y) of each gap pixel, or None
    if gap is not None:
        h, w = landed.shape
        known = landed.copy()
        xs, ys = gap.reshape(-1, 2).T
        while xs.size:  # a gap's edge first: at most GAP_CLOSE // 2 rounds
            acc = np.zeros((xs.size, 2), np.float32)
            count = np.zeros(xs.size, np.float32)
            for dy, dx in _NEIGHBOURS:
                yy, xx = np.clip(ys + dy, 0, h - 1), np.clip(xs + dx, 0, w - 1)  # clipped: a pixel of the gap's own row
                ok = known[yy, xx] != 0
                acc += np.where(ok[:, None], field[yy, xx].astype(np.float32), np.float32(0.0))
                count += ok
            edge = count > 0
            if not edge.any():
                break
            fy, fx = ys[edge], xs[edge]
            field[fy, fx] = (acc[edge] / count[edge][:, None]).astype(np.float16)
            known[fy, fx] = 1
            hole[fy, fx] = 0
            xs, ys = xs[~edge], ys[~edge]
    pairs = field.view(np.int32).reshape(field.shape[:2])
    for y0, y1 in memory.row_bands(hole.shape[0], BAND_ROWS):  # an uncovered area: its own motion
        if cv2.countNonZero(hole[y0:y1]):  # the band's motion as float16 pairs, only where it is needed
            mine = kernels.to_half(np.ascontiguousarray(motion[y0:y1])).view(np.int32).reshape(y1 - y0, -1)
            np.copyto(pairs[y0:y1], mine, where=hole[y0:y1].view(bool))


def warp_consistency(motion: np.ndarray, rel: float = 0.25, floor: float = 1.0) -> np.ndarray:
    """How far a backward warp along ``motion`` holds, per pixel, over half a span either way: 1 to 0.

    A backward warp takes the value at p from p - t * m(p), which is only
    right when the motion there is the same: at the edge of a region drawn with
    its own vector (an override) the source lands on another motion for a
    band as wide as the motion, and carrying sub-frames along it smears the
    object instead of moving it. The weight falls linearly with the largest
    difference |m(p - t * m(p)) - m(p)| for t = -1/2 and +1/2, reaching 0 at
    ``rel`` times the motion's length (at least ``floor`` px).

    Shape: motion [H, W, 2] px per span (e.g. per exposure) -> [H, W] float32
    """
    h, w = motion.shape[:2]
    m = np.ascontiguousarray(motion, np.float32)
    xs = np.arange(w, dtype=np.float32)[None, :]
    ys = np.arange(h, dtype=np.float32)[:, None]
    worst = np.zeros((h, w), np.float32)
    for t in (-0.5, 0.5):
        at_src = cv2.remap(
            m,
            xs - np.float32(t) * m[..., 0],
            ys - np.float32(t) * m[..., 1],
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        np.maximum(worst, np.hypot(at_src[..., 0] - m[..., 0], at_src[..., 1] - m[..., 1]), out=worst)
    limit = np.maximum(np.float32(floor), np.float32(rel) * np.hypot(m[..., 0], m[..., 1]))
    return np.clip(1.0 - worst / limit, 0.0, 1.0).astype(np.float32)


def follow(sub: np.ndarray, mid: np.ndarray, warper: Warper, offsets: np.ndarray, weight: np.ndarray) -> None:
    """Blend each sub-frame toward ``mid`` carried to its time (in place).

    ``weight`` is 0 where the motion is unknown (no flow): there the decomposer's
    own sub-frames are kept.

    Shape:
        sub: [N, H, W, 3], mid: [H, W, 3], offsets: [N] frame intervals from mid-exposure,
        weight: [H, W] in [0, 1]
    """
    h = sub.shape[1]
    wgt = np.asarray(weight, np.float32)[..., None]  # converted once, not per band and sub-frame
    for k, t in enumerate(offsets):
        for y0, y1 in memory.row_bands(h, BAND_ROWS):  # a band at a time: no frame-sized temporaries (4K peak memory)
            kernels.lean_toward(sub[k, y0:y1], warper.rows(mid, float(t), y0, y1), wgt[y0:y1])


def travel_residue(sub: np.ndarray, target: np.ndarray, warper: Warper, offsets: np.ndarray) -> None:
    """Carry the reblur correction along the motion (in place); call before the exact projection.

    With R = target - mean(sub), sub-frame k gets ``warp(R, t_k) - mean_j warp(R, t_j)``:
    zero in the mean, so the exact (uniform) projection that follows adds the
    rest and the mean still equals ``target``, while R itself travels with the
    scene instead of standing still in every sub-frame.

    Shape:
        sub: [N, H, W, 3], target: [H, W, 3], offsets: [N]
    """
    n = sub.shape[0]
    if n < 2:
        return
    h = sub.shape[1]
    resid = np.empty(target.shape, np.result_type(target.dtype, np.float32))
    for y0, y1 in memory.row_bands(h, BAND_ROWS):
        np.subtract(target[y0:y1], sub[:, y0:y1].mean(axis=0, dtype=np.float32), out=resid[y0:y1])
    # a band of rows at a time, each warp once: the warped bands and their mean are all the temporaries
    for y0, y1 in memory.row_bands(h, BAND_ROWS):
        moved = [warper.rows(resid, float(t), y0, y1) for t in offsets]
        mean_moved = np.zeros_like(moved[0])
        for m in moved:
            mean_moved += m
        mean_moved *= np.float32(1.0 / n)
        for k, m in enumerate(moved):
            m -= mean_moved
            sub[k, y0:y1] += m
        del moved


def gap_frames(
    last: np.ndarray,
    last_time: float,
    warp_last: Warper,
    first: np.ndarray | None,
    first_time: float,
    warp_first: Warper | None,
    times: tuple[float, ...] | list[float],
    scale: float = 1.0,
    trust_last: np.ndarray | None = None,
    trust_first: np.ndarray | None = None,
) -> np.ndarray:
    """Frames in the closed-shutter gap between two sharp sub-frames.

    ``last`` (shown at ``last_time``) is carried forward along its motion and
    ``first`` (the next source frame's first sub-frame, at ``first_time`` on the
    same clock, i.e. 1 + its own time) backward along the next frame's motion,
    both bicubically (:func:`sharp_remap`); the two are cross-faded by time, in
    the display-referred encoding of the frames (the network's,
    :func:`unshutter.color.to_network`): where the two disagree
    (an object one of them misplaces, or that leaves the frame), a cross-fade in
    linear light lets a dark object vanish at once into a bright background and
    a bright one linger as a pale ghost over a dark one. Without a next frame
    (the clip's end, a cut) ``last`` is carried forward alone.

    ``trust_last`` and ``trust_first`` (how far each end's motion holds, in [0, 1];
    None: fully) weigh the cross-fade beside time, each carried along with its end:
    where one end is carried by a motion that does not hold (an object the flow
    misplaces), the other end shows more of the pixel instead of half of each,
    which read as a torn or doubled object. Equal trusts give the plain
    cross-fade; the weights stay continuous in time and are each end's own at
    its time. Where the two ends hold the same texture a little apart, the
    cross-fade keeps the fine detail they would give lined up
    (:func:`fade_keeping_detail`).

    Shape:
        last, first: [H, W, 3] scene-linear, trust_last, trust_first: [H, W] -> [G, H, W, 3]
    """
    out = np.empty((len(times),) + last.shape, np.float32)
    weighed = first is not None and (trust_last is not None or trust_first is not None)
    if weighed:  # floored: an end nobody trusts still fades in and out with time, as before
        trust_a = _trust_map(trust_last, last.shape[:2])
        trust_b = _trust_map(trust_first, last.shape[:2])
    for i, t in enumerate(times):
        a = warp_last(last, t - last_time, sharp=True)
        if first is None or warp_first is None:
            out[i] = a
            continue
        w = np.float32((t - last_time) / (first_time - last_time))
        shown = color.to_network(a, scale)
        other = color.to_network(warp_first(first, t - first_time, sharp=True), scale)
        share: np.ndarray | np.float32 = w  # of ``first``: [H, W, 1] when weighed
        if weighed:
            ka = warp_last(trust_a, t - last_time)
            kb = warp_first(trust_b, t - first_time)
            ka *= np.float32(1.0) - w
            kb *= w
            kb /= ka + kb
            share = kb
        out[i] = color.from_network(fade_keeping_detail(shown, other, share, out=out[i]), scale)
    return out


def fade_keeping_detail(
    a: np.ndarray, b: np.ndarray, share: np.ndarray | np.float32, out: np.ndarray | None = None
) -> np.ndarray:
    """``a + share * (b - a)`` with the fine detail the two would keep if they lined up.

    Where the two ends of the gap hold the same texture a pixel or two apart
    (a motion a little off, a residue of the blur), their fine detail partly
    cancels in a cross-fade: two unrelated textures of equal contrast mixed
    half and half keep 1/sqrt(2) of it, and the gap's outputs were the clip's
    blurriest although each end carried alone kept its detail (MODEL_CARD.md,
    "Session 14"). Over a small neighbourhood the fine detail (above a
    :data:`DETAIL_SIGMA` Gaussian) of the cross-fade is scaled up to the
    energy the two ends would give aligned, ``((1 - s) |d_a| + s |d_b|)^2``,
    and at most by what unrelated textures lose, ``1 / sqrt((1 - s)^2 + s^2)``.
    Where only one end has the structure (an object fading out, a ghost) the
    aligned energy is the cross-fade's own and nothing changes; where they
    agree, neither; at either end (``share`` 0 or 1) the bound is 1. The
    coarse picture stays the plain cross-fade, and each value stays between
    the two ends' values there (no overshoot: no dark or bright halo). In
    bands of rows with the margin the two Gaussians read: the same values as
    over the whole frame, a band's temporaries only (4K); written into ``out``
    if given (not ``a`` or ``b``: a band reads the rows around it).

    Shape: a, b [H, W, 3] (display-referred), share scalar or [H, W, 1] -> [H, W, 3] float32
    """
    h, w = a.shape[:2]
    s = np.broadcast_to(np.asarray(share, np.float32), (h, w, 1))
    if out is None:
        out = np.empty(a.shape, np.float32)
    for y0, y1 in memory.row_bands(h, DETAIL_ROWS):
        m0, m1 = max(0, y0 - _DETAIL_MARGIN), min(h, y1 + _DETAIL_MARGIN)
        band = _fade_band(a[m0:m1], b[m0:m1], s[m0:m1, :, 0])
        out[y0:y1] = band[y0 - m0 : y1 - m0]
    return out


def _fade_band(a: np.ndarray, b: np.ndarray, s: np.ndarray) -> np.ndarray:
    """:func:`fade_keeping_detail` of a band; the energies in luma (where the eye sees detail).

    Shape: a, b [h, W, 3], s [h, W] -> [h, W, 3]
    """
    out = cv2.subtract(b, a)
    out *= s[..., None]
    out += a  # the plain cross-fade

    def detail(x: np.ndarray) -> np.ndarray:  # [h, W, C]: what a DETAIL_SIGMA Gaussian takes away
        return cv2.subtract(x, cv2.GaussianBlur(x, (0, 0), DETAIL_SIGMA, borderType=cv2.BORDER_REFLECT))

    def energy(x: np.ndarray) -> np.ndarray:  # [h, W, 3] -> [h, W]: local mean of the luma's squared detail
        d = detail(cv2.transform(x, _LUMA))
        d *= d
        return cv2.GaussianBlur(d, (0, 0), DETAIL_WINDOW, borderType=cv2.BORDER_REFLECT)

    rest = np.float32(1.0) - s
    aligned = rest * np.sqrt(energy(a))
    aligned += s * np.sqrt(energy(b))
    aligned *= aligned
    gain = np.sqrt(aligned / np.maximum(energy(out), np.float32(1e-12)))
    np.minimum(gain, np.float32(1.0) / np.sqrt(rest * rest + s * s), out=gain)
    gain -= np.float32(1.0)
    np.maximum(gain, np.float32(0.0), out=gain)
    fine = detail(out)
    fine *= gain[..., None]
    out += fine
    np.maximum(out, cv2.min(a, b), out=out)  # no value neither end has there: no halo
    np.minimum(out, cv2.max(a, b), out=out)
    return out


_LUMA = np.array([[0.2126, 0.7152, 0.0722]], np.float32)
"""Rec. 709 luma weights, as a 1 x 3 matrix for ``cv2.transform``."""


DETAIL_SIGMA = 1.0
"""Gaussian sigma (px) below which :func:`fade_keeping_detail` counts structure as fine detail."""
DETAIL_WINDOW = 3.0
"""Gaussian sigma (px) of the neighbourhood over which :func:`fade_keeping_detail` compares detail energies."""
DETAIL_ROWS = 256
"""Rows :func:`fade_keeping_detail` works on at a time."""
_DETAIL_MARGIN = 4 * int(np.ceil(DETAIL_SIGMA + DETAIL_WINDOW))
"""Rows beyond a band that its two Gaussians read (OpenCV's float kernels reach 4 sigma): 16."""


GAP_TRUST_FLOOR = 0.1
"""Least weight an end's trust gives it in the gap's cross-fade (:func:`gap_frames`): on the bench's 180-degree
runs 0.02 and 0.1 gave the same frames, 0.3 less of the gain."""


def _trust_map(trust: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """Shape: [H, W] or None -> [H, W, 1] float32 in [GAP_TRUST_FLOOR, 1]."""
    if trust is None:
        return np.ones(shape + (1,), np.float32)
    return np.clip(np.asarray(trust, np.float32), GAP_TRUST_FLOOR, 1.0)[..., None]
