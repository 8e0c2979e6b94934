"""How far each pixel's neighbour motion can be trusted: a logistic model of the evidence, fitted on rendered clips.

The node follows the motion only as far as it trusts it (``--follow``), so the
trust decides how much of a correct motion reaches the output and how much
of a wrong one does. The forward/backward consistency alone
(``1 / (1 + (d / tau)^2)``, :func:`unshutter.guidance.flow.central_dis_motion`)
is a cautious judge on blurred frames: on the held-out synthetic clips of
``unshutter bench flow`` it gives moving pixels whose motion is right 0.60-0.67
on average (those whose motion is wrong 0.24-0.28; bikes 0.43 and 0.16), which
holds the node back where the motion is right. Other evidence is at hand at
little cost: whether the neighbours match along the motion
(photometric residual, against how much the pixel changes at rest), whether
the coarse block search agrees, how much structure the pixel has. A logistic
regression of "the motion is within max(1.5 px, 25%) of the truth" on these
features, fitted on clips the data engine renders from the *training* photos
(:func:`fit_from_clips`, ``python -m unshutter.guidance.trust``), separates
right from wrong better on every set ``unshutter bench flow`` scores: area
under the ROC curve over moving pixels 0.79 -> 0.86 on bikes at 360 degrees,
0.76 -> 0.84 at 180, 0.86 -> 0.89 and 0.85 -> 0.92 on the held-out synthetic
clips at 360 and 180 (2026-12-07).

Its offset is then lowered until, on the fitting clips, the pixels with wrong
motion get no more trust on average than the consistency gave them: the
follow weight on wrong motion is what costs PSNR, so that is held level and
the gain goes to the pixels whose motion is right. In the node (``unshutter
bench quality``, int8 model, against the consistency alone, 2026-12-07):
detail over moving pixels 0.69 -> 0.74 of the truth's on the synthetic clips
at 360 degrees and 0.60 -> 0.63 at 180, judder 2.67 -> 2.64 and 1.34 -> 1.28;
bikes interior PSNR 27.50 -> 27.53 dB, but bikes' judder at 360 degrees
6.61 -> 7.10 (span 0.23 -> 0.22), and the 24 held-out samples 24.63 -> 24.53
dB pooled.

That trust is judged pixel by pixel, so a moving object's trust comes out
speckled, and the node carries some of the object along the motion while the
rest stays at the blurred frame and jumps at the next frame boundary.
:func:`pool_trust` (applied by :func:`unshutter.guidance.flow.neighbor_motion`)
moves each pixel's trust halfway toward its object's: the trust of its
trusted neighbours that move as it does, or at least their smoothed trust.
All the way cost the bikes PSNR table 0.09-0.10 dB (trust rose on the
car's consistently wrong motion); halfway costs at most 0.03 dB and keeps
most of the judder gain. Measured in ``unshutter bench quality``:
models/MODEL_CARD.md ("Session 9: the trust pooled over an object").
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import cv2
import numpy as np

from unshutter.guidance.residual import residual_along

FEATURES = (
    "log1p(d)",  # d: |forward + backward flow| px, their disagreement
    "d / max(1, |m|)",  # the disagreement relative to the motion
    "log1p(min(ef, eb))",  # ef, eb: 9x9 mean |cur - next(p + m)|, |cur - prev(p - m)| (grey levels)
    "log1p(max(ef, eb))",
    "log1p(e0)",  # e0: 9x9 mean of |cur - next| and |cur - prev| at rest: how much the pixel changes
    "log1p(min(ef, eb)) - log1p(e0)",  # the motion explains the change (< 0) or not
    "log1p(|coarse - m|)",  # the block search's motion against the final one
    "|coarse - m| / max(4, |m|)",
    "log(texture + 1e-6)",  # structure tensor's smaller eigenvalue (dominant.texture)
    "log1p(|m|)",
    "consistency",  # the forward/backward consistency trust (after the untextured fill)
)

# Fitted by ``python -m unshutter.guidance.trust`` (24 clips of the training photos, seed 777; 2026-12-07):
# the fitted bias 1.819 lowered to 0.72, where wrongly moving pixels average the consistency's 0.211.
MEAN = np.array([2.054, 0.5268, 1.301, 1.762, 2.747, -1.446, 1.64, 0.2951, -8.494, 3.369, 0.5546], np.float32)
SCALE = np.array([1.129, 1.4, 0.985, 1.216, 1.082, 0.9226, 1.025, 0.6196, 1.919, 0.6123, 0.2853], np.float32)
COEF = np.array(
    [0.8381, -3.671, -0.1747, -0.4172, -0.1227, -0.02697, -0.9809, 0.09861, -0.01121, -0.007, 0.9077], np.float32
)
BIAS = 0.72

WINDOW = 9
"""Side (px) of the box the photometric residuals are averaged over."""


def _len(v: np.ndarray) -> np.ndarray:
    """Length of each vector. Shape: [H, W, 2] -> [H, W]."""
    return np.sqrt(v[..., 0] * v[..., 0] + v[..., 1] * v[..., 1])


def feature_maps(
    prev: np.ndarray,
    cur: np.ndarray,
    nxt: np.ndarray,
    motion: np.ndarray,
    disagree: np.ndarray,
    coarse: np.ndarray,
    tex: np.ndarray,
    consistency: np.ndarray,
) -> Iterator[np.ndarray]:
    """The FEATURES one map at a time (a 4K frame's eleven maps at once would be ~370 MB).

    Shape:
        prev, cur, nxt: [H, W] uint8, motion: [H, W, 2], disagree: [H, W] px (|fwd + bwd|),
        coarse: [H, W, 2], tex: [H, W], consistency: [H, W] -> each [H, W] float32
    """
    c = cur.astype(np.float32)
    ef = residual_along(c, nxt, motion, 1.0, WINDOW)
    eb = residual_along(c, prev, motion, -1.0, WINDOW)
    e0 = cv2.blur(
        np.float32(0.5) * (np.abs(c - nxt.astype(np.float32)) + np.abs(c - prev.astype(np.float32))), (WINDOW, WINDOW)
    )
    del c  # each map is let go once the maps left do not need it: a 4K frame's flow peaks here
    mag = _len(motion)
    lo = np.log1p(np.minimum(ef, eb))
    yield np.log1p(disagree)
    yield disagree / np.maximum(np.float32(1.0), mag)
    yield lo
    yield np.log1p(np.maximum(ef, eb))
    del ef, eb
    le0 = np.log1p(e0)
    del e0
    yield le0
    yield lo - le0
    del lo, le0
    off = _len(coarse - motion)
    yield np.log1p(off)
    yield off / np.maximum(np.float32(4.0), mag)
    del off
    yield np.log(tex + np.float32(1e-6))
    yield np.log1p(mag)
    del mag
    yield consistency


def learned_trust(maps: Iterator[np.ndarray]) -> np.ndarray:
    """sigmoid(BIAS + sum COEF_i (feature_i - MEAN_i) / SCALE_i), in [0, 1]. Shape: maps of [H, W] -> [H, W]."""
    z: np.ndarray | None = None
    for i, f in enumerate(maps):  # in place: a term and the sum (temporaries of a frame's size each)
        term = f - MEAN[i]
        del f  # the generator's own maps are freed as it goes on
        term *= np.float32(COEF[i] / SCALE[i])
        if z is None:
            z = term
        else:
            z += term
        del term
    assert z is not None
    z += np.float32(BIAS)
    np.clip(z, -30.0, 30.0, out=z)  # exp stays finite
    np.negative(z, out=z)
    np.exp(z, out=z)
    z += np.float32(1.0)
    return np.divide(np.float32(1.0), z, out=z)


POOL_SIGMA = 0.03
"""Gaussian window of :func:`pool_trust`, as a fraction of the frame's long side (19.2 px at 640, 38.4 at 1280)."""
POOL_REL = 0.25
"""A pixel's motion may be off its trusted neighbours' by this fraction (at least 2 px) at 1/e of their trust."""
POOL_WEIGHT = 0.5
"""How far :func:`pool_trust` moves a pixel's own trust toward the object's (1: all the way)."""


def pool_trust(trust: np.ndarray, motion: np.ndarray) -> np.ndarray:
    """Each pixel's trust moved POOL_WEIGHT of the way toward its object's.

    The learned trust is judged pixel by pixel, so a moving object comes out
    speckled: trusted patches beside untrusted ones of the same motion. The
    node then carries some of the object along the motion and leaves the rest
    at the blurred frame, which jumps at every frame boundary (judder). An
    object moves as a whole: where a pixel's motion agrees with the
    trust-weighted mean motion around it (Gaussian, POOL_SIGMA of the long
    side), the object's trust is the trust-weighted mean trust there times
    that agreement (``exp(-(d / tau)^2)``, ``tau = max(2 px, POOL_REL * |mean
    motion|)``); elsewhere, and at least, the Gaussian-smoothed trust. A
    motion that disagrees with its trusted neighbours gets only the smoothed
    trust, which can still be more than its own. Agreeing is not being right
    (a whole object can move wrongly, as bikes' car does in the neighbour
    flow), so the pixel's own trust keeps half the say (POOL_WEIGHT 0.5).

    The windows are summed on a grid about sigma/3 px coarse (the Gaussian
    is smooth at that scale), which keeps a 720p frame's cost to about 20 ms.

    Shape: trust [H, W] in [0, 1], motion [H, W, 2] -> [H, W] float32 in [0, 1]
    """
    h, w = trust.shape
    sigma = POOL_SIGMA * max(h, w)
    down = max(1, int(sigma // 3))
    small = (max(1, -(-w // down)), max(1, -(-h // down)))
    t = np.ascontiguousarray(trust, np.float32)

    def window(x: np.ndarray) -> np.ndarray:  # [H, W] -> [H, W]: the Gaussian window mean, at full size
        if down > 1:
            x = cv2.resize(x, small, interpolation=cv2.INTER_AREA)
        x = cv2.GaussianBlur(x, (0, 0), sigma / down)
        return cv2.resize(x, (w, h), interpolation=cv2.INTER_LINEAR) if down > 1 else x

    smooth = window(t)
    weight = np.maximum(smooth, np.float32(1e-3))
    mx = window(t * motion[..., 0]) / weight  # trust-weighted mean motion around each pixel
    my = window(t * motion[..., 1]) / weight
    pooled = window(t * t) / weight  # the trust-weighted mean trust: what the trusted neighbours have
    dx, dy = motion[..., 0] - mx, motion[..., 1] - my
    tau2 = np.maximum(np.float32(4.0), np.float32(POOL_REL * POOL_REL) * (mx * mx + my * my))
    agree = np.exp(-(dx * dx + dy * dy) / tau2)
    whole = np.maximum(smooth, pooled * agree)  # the object's trust
    return np.clip(t + np.float32(POOL_WEIGHT) * (whole - t), 0.0, 1.0).astype(np.float32, copy=False)


# ----------------------------------------------------------------- fitting


def correct(motion: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The label the trust predicts: the motion is within max(1.5 px, 25%) of the truth. Shape: -> [H, W] bool."""
    return _len(motion - truth) < np.maximum(np.float32(1.5), np.float32(0.25) * _len(truth))


def fit_logistic(x: np.ndarray, y: np.ndarray, weight: np.ndarray, l2: float = 1e-3, iters: int = 30) -> np.ndarray:
    """Weighted logistic regression by Newton's method; returns [coef..., bias] of the standardised features.

    Shape: x [N, F] (standardised), y [N] in {0, 1}, weight [N] -> [F + 1]
    """
    d = np.concatenate([x, np.ones((len(x), 1))], axis=1).astype(np.float64)
    b = np.zeros(d.shape[1])
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-(d @ b)))
        g = d.T @ (weight * (p - y)) + l2 * b
        hess = (d * (weight * p * (1.0 - p))[:, None]).T @ d + l2 * np.eye(len(b))
        b -= np.linalg.solve(hess, g)
    return b


def fit_from_clips(
    samples: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]], per_frame: int = 20000, seed: int = 0
) -> dict:
    """MEAN, SCALE, COEF and BIAS from (features [H, W, F], motion, truth, consistency) of interior frames.

    Pixels whose true motion exceeds 8 px weigh 1, the others 0.3 (a still
    pixel's motion is easy and following it costs little). The bias is then
    lowered in steps of 0.1 until the mean trust over wrongly moving pixels is
    at most the consistency's.
    """
    rng = np.random.default_rng(seed)
    xs, ys, ws, moving, cons = [], [], [], [], []
    for feats, motion, truth, consistency in samples:
        n = feats.shape[0] * feats.shape[1]
        idx = rng.choice(n, min(per_frame, n), replace=False)
        mv = (_len(truth) > 8.0).ravel()[idx]
        xs.append(feats.reshape(n, -1)[idx])
        ys.append(correct(motion, truth).ravel()[idx])
        ws.append(np.where(mv, 1.0, 0.3))
        moving.append(mv)
        cons.append(consistency.ravel()[idx])
    x = np.concatenate(xs).astype(np.float64)
    y = np.concatenate(ys).astype(np.float64)
    mean, scale = x.mean(0), x.std(0) + 1e-6
    z = (x - mean) / scale
    b = fit_logistic(z, y, np.concatenate(ws))
    bad = np.concatenate(moving) & (y < 0.5)
    target = float(np.concatenate(cons)[bad].mean()) if bad.any() else 1.0
    logit = z @ b[:-1]
    bias = float(b[-1])
    while bad.any() and float((1.0 / (1.0 + np.exp(-(logit[bad] + bias)))).mean()) > target:
        bias -= 0.1
    return {"mean": mean, "scale": scale, "coef": b[:-1], "bias": bias, "fitted_bias": float(b[-1]), "target": target}


def _render_samples(clips: int, seed: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Interior frames of ``clips`` clips rendered from the training photos, alternately at 360 and 180 degrees."""
    from unshutter.guidance import flow
    from unshutter.train.data import alternating_clips

    out = []
    for _, _, clip in alternating_clips(None, False, clips, 5, (384, 320, 448), seed):
        g = [flow.to_gray8(x) for x in clip.blurred]
        for f in range(1, len(g) - 1):
            parts = flow.motion_parts(g[f - 1], g[f], g[f + 1])
            feats = np.stack(list(feature_maps(g[f - 1], g[f], g[f + 1], *parts.evidence())), axis=-1)
            out.append((feats, parts.motion, clip.motion[f].astype(np.float32), parts.consistency))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="fit the neighbour motion's trust model on clips of the training photos")
    p.add_argument("--clips", type=int, default=24)
    p.add_argument("--seed", type=int, default=777)
    a = p.parse_args(argv)
    cv2.setNumThreads(2)
    res = fit_from_clips(_render_samples(a.clips, a.seed))
    fmt = lambda v: "[" + ", ".join(f"{x:.4g}" for x in v) + "]"  # noqa: E731
    print(f"MEAN = {fmt(res['mean'])}\nSCALE = {fmt(res['scale'])}\nCOEF = {fmt(res['coef'])}")
    print(
        f"BIAS = {res['bias']:.2f}  # fitted {res['fitted_bias']:.3f}, lowered to the consistency's {res['target']:.3f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
