"""Optical flow between neighbouring frames and shot-cut detection.

Flow runs on the network-encoded (display-like) luminance with OpenCV's DIS
so HDR values and colour spaces do not change its behaviour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from unshutter import kernels
from unshutter.guidance.coarse_match import block_motion
from unshutter.guidance.dominant import fill_untextured, texture
from unshutter.guidance.trust import feature_maps, learned_trust, pool_trust

_DIS_PRESET = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM


def to_gray8(encoded: np.ndarray) -> np.ndarray:
    """Network-encoded RGB -> 8-bit luminance for flow and cut detection.

    Shape:
        encoded: [H, W, 3] -> [H, W] uint8
    """
    y = encoded[..., 0] * 0.2126 + encoded[..., 1] * 0.7152 + encoded[..., 2] * 0.0722
    return np.clip(y * 255.0 + 0.5, 0, 255).astype(np.uint8)


FLOW_MAX_SIDE = 2048
"""Frames larger than this get their flow at half size (per halving) and scaled back up.

Guidance only needs the motion's quadrant and a smooth magnitude; at 4K full-size
DIS costs seconds and several hundred MB for detail the guidance throws away.
"""

FLOW_MIN_LEVEL = 5
"""Coarsest DIS pyramid level every frame gets: what a 720p frame gets on its own.

OpenCV's DIS sizes its pyramid from the frame (it looks for motions up to about a
quarter of the width), so on a small frame or proxy a fast motion is beyond its
coarsest level and comes out as garbage. Frames whose own pyramid is shallower
are padded by edge replication to a square of ``FLOW_MIN_SIDE``; the padding's
flow is cut away. On 48 held-out synthetic 256x256 samples (seed 4242) this
raised the decomposer's neighbour-guided pooled PSNR by 0.29 dB (768: 0.17,
1280: 0.18); see models/TRAINING_LOG.md.
"""
FLOW_MIN_SIDE = 1024


def dis_levels(h: int, w: int, patch: int = 8) -> int:
    """The coarsest pyramid level OpenCV's DIS picks for an h x w frame (checked against it in the tests)."""
    return min(int(math.log2(max(h, w) / (4.0 * patch)) + 0.5), int(math.log2(min(h, w) / patch)))


FLOW_MIN_SHORT = 64
"""Shortest side DIS runs on. Its pyramid is sized from the long side, so on a wide
and short frame (4000x8, 3000x20) a coarse level has fewer rows than a patch and
OpenCV raises; such frames are padded by edge replication to this many rows (or
columns) and the padding's flow is cut away."""


def dis_flow(src: np.ndarray, dst: np.ndarray, init: np.ndarray | None = None) -> np.ndarray:
    """Dense flow from ``src`` to ``dst``: src(p) ~ dst(p + flow(p)), refined from ``init`` when given.

    Shape:
        src, dst: [H, W] uint8, init: [H, W, 2] float32 or None -> [H, W, 2] float32 (x, y)
    """
    h, w = src.shape[:2]
    dis = cv2.DISOpticalFlow_create(_DIS_PRESET)
    dis.setUseSpatialPropagation(True)
    if max(h, w) < FLOW_MIN_SIDE and dis_levels(h, w) < FLOW_MIN_LEVEL:
        return _padded_calc(dis, src, dst, FLOW_MIN_SIDE, FLOW_MIN_SIDE, init)
    down = 1
    while max(h, w) > FLOW_MAX_SIDE * down:
        down *= 2
    if down == 1:
        return _padded_calc(dis, src, dst, FLOW_MIN_SHORT, FLOW_MIN_SHORT, init)
    size = (max(1, round(w / down)), max(1, round(h / down)))
    a = cv2.resize(src, size, interpolation=cv2.INTER_AREA)
    b = cv2.resize(dst, size, interpolation=cv2.INTER_AREA)
    small_init = None
    if init is not None:
        small_init = cv2.resize(init, size, interpolation=cv2.INTER_AREA)
        small_init[..., 0] *= np.float32(size[0] / w)
        small_init[..., 1] *= np.float32(size[1] / h)
    small = _padded_calc(dis, a, b, FLOW_MIN_SHORT, FLOW_MIN_SHORT, small_init)
    flow = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    flow[..., 0] *= np.float32(w / size[0])
    flow[..., 1] *= np.float32(h / size[1])
    return flow


def _padded_calc(
    dis: cv2.DISOpticalFlow, src: np.ndarray, dst: np.ndarray, min_h: int, min_w: int, init: np.ndarray | None = None
) -> np.ndarray:
    """DIS on a canvas of at least min_h x min_w (edge-replicated around the frame), cut back to the frame.

    ``init`` (edge-replicated likewise) is where DIS starts: OpenCV takes a
    flow of the canvas's size passed in as its initial estimate.

    Shape:
        src, dst: [H, W] uint8, init: [H, W, 2] float32 or None -> [H, W, 2] float32
    """
    h, w = src.shape[:2]
    ph, pw = max(0, min_h - h), max(0, min_w - w)
    t, l = ph // 2, pw // 2
    if ph or pw:
        src, dst = (cv2.copyMakeBorder(x, t, ph - t, l, pw - l, cv2.BORDER_REPLICATE) for x in (src, dst))
    start = None
    if init is not None:
        start = np.ascontiguousarray(init, np.float32)
        if ph or pw:
            start = cv2.copyMakeBorder(start, t, ph - t, l, pw - l, cv2.BORDER_REPLICATE)
    big = dis.calc(src, dst, start)
    return big if not (ph or pw) else np.ascontiguousarray(big[t : t + h, l : l + w])


CUT_SIZE = 48
CUT_SEARCH = 4
CUT_ABS = 0.12
CUT_NORM = 0.6


def _best_shift_difference(ta: np.ndarray, tb: np.ndarray) -> float:
    """Smallest mean absolute difference over small integer shifts of two thumbnails."""
    s, r = CUT_SIZE, CUT_SEARCH
    best = np.inf
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            a = ta[max(0, dy) : s + min(0, dy), max(0, dx) : s + min(0, dx)]
            b = tb[max(0, -dy) : s + min(0, -dy), max(0, -dx) : s + min(0, -dx)]
            best = min(best, float(np.mean(np.abs(a - b))))
    return best


def is_cut(a: np.ndarray, b: np.ndarray) -> bool:
    """True when two consecutive frames belong to different shots.

    Compares 48x48 thumbnails after the best small shift (so camera motion
    does not count), both in absolute terms and after normalising brightness
    and contrast (so a flash or exposure change does not count). On
    ``bikes.mp4`` the five hard cuts score >= 0.17 / >= 0.75 and the fastest
    motion within shots <= 0.08 / <= 0.47.

    Shape:
        a, b: [H, W] uint8
    """
    size = (CUT_SIZE, CUT_SIZE)
    ta = cv2.resize(a, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    tb = cv2.resize(b, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    if _best_shift_difference(ta / 255.0, tb / 255.0) <= CUT_ABS:
        return False
    na = (ta - ta.mean()) / (ta.std() + 8.0)
    nb = (tb - tb.mean()) / (tb.std() + 8.0)
    return _best_shift_difference(na, nb) > CUT_NORM


TRUST_REL = 0.25
"""Forward and backward flow may disagree by this fraction of the motion (at least 1 px) at half trust."""


def central_dis_motion(
    prev: np.ndarray, cur: np.ndarray, nxt: np.ndarray, init: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(DIS(cur->next) - DIS(cur->prev)) / 2 and its forward/backward consistency trust.

    ``init`` (motion per frame interval) starts the forward flow at ``init`` and
    the backward one at ``-init``; without it both start at rest (the estimator
    before the coarse search, kept for ``unshutter bench flow``).

    Shape:
        prev, cur, nxt: [H, W] uint8, init: [H, W, 2] or None -> [H, W, 2] float32, [H, W] float32
    """
    motion, trust, _ = _central(prev, cur, nxt, init)
    return motion, trust


def _central(
    prev: np.ndarray, cur: np.ndarray, nxt: np.ndarray, init: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`central_dis_motion` plus the disagreement |fwd + bwd| (px). Shape: -> [H, W, 2], [H, W], [H, W]."""
    # OpenCV writes the forward flow into ``init`` where DIS runs on the frame as it is (about 1024 px wide
    # and up; smaller frames are padded into a copy): there the backward flow starts at minus the forward
    # flow and the caller's block-search field is the forward flow afterwards. Kept: see the model card
    # ("the block search's field on large frames") for what a copy measured.
    fwd = dis_flow(cur, nxt, init)
    bwd = dis_flow(cur, prev, None if init is None else -init)
    # in one pass: the central difference, :func:`consistency` of its miss, the miss
    return kernels.central_motion(np.ascontiguousarray(fwd), np.ascontiguousarray(bwd), TRUST_REL)


def consistency(miss2: np.ndarray, motion: np.ndarray) -> np.ndarray:
    """How well two flows that should cancel do: ``1 / (1 + (d / tau)^2)``, ``d`` their miss in px,
    ``tau = max(1, TRUST_REL * |motion|)``. Shape: miss2 (d squared) [H, W], motion [H, W, 2] -> [H, W] float32"""
    tau2 = np.maximum(np.float32(1.0), np.float32(TRUST_REL * TRUST_REL) * (motion[..., 0] ** 2 + motion[..., 1] ** 2))
    return (np.float32(1.0) / (np.float32(1.0) + miss2 / tau2)).astype(np.float32)


@dataclass
class MotionParts:
    """What :func:`neighbor_motion` computes on the way to its motion: the evidence its trust is judged by."""

    motion: np.ndarray  # [H, W, 2] px per frame interval, after the untextured fill
    consistency: np.ndarray  # [H, W] forward/backward consistency trust, after the fill
    disagree: np.ndarray  # [H, W] px: |DIS(cur->next) + DIS(cur->prev)|
    coarse: np.ndarray  # [H, W, 2] the block search's motion
    tex: np.ndarray  # [H, W] dominant.texture(cur)

    def evidence(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The arguments :func:`unshutter.guidance.trust.feature_maps` takes after the three frames."""
        return self.motion, self.disagree, self.coarse, self.tex, self.consistency


def motion_parts(prev: np.ndarray, cur: np.ndarray, nxt: np.ndarray) -> MotionParts:
    """Steps 1-3 of :func:`neighbor_motion` (block search, central DIS from it, untextured fill).

    Shape: prev, cur, nxt [H, W] uint8
    """
    coarse = block_motion(prev, cur, nxt)
    motion, consistency, disagree = _central(prev, cur, nxt, coarse)
    tex = texture(cur)
    motion, consistency = fill_untextured(motion, consistency, cur, coarse, tex)
    return MotionParts(motion, consistency, disagree, coarse, tex)


def neighbor_motion(
    prev: np.ndarray | None, cur: np.ndarray, nxt: np.ndarray | None
) -> tuple[np.ndarray | None, str, np.ndarray | None]:
    """:func:`motion_from_neighbors` plus how far each pixel's motion can be trusted, in [0, 1].

    With both neighbours, three steps (``unshutter bench flow`` measures each):

    1. a coarse symmetric block search over displacements up to a quarter of
       the frame (:func:`unshutter.guidance.coarse_match.block_motion`): DIS
       alone reads large motions far too short, even between sharp frames;
    2. DIS from ``cur`` to each neighbour, started at that coarse motion (and
       its negative), combined as the central difference;
    3. on pixels without structure, the flow is blended toward the frame's
       dominant (affine) motion where the coarse search agrees with it
       (:func:`unshutter.guidance.dominant.fill_untextured`).

    A steady motion makes the flow to the next frame the negative of the flow
    to the previous one; where they disagree (occlusions, fast objects the flow
    tracks differently each way) the motion is a guess. That consistency
    (``1 / (1 + (d / tau)^2)``, ``d`` the disagreement in px,
    ``tau = max(1, TRUST_REL * |motion|)``, moved toward the dominant motion's
    inlier share where step 3 filled) is one piece of evidence the trust
    weighs, with the photometric match along the motion, the block search's
    agreement and the pixel's structure (:mod:`unshutter.guidance.trust`, a
    logistic model fitted on rendered clips), then moved halfway toward the
    trust of the pixels around it that move alike
    (:func:`unshutter.guidance.trust.pool_trust`: an object is followed more
    as a whole, less in speckles). With one neighbour nothing can
    be checked: plain DIS, trust is None (full).

    Shape:
        prev, cur, nxt: [H, W] uint8 -> [H, W, 2] float32 or None, str, [H, W] float32 or None
    """
    if prev is not None and nxt is not None:
        parts = motion_parts(prev, cur, nxt)
        trust = learned_trust(feature_maps(prev, cur, nxt, *parts.evidence()))
        motion = parts.motion
        del parts  # the rest of the evidence (five frame-sized maps) is freed before the pooling's own
        return motion, "both", pool_trust(trust, motion)
    if nxt is not None:
        return dis_flow(cur, nxt), "next", None
    if prev is not None:
        return -dis_flow(cur, prev), "prev", None
    return None, "none", None


def motion_from_neighbors(
    prev: np.ndarray | None, cur: np.ndarray, nxt: np.ndarray | None
) -> tuple[np.ndarray | None, str]:
    """Motion of each pixel of ``cur`` over one frame interval, earliest to latest.

    With both neighbours it is the central difference (F(cur->next) -
    F(cur->prev)) / 2; with one, that one flow (negated for the previous
    frame). Callers pass ``None`` for a neighbour that is missing or across a
    cut. Returns the motion and which neighbours were used.

    Shape:
        prev, cur, nxt: [H, W] uint8 -> [H, W, 2] float32 or None
    """
    motion, used, _ = neighbor_motion(prev, cur, nxt)
    return motion, used
