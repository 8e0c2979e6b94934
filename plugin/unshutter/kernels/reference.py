"""Plain NumPy versions of the per-pixel kernels.

They are the specification of ``unshutter._native`` (the C++ kernels must
agree with them) and the fallback when the native module is not built.
All arrays are float32, C-contiguous, channels last.
"""

from __future__ import annotations

import numpy as np

# ---------------------------------------------------------------- guidance


def quantize_motion(motion: np.ndarray, threshold: float) -> np.ndarray:
    """Motion vectors -> 4-quadrant sign map (Animation-from-Blur encoding).

    Pixels moving less than ``threshold`` px are static (0, 0). A component
    smaller than a quarter of the threshold counts as zero and folds into a
    quadrant: (0,+1)->(+1,+1), (0,-1)->(-1,-1), (+1,0)->(+1,-1), (-1,0)->(-1,+1).

    Shape:
        motion: [H, W, 2] (x, y; y down) -> [H, W, 2] in {-1, 0, +1}
    """
    mx = motion[..., 0]
    my = motion[..., 1]
    mag = np.sqrt(mx * mx + my * my)
    eps = 0.25 * threshold
    sx = np.where(mx > eps, 1.0, np.where(mx < -eps, -1.0, 0.0)).astype(np.float32)
    sy = np.where(my > eps, 1.0, np.where(my < -eps, -1.0, 0.0)).astype(np.float32)
    zx = sx == 0
    zy = sy == 0
    # fold axis-aligned motion into a quadrant
    fx = np.where(zx & ~zy, sy, sx)
    fy = np.where(zy & ~zx, -sx, sy)
    moving = (mag >= threshold) & ~(zx & zy)
    out = np.zeros(motion.shape, np.float32)
    out[..., 0] = np.where(moving, fx, 0.0)
    out[..., 1] = np.where(moving, fy, 0.0)
    return out


def signs_to_labels(signs: np.ndarray) -> np.ndarray:
    """[H, W, 2] signs -> [H, W] uint8 labels 0 static, 1 (+,-), 2 (-,-), 3 (-,+), 4 (+,+)."""
    sx = signs[..., 0]
    sy = signs[..., 1]
    lab = np.zeros(sx.shape, np.uint8)
    lab[(sx > 0) & (sy < 0)] = 1
    lab[(sx < 0) & (sy < 0)] = 2
    lab[(sx < 0) & (sy > 0)] = 3
    lab[(sx > 0) & (sy > 0)] = 4
    return lab


_LABEL_SIGNS = np.array([[0, 0], [1, -1], [-1, -1], [-1, 1], [1, 1]], np.float32)


def labels_to_signs(labels: np.ndarray) -> np.ndarray:
    """[H, W] labels -> [H, W, 2] float32 signs. Labels outside 0..4 raise ValueError."""
    idx = labels.astype(np.intp)
    if idx.size and (idx.min() < 0 or idx.max() > 4):
        raise ValueError("labels_to_signs: labels outside 0..4")
    return _LABEL_SIGNS[idx]


def clean_isolated(signs: np.ndarray) -> np.ndarray:
    """Replace pixels whose label none of their 8 neighbours share.

    The replacement is the most frequent label among the neighbours (lowest
    label on ties). Border pixels only count neighbours inside the image.

    Shape:
        signs: [H, W, 2] -> [H, W, 2]
    """
    lab = signs_to_labels(signs)
    h, w = lab.shape
    counts = np.zeros((5, h, w), np.int32)
    padded = np.full((h + 2, w + 2), 255, np.uint8)
    padded[1:-1, 1:-1] = lab
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy == 0 and dx == 0:
                continue
            nb = padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
            for c in range(5):
                counts[c] += nb == c
    own = np.take_along_axis(counts, lab[None].astype(np.intp), axis=0)[0]
    has_nb = counts.sum(0) > 0
    best = counts.argmax(0).astype(np.uint8)
    new = np.where((own == 0) & has_nb, best, lab)
    return labels_to_signs(new)


def composite_region(
    signs: np.ndarray,
    valid: np.ndarray,
    matte: np.ndarray,
    direction: tuple[float, float],
) -> None:
    """Paint ``direction`` into ``signs`` where ``matte`` >= 0.5 (in place).

    ``valid`` [H, W] is set to 1 there: an override is known guidance.

    Shape:
        signs: [H, W, 2], valid: [H, W], matte: [H, W]
    """
    sel = matte >= 0.5
    signs[sel, 0] = direction[0]
    signs[sel, 1] = direction[1]
    valid[sel] = 1.0


def smaller_eigenvalue(a: np.ndarray, b: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Smaller eigenvalue of the symmetric 2x2 matrices ``[[a, b], [b, d]]``, at least 0 (float32, NaN kept).

    ``t - sqrt(max(t^2 - (a d - b^2), 0))``, ``t = (a + d) / 2``.

    Shape: a, b, d [H, W] -> [H, W]
    """
    half_tr = (a + d) * np.float32(0.5)
    return np.maximum(half_tr - np.sqrt(np.maximum(half_tr * half_tr - (a * d - b * b), 0.0)), 0.0)


def guidance_planes(signs: np.ndarray, expo: np.ndarray, scale: float) -> np.ndarray:
    """The guidance tensor of known motion: signs, valid, motion / ``scale``, valid (float32).

    Channels (sx, sy, 1, ex / scale, ey / scale, 1): the contract's GX, GY, GVALID, MX, MY, MVALID.

    Shape: signs, expo [H, W, 2] -> [H, W, 6]
    """
    h, w = signs.shape[:2]
    g = np.empty((h, w, 6), np.float32)
    g[..., 0] = signs[..., 0]
    g[..., 1] = signs[..., 1]
    g[..., 2] = 1.0
    g[..., 3] = expo[..., 0] / np.float32(scale)
    g[..., 4] = expo[..., 1] / np.float32(scale)
    g[..., 5] = 1.0
    return g


def affine_field(affine: np.ndarray, h: int, w: int) -> np.ndarray:
    """The motion of a 2x3 affine map (float64) at every pixel: ``A (x, y, 1) - (x, y)``, in float64, stored float32.

    Shape: affine [2, 3] -> [H, W, 2]
    """
    field = np.empty((h, w, 2), np.float32)
    xx = np.arange(w, dtype=np.float32)[None, :]
    a = affine
    for y0 in range(0, h, 128):  # a band's float64 temporaries, not a frame's
        y1 = min(h, y0 + 128)
        yy = np.arange(y0, y1, dtype=np.float32)[:, None]
        field[y0:y1, :, 0] = a[0, 0] * xx + a[0, 1] * yy + a[0, 2] - xx
        field[y0:y1, :, 1] = a[1, 0] * xx + a[1, 1] * yy + a[1, 2] - yy
    return field


def affine_gate(coarse: np.ndarray, affine: np.ndarray, rel: float, floor: float) -> np.ndarray:
    """How far ``coarse`` is off the affine motion, for ``exp``: ``-|coarse - fit|^2 / s^2``,
    ``s^2 = max(floor^2, rel^2 |fit|^2)`` (float32).

    Shape: coarse [H, W, 2], affine [2, 3] -> [H, W]
    """
    model = affine_field(affine, *coarse.shape[:2])
    sq = model[..., 0] * model[..., 0] + model[..., 1] * model[..., 1]
    s2 = np.maximum(np.float32(floor * floor), np.float32(rel * rel) * sq)
    d = coarse - model
    return -(d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1]) / s2


def affine_fill(
    motion: np.ndarray,
    trust: np.ndarray,
    tex: np.ndarray,
    gate: np.ndarray | None,
    affine: np.ndarray,
    half: float,
    share: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Motion and trust moved toward the affine motion and ``share`` by ``wf = half / (tex + half)``
    (times ``gate`` when given), float32 in numpy's order.

    Shape: motion [H, W, 2], trust, tex, gate [H, W], affine [2, 3] -> [H, W, 2], [H, W]
    """
    model = affine_field(affine, *motion.shape[:2])
    wf = np.float32(half) / (tex + np.float32(half))
    if gate is not None:
        wf = wf * gate
    out = motion + wf[..., None] * (model - motion)
    return out, trust + wf * (np.float32(share) - trust)


def central_motion(fwd: np.ndarray, bwd: np.ndarray, rel: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The central difference of two flows, how well they cancel and by how much they miss.

    ``motion = (fwd - bwd) / 2``; ``d = |fwd + bwd|``; ``trust = 1 / (1 + d^2 / tau^2)``,
    ``tau^2 = max(1, rel^2 |motion|^2)`` (float32 throughout, NaN kept).

    Shape: fwd, bwd [H, W, 2] -> motion [H, W, 2], trust [H, W], d [H, W]
    """
    motion = (fwd - bwd) * np.float32(0.5)
    d = fwd + bwd
    miss2 = d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1]
    tau2 = np.maximum(np.float32(1.0), np.float32(rel * rel) * (motion[..., 0] ** 2 + motion[..., 1] ** 2))
    trust = (np.float32(1.0) / (np.float32(1.0) + miss2 / tau2)).astype(np.float32)
    return motion, trust, np.sqrt(miss2)


# ---------------------------------------------------------------- tiling


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of length ``tile`` covering ``size`` with >= ``overlap``."""
    if tile < 1 or overlap < 0 or overlap >= tile:
        raise ValueError(f"tile_starts: need tile >= 1 and 0 <= overlap < tile, got tile={tile} overlap={overlap}")
    if size <= tile:
        return [0]
    step = tile - overlap
    n = int(np.ceil((size - tile) / step)) + 1
    if n == 1:
        return [0]
    # spread the tiles evenly so every overlap is at least `overlap`
    return [int(round(i * (size - tile) / (n - 1))) for i in range(n)]


def feather_weight(h: int, w: int, overlap: int, top: bool, bottom: bool, left: bool, right: bool) -> np.ndarray:
    """Blend weight of one tile: a linear ramp over ``overlap`` px on inner edges.

    Edges that lie on the frame border (flags False) get no ramp. Weights stay
    strictly positive so every pixel is covered.

    Shape:
        -> [h, w] float32
    """

    def ramp(n: int, lo: bool, hi: bool) -> np.ndarray:
        r = np.ones(n, np.float32)
        if overlap > 0:
            ramp_in = (np.arange(overlap, dtype=np.float32) + 0.5) / overlap
            m = min(overlap, n)
            if lo:
                r[:m] = np.minimum(r[:m], ramp_in[:m])
            if hi:
                r[n - m :] = np.minimum(r[n - m :], ramp_in[:m][::-1])
        return r

    return np.outer(ramp(h, top, bottom), ramp(w, left, right)).astype(np.float32)


def accumulate_tile(
    acc: np.ndarray, wsum: np.ndarray, tile_out: np.ndarray, weight: np.ndarray, y0: int, x0: int
) -> None:
    """acc[y0:, x0:] += tile_out * weight; wsum += weight (in place).

    Shape:
        acc: [H, W, C], wsum: [H, W], tile_out: [h, w, C], weight: [h, w]
    """
    h, w = weight.shape
    acc[y0 : y0 + h, x0 : x0 + w] += tile_out * weight[..., None]
    wsum[y0 : y0 + h, x0 : x0 + w] += weight


def normalize_accumulated(acc: np.ndarray, wsum: np.ndarray) -> np.ndarray:
    """acc / wsum. Shape: [H, W, C], [H, W] -> [H, W, C]."""
    return acc / np.maximum(wsum, 1e-12)[..., None]


# ---------------------------------------------------------------- retime


def resample_subframes(sub: np.ndarray, n: int) -> np.ndarray:
    """K sub-frames at slice middles -> N sub-frames at slice middles.

    Sub-frame k of K sits at time (k + 0.5) / K of the exposure; output n of N
    at (n + 0.5) / N. Linear interpolation between neighbours in time,
    holding the first/last sub-frame beyond the ends.

    Shape:
        sub: [K, H, W, C] -> [N, H, W, C]
    """
    k = sub.shape[0]
    out = np.empty((n,) + sub.shape[1:], np.float32)
    for i in range(n):
        pos = (i + 0.5) / n * k - 0.5  # position in sub-frame index units
        pos = min(max(pos, 0.0), k - 1.0)
        lo = int(np.floor(pos))
        hi = min(lo + 1, k - 1)
        a = np.float32(pos - lo)
        out[i] = sub[lo] * (np.float32(1.0) - a) + sub[hi] * a
    return out


def reblur_project(sub: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Shift all sub-frames equally so their mean equals ``target`` exactly.

    This is the least-squares projection onto {mean(sub) == target}.

    Shape:
        sub: [N, H, W, C], target: [H, W, C] -> [N, H, W, C]
    """
    mean = sub.mean(axis=0, dtype=np.float64)
    delta = (target.astype(np.float64) - mean).astype(np.float32)
    return (sub + delta[None]).astype(np.float32)


def clamp_keep_mean(sub: np.ndarray, target: np.ndarray, ceiling: float | None) -> None:
    """Bring sub-frames into [0, ceiling] where their mean ``target`` allows it, keeping the mean (in place).

    Carrying content along the motion can push a sub-frame below 0 (no light is
    negative) or, on a display-referred frame, above 1, where an integer output
    would clip it and the clip's mean would no longer be the input. What is cut
    off is handed to the other sub-frames of the pixel in proportion to their
    room; pixels whose target itself lies outside the range are left alone.

    Shape:
        sub: [N, H, W, C], target: [H, W, C]
    """
    hi = np.inf if ceiling is None else np.float32(ceiling)
    lo_bad = (sub < 0.0).any(axis=0)
    out = lo_bad | (sub > hi).any(axis=0) if ceiling is not None else lo_bad  # [H, W, C]
    if not out.any():
        return
    # only the pixel channels with a sub-frame out of range: elsewhere nothing is cut (a few % of a frame)
    n = sub.shape[0]
    s = sub[:, out]  # [N, M]
    t = target[out]  # [M]
    ok = (t >= 0.0) & (t <= hi)
    clipped = np.clip(s, 0.0, hi)
    excess = (t - clipped.mean(axis=0)) * np.float32(n)  # [M]: what the clip took (+) or added (-)
    # [N, M] room to take it: without a ceiling the clip only raised values (excess <= 0)
    room = clipped if ceiling is None else np.where(excess[None] > 0, hi - clipped, clipped)
    total = room.sum(axis=0)
    share = np.divide(excess, total, out=np.zeros_like(excess), where=total > 0)
    fixed = clipped + room * share[None]
    keep = ok[None] & np.isfinite(fixed)
    sub[:, out] = np.where(keep, fixed, s)


def reblur_keep_range(sub: np.ndarray, target: np.ndarray, ceiling: float | None, clamp: bool) -> None:
    """:func:`reblur_project` in place and then, with ``clamp``, :func:`clamp_keep_mean` (in bands of 128 rows:
    the temporaries of a band, not of a frame).

    Shape: sub [N, H, W, C], target [H, W, C]
    """
    h = sub.shape[1]
    for y0 in range(0, h, 128):
        y1 = min(h, y0 + 128)
        band = reblur_project(sub[:, y0:y1], target[y0:y1])
        if clamp:
            clamp_keep_mean(band, target[y0:y1], ceiling)
        sub[:, y0:y1] = band


def lean_toward(sub: np.ndarray, moved: np.ndarray, weight: np.ndarray) -> None:
    """``sub += (moved - sub) * weight`` in place, one weight per pixel (float32, in that order).

    Shape: sub, moved [H, W, C], weight [H, W] or [H, W, 1]
    """
    d = moved - sub
    d *= weight.reshape(sub.shape[:2] + (1,))
    sub += d


# ---------------------------------------------------------------- warp


def warp_time(i: int, k: int) -> float:
    """Time of sub-frame ``i`` of ``k`` in units of the exposure, from its middle: (i + 0.5) / k - 0.5."""
    return (i + 0.5) / k - 0.5


def _bilinear_border(src: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``src`` sampled at pixel coordinates clamped to the frame (grid_sample's "border").

    Shape: src [C, H, W], x/y [H, W] -> [C, H, W]
    """
    h, w = src.shape[1:]
    x = np.clip(x, np.float32(0), np.float32(w - 1))
    y = np.clip(y, np.float32(0), np.float32(h - 1))
    fx0, fy0 = np.floor(x), np.floor(y)
    ax, ay = x - fx0, y - fy0
    x0, y0 = fx0.astype(np.intp), fy0.astype(np.intp)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    one = np.float32(1)
    return (
        ((one - ax) * (one - ay)) * src[:, y0, x0]
        + (ax * (one - ay)) * src[:, y0, x1]
        + ((one - ax) * ay) * src[:, y1, x0]
        + (ax * ay) * src[:, y1, x1]
    ).astype(np.float32)


def flow_warp(src: np.ndarray, motion: np.ndarray, k: int) -> np.ndarray:
    """The K backward warps of ``src``: out[i](p) = src(p - t_i * motion(p)), bilinear, border clamped.

    ``t_i`` is :func:`warp_time`; ``motion`` is the displacement over the exposure in pixels.
    This is the network's ``grid_sample(bilinear, border, align_corners=False)`` in pixel units.

    Shape:
        src: [C, H, W], motion: [2, H, W] -> [K, C, H, W]
    """
    c, h, w = src.shape
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.empty((k, c, h, w), np.float32)
    for i in range(k):
        t = np.float32(warp_time(i, k))
        out[i] = _bilinear_border(src, gx - t * motion[0], gy - t * motion[1])
    return out


def warp_blend(res: np.ndarray, base: np.ndarray, sharp: np.ndarray, motion: np.ndarray, gate: np.ndarray) -> None:
    """res[i] = base + gate[i] * (flow_warp(sharp)[i] - base) + res[i], in place: the sub-frames.

    Shape:
        res: [K, C, H, W], base/sharp: [C, H, W], motion: [2, H, W], gate: [K, H, W]
    """
    warps = flow_warp(sharp, motion, res.shape[0])
    for i in range(res.shape[0]):
        res[i] = (base + gate[i][None] * (warps[i] - base)) + res[i]


# ---------------------------------------------------------------- deblur

DEBLUR_EPS = np.float32(1e-4)
"""The floor of the deconvolution's frame and of the blur it divides by (native/deblur.cpp's kEps)."""


def motion_taps(motion: np.ndarray, span: float, spacing: float, max_taps: int) -> np.ndarray:
    """Samples per pixel of :func:`motion_blur`: the motion over the exposure at most ``spacing`` px apart.

    Shape: motion [H, W, 2] -> [H, W] int (1 to ``max_taps``)
    """
    mx, my = motion[..., 0], motion[..., 1]
    length = np.sqrt(mx * mx + my * my) * np.float32(span)
    return np.clip(np.ceil(length / np.float32(spacing)), 1, max_taps).astype(np.intp)


def motion_blur(
    img: np.ndarray, motion: np.ndarray, span: float, spacing: float, max_taps: int, adjoint: bool = False
) -> np.ndarray:
    """The blur a per-pixel motion makes over an exposure of ``span`` frame intervals.

    out(p) = mean over j < n(p) of img(p - t_j * m(p)), t_j = s * span * ((j + 0.5) / n(p) - 0.5),
    bilinear with coordinates clamped to the frame, s = +1 (or -1 for the ``adjoint``, the blur
    along the opposite direction that Richardson-Lucy uses); n(p) is :func:`motion_taps`.

    Shape: img [H, W, C], motion [H, W, 2] (px per frame interval) -> [H, W, C]
    """
    h, w, c = img.shape
    n = motion_taps(motion, span, spacing, max_taps)
    inv = np.float32(1.0) / n.astype(np.float32)
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    sign = np.float32(-1.0 if adjoint else 1.0)
    acc = np.zeros((h, w, c), np.float32)
    planar = np.ascontiguousarray(np.moveaxis(img, -1, 0))
    for j in range(int(n.max(initial=1))):
        use = j < n
        t = sign * np.float32(span) * ((np.float32(j) + np.float32(0.5)) * inv - np.float32(0.5))
        t = np.where(use, t, np.float32(0.0)).astype(np.float32)
        smp = np.moveaxis(_bilinear_border(planar, gx - t * motion[..., 0], gy - t * motion[..., 1]), 0, -1)
        acc += np.where(use[..., None], smp, np.float32(0.0))
    return (acc * inv[..., None]).astype(np.float32)


def deblur_motion(
    start: np.ndarray,
    blurred: np.ndarray,
    motion: np.ndarray,
    span: float,
    iterations: int,
    spacing: float,
    max_taps: int,
) -> np.ndarray:
    """Richardson-Lucy deconvolution of ``blurred`` by :func:`motion_blur`, started at ``start``.

    x_0 = max(start, 1e-4); x_{i+1} = x_i * adjoint_blur(blurred / max(blur(x_i), 1e-4)).

    Shape: start, blurred [H, W, C], motion [H, W, 2] -> [H, W, C]
    """
    x = np.maximum(start, DEBLUR_EPS).astype(np.float32)
    for _ in range(iterations):
        ratio = blurred / np.maximum(motion_blur(x, motion, span, spacing, max_taps), DEBLUR_EPS)
        x = x * motion_blur(ratio.astype(np.float32), motion, span, spacing, max_taps, adjoint=True)
    return x.astype(np.float32)


# ---------------------------------------------------------------- transfer


def srgb_encode(x: np.ndarray) -> np.ndarray:
    """Scene-linear -> sRGB OETF, extended: odd-symmetric below 0, power law above 1."""
    a = np.abs(x)
    y = np.where(a <= 0.0031308, a * 12.92, 1.055 * np.power(a, 1.0 / 2.4) - 0.055)
    return (np.sign(x) * y).astype(np.float32)


def srgb_decode(y: np.ndarray) -> np.ndarray:
    """Inverse of :func:`srgb_encode`."""
    a = np.abs(y)
    x = np.where(a <= 0.04045, a / 12.92, np.power((a + 0.055) / 1.055, 2.4))
    return (np.sign(y) * x).astype(np.float32)


def srgb_decode_channels_last(planar: np.ndarray, h: int, w: int, scale: float) -> np.ndarray:
    """:func:`srgb_decode` of ``planar`` cropped to ``h`` x ``w``, channels last, times ``scale`` unless 1.

    Shape: [K, C, Hp, Wp] -> [K, h, w, C]
    """
    out = srgb_decode(planar[:, :, :h, :w]).transpose(0, 2, 3, 1)
    if scale != 1.0:
        out = out * np.float32(scale)
    return np.ascontiguousarray(out, np.float32)


def rec709_encode(x: np.ndarray) -> np.ndarray:
    """Scene-linear -> Rec.709 OETF, extended odd-symmetric and above 1."""
    a = np.abs(x)
    y = np.where(a < 0.018, a * 4.5, 1.099 * np.power(a, 0.45) - 0.099)
    return (np.sign(x) * y).astype(np.float32)


def rec709_decode(y: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rec709_encode`."""
    a = np.abs(y)
    x = np.where(a < 0.081, a / 4.5, np.power((a + 0.099) / 1.099, 1.0 / 0.45))
    return (np.sign(y) * x).astype(np.float32)


LOG_MAX_STOPS = 8.0


def log_encode(x: np.ndarray) -> np.ndarray:
    """Scene-linear HDR -> [0, 1]: log2(1 + 255 x) / 8 (x = 1 maps to 1, x = 0 to 0).

    Values up to very bright highlights stay finite and ordered; negative
    values are mirrored.
    """
    a = np.abs(x).astype(np.float64)
    y = np.log2(1.0 + 255.0 * a) / LOG_MAX_STOPS
    return (np.sign(x) * y).astype(np.float32)


def log_decode(y: np.ndarray) -> np.ndarray:
    """Inverse of :func:`log_encode`."""
    a = np.abs(y).astype(np.float64)
    x = (np.exp2(a * LOG_MAX_STOPS) - 1.0) / 255.0
    return (np.sign(y) * x).astype(np.float32)


# ---------------------------------------------------------------- half


def to_half(x: np.ndarray) -> np.ndarray:
    """float32 -> IEEE half, rounded to nearest even, as bits. Any shape. Shape: [...] float32 -> [...] uint16"""
    return x.astype(np.float16).view(np.uint16)


def warp_maps(field: np.ndarray, t: float, y0: float) -> np.ndarray:
    """Remap coordinates of a backward warp by ``t`` along a float16 field (its bits): x - t * m_x and
    y0 + row - t * m_y, each a float32 product then a float32 sum. Shape: [R, W, 2] uint16 -> [2, R, W] float32"""
    rows, w = field.shape[:2]
    m = field.view(np.float16)
    nt = -np.float32(t)
    out = np.empty((2, rows, w), np.float32)
    np.multiply(m[..., 0], nt, out=out[0], dtype=np.float32)
    out[0] += np.arange(w, dtype=np.float32)[None, :]
    np.multiply(m[..., 1], nt, out=out[1], dtype=np.float32)
    out[1] += (np.float32(y0) + np.arange(rows, dtype=np.float32))[:, None]
    return out


def sort_landings(
    motion: np.ndarray, priority: np.ndarray | None, pairs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pixels in ascending landing priority (:meth:`unshutter.travel.Warper.at`): the trust's 64 steps
    above the speed's 1024 (quarter pixels), ties in pixel order. Returns their x and y (uint16, float32
    beyond 65535 px), motions and ``pairs`` values in that order.

    Shape: motion [H, W, 2] float32, priority [H, W] or None, pairs [H * W] int32 -> [H * W] each
    """
    h, w = motion.shape[:2]
    m = motion.reshape(-1, 2)
    speed = np.minimum(np.hypot(m[:, 0], m[:, 1]) * np.float32(4.0), np.float32(1023.0))
    trust = np.zeros(h * w, np.float32) if priority is None else priority.reshape(-1)
    key16 = (np.clip(trust, 0.0, 1.0) * np.float32(63.0)).astype(np.uint16) * np.uint16(1024)
    key16 += speed.astype(np.uint16)
    o = np.argsort(key16, kind="stable")
    del speed, trust, key16
    # whole numbers: uint16 positions add to float32 motions exactly as float32 ones would (less memory at 4K)
    pos = np.uint16 if max(h, w) <= np.iinfo(np.uint16).max else np.float32
    px = (o % w).astype(pos)
    py = (o // w).astype(pos)
    return px, py, m[:, 0][o], m[:, 1][o], pairs[o]


def land_motion(
    px: np.ndarray,
    py: np.ndarray,
    mx: np.ndarray,
    my: np.ndarray,
    src: np.ndarray,
    t: float,
    w: int,
    h: int,
    pairs: np.ndarray,
) -> None:
    """Write ``src[i]`` where sorted pixel i lands after ``t`` (rint of position + t * motion, float32), in order:
    the last write to a pixel stays. Shape: [M] each, pairs [h * w] int32 (in place)"""
    tt = np.float32(t)
    tx = np.rint(mx * tt + px).astype(np.int32)
    ty = np.rint(my * tt + py).astype(np.int32)
    inside = (tx >= 0) & (tx < w) & (ty >= 0) & (ty < h)
    pairs[ty[inside] * np.int32(w) + tx[inside]] = src[inside]


def close_lattice(field: np.ndarray, rel: float) -> None:
    """Single pixels of a slower motion between two agreeing pixels of a faster one take the faster's
    (in place; :meth:`unshutter.travel.Warper.at`). Along the first of the horizontal, vertical and both
    diagonal lines where a pixel's speed is below both neighbours' by more than ``margin = max(1, rel x
    min(theirs))`` and the neighbours' motions differ by less than ``margin``, it becomes their mean. Speeds
    are sqrt(x * x + y * y) in float32; every test reads the field as given; the border is kept.

    Shape: field [H, W, 2] float16 bits (uint16), in place
    """
    h, w = field.shape[:2]
    if h < 3 or w < 3:
        return
    f = field.view(np.float16).astype(np.float32)
    speed = np.sqrt(f[..., 0] * f[..., 0] + f[..., 1] * f[..., 1])
    c = (slice(1, h - 1), slice(1, w - 1))
    fixed = np.zeros((h - 2, w - 2), bool)
    rel32 = np.float32(rel)
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        a = (slice(1 + dy, h - 1 + dy), slice(1 + dx, w - 1 + dx))
        b = (slice(1 - dy, h - 1 - dy), slice(1 - dx, w - 1 - dx))
        low = np.minimum(speed[a], speed[b])
        margin = np.maximum(np.float32(1.0), rel32 * low)
        cand = speed[c] < low - margin
        cand &= ~fixed
        ys, xs = np.nonzero(cand)
        if not ys.size:
            continue
        fa, fb = f[a][ys, xs], f[b][ys, xs]
        d = fa - fb
        agree = np.sqrt(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1]) < margin[ys, xs]
        ys, xs = ys[agree], xs[agree]
        mean = (fa[agree] + fb[agree]) * np.float32(0.5)
        field[ys + 1, xs + 1] = mean.astype(np.float16).view(np.uint16)
        fixed[ys, xs] = True
