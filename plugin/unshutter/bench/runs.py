"""Whole runs of consecutive frames for the motion measures of ``unshutter bench quality``.

A run is F consecutive blurred frames with the truth at the N evenly spaced
output times of each frame interval (slot k of frame f sits (k + 0.5)/N of an
interval after f's exposure opens). At 360 degrees those are the exposure's N
slices; at 180 degrees with N = 8 the first 4 are the exposure (their linear
mean is the blurred frame) and the last 4 lie in the closed-shutter gap, which
a slow-motion tool has to fill to play back evenly.

Only the interior frames (both neighbours present) are scored, as one run:
motion per step, inside/boundary/judder, span ratio and detail
(:mod:`unshutter.bench.motion`), PSNR at the output times and order accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from unshutter.bench import motion
from unshutter.color import to_network
from unshutter.guidance.flow import dis_flow, motion_from_neighbors, to_gray8


@dataclass
class Run:
    """F consecutive blurred frames, the truth at the output times and the true motion."""

    name: str
    blurred: np.ndarray  # [F, H, W, 3] network encoding (scale 1), the node's input
    truth: np.ndarray  # [F, N, H, W, 3] network encoding at the N output times of each frame interval
    true_motion: np.ndarray  # [F, H, W, 2] px per frame interval
    shutter: float
    info: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.truth.shape[1])

    @property
    def scored(self) -> range:
        """The interior frames: both neighbours exist."""
        return range(1, len(self.blurred) - 1)

    def times(self) -> np.ndarray:
        """Output times relative to the middle of the exposure, in frame intervals. Shape: -> [N]."""
        e = self.shutter / 360.0
        return (np.arange(self.n) + 0.5) / self.n - e / 2

    def open_slots(self) -> np.ndarray:
        """Which output times lie inside the exposure. Shape: -> [N] bool."""
        return (np.arange(self.n) + 0.5) / self.n < self.shutter / 360.0


# ----------------------------------------------------------------- data sets


TRUTH_HALF = 3
"""Sharp source frames chained each way from an exposure's middle for a real shot's true motion."""


def chain(flows: list[np.ndarray]) -> np.ndarray:
    """Displacement of each pixel of the first frame along consecutive flows (frame i -> i+1 each).

    Shape: flows: each [H, W, 2] -> [H, W, 2]
    """
    h, w = flows[0].shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    px, py = xs.copy(), ys.copy()
    for f in flows:
        s = cv2.remap(f, px, py, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        px += s[..., 0]
        py += s[..., 1]
    return np.stack([px - xs, py - ys], axis=-1)


def sharp_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The truth's flow between consecutive sharp frames. Shape: [H, W] uint8 x2 -> [H, W, 2]."""
    d = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    d.setFinestScale(0)
    d.setVariationalRefinementIterations(10)
    return d.calc(a, b, None)


class RealTruth:
    """A real shot's true motion, from its consecutive sharp source frames.

    A fast object moves tens of px between source frames far apart, more than
    one DIS call follows, so the motion at a source frame is the flow chained
    one source frame at a time up to :data:`TRUTH_HALF` frames each way,
    forward minus backward over the frames spanned. An exposure of an odd
    count of frames has its middle on a source frame; an even count's middle
    lies halfway between its two middle frames, where the motion is theirs
    carried half a source step to it (:func:`halfway`). ``bench quality`` and
    ``bench flow`` score against the same truth.
    """

    def __init__(self, lin: list[np.ndarray]) -> None:
        self.gray = [to_gray8(to_network(x, 1.0)) for x in lin]  # each [H, W] uint8
        self._steps: dict[tuple[int, int], np.ndarray] = {}
        self._at: dict[tuple[int, int], np.ndarray] = {}  # (frame, window): bench flow's sharp rows ask again

    def _step(self, i: int, j: int) -> np.ndarray:
        if (i, j) not in self._steps:
            self._steps[(i, j)] = sharp_flow(self.gray[i], self.gray[j])
        return self._steps[(i, j)]

    @staticmethod
    def middle(start: int, exposed: int) -> float:
        """The time (in source frames) of the middle of the exposure of ``exposed`` frames from ``start``."""
        return start + (exposed - 1) / 2

    @staticmethod
    def nearest(start: int, exposed: int) -> int:
        """The source frame nearest the exposure's middle (the later of the two middle ones for an even count)."""
        return start + exposed // 2

    def motion_at(self, c: int, window: int) -> np.ndarray:
        """Motion per frame interval (``window`` source frames) at the pixels of source frame ``c``.

        Shape: -> [H, W, 2] float32
        """
        if (c, window) in self._at:
            return self._at[(c, window)]
        last = len(self.gray) - 1
        lo, hi = max(0, c - TRUTH_HALF), min(last, c + TRUTH_HALF)
        zero = np.zeros((*self.gray[c].shape, 2), np.float32)
        fwd = chain([self._step(i, i + 1) for i in range(c, hi)]) if hi > c else zero
        bwd = chain([self._step(i, i - 1) for i in range(c, lo, -1)]) if lo < c else zero
        self._at[(c, window)] = ((fwd - bwd) * np.float32(window / (hi - lo))).astype(np.float32)
        return self._at[(c, window)]

    def motion(self, start: int, window: int, exposed: int) -> np.ndarray:
        """Motion per frame interval (``window`` source frames) at the pixels of the exposure's middle.

        Shape: -> [H, W, 2] float32
        """
        c = self.nearest(start, exposed)
        if exposed % 2:
            return self.motion_at(c, window)
        a = c - 1
        return halfway(
            (self.motion_at(a, window), self.motion_at(c, window)),
            (self._step(a, c), self._step(c, a)),
        )


def halfway(motions: tuple[np.ndarray, np.ndarray], steps: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The motion halfway between consecutive source frames a and b: each frame's motion carried half its step.

    Every pixel of a lands at p + step_ab(p) / 2 and every pixel of b at
    p + step_ba(p) / 2, splatted bilinearly with its motion and averaged
    where several land, so a moving object's pixels sit where it is at the
    middle, not where it was or will be. A pixel nothing lands on keeps the
    mean of the two frames' motions there. (Weighting each landing by how
    well its step matches the other frame, to let a surface hidden by the
    middle give way, put the edges of a rendered block further off: DIS
    smooths the steps across the edge, and the values were no closer.)

    Shape: motions, steps: each [H, W, 2] (steps a -> b at a's pixels, b -> a at b's) -> [H, W, 2] float32
    """
    h, w = motions[0].shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    num = np.zeros((h * w, 2))
    den = np.zeros(h * w)
    for m, step in zip(motions, steps):
        px = (xs + 0.5 * step[..., 0]).ravel()  # [H*W] where each pixel lands
        py = (ys + 0.5 * step[..., 1]).ravel()
        x0, y0 = np.floor(px), np.floor(py)
        for cx, cy in ((x0, y0), (x0 + 1, y0), (x0, y0 + 1), (x0 + 1, y0 + 1)):
            wt = (1.0 - np.abs(px - cx)) * (1.0 - np.abs(py - cy))  # [H*W] bilinear share
            ok = (cx >= 0) & (cx < w) & (cy >= 0) & (cy < h) & (wt > 0)
            idx = (cy[ok] * w + cx[ok]).astype(np.int64)
            den += np.bincount(idx, wt[ok], h * w)
            for k in range(2):
                num[:, k] += np.bincount(idx, wt[ok] * m[..., k].ravel()[ok], h * w)
    mean = 0.5 * (motions[0].reshape(-1, 2).astype(np.float64) + motions[1].reshape(-1, 2))
    hit = den > 1e-6
    out = np.where(hit[:, None], num / np.where(hit, den, 1.0)[:, None], mean)
    return out.reshape(h, w, 2).astype(np.float32)


def real_run(name: str, lin: list[np.ndarray], window: int, exposed: int, truth: RealTruth | None = None) -> Run:
    """Groups of ``window`` sharp source frames; the first ``exposed`` of each averaged in linear light.

    The truth is every source frame (a 360 degree shutter at ``window`` times the
    rate); the shutter angle is 360 * exposed / window. True motion per frame
    interval: :class:`RealTruth` (pass one to share its flows between runs of the same frames).

    Shape: lin [S, H, W, 3] linear -> Run with S // window frames
    """
    truth_motion = truth if truth is not None else RealTruth(lin)
    starts = list(range(0, len(lin) - window + 1, window))
    blurred, frames, mot = [], [], []
    for s in starts:
        grp = np.stack(lin[s : s + window])
        blurred.append(to_network(grp[:exposed].mean(axis=0), 1.0))
        frames.append(to_network(grp, 1.0))
        mot.append(truth_motion.motion(s, window, exposed))
    info = {"window": window, "exposed": exposed, "frames": len(starts)}
    return Run(name, np.stack(blurred), np.stack(frames), np.stack(mot), 360.0 * exposed / window, info)


def clip_run(name: str, clip) -> Run:  # noqa: ANN001 (unshutter.train.data.Clip: torch-free import kept lazy)
    return Run(name, clip.blurred, clip.truth, clip.motion, clip.shutter_deg, dict(clip.info))


# ----------------------------------------------------------------- baselines


def warp_motion(run: Run, f: int) -> np.ndarray | None:
    """The flow-warp baseline's motion per frame interval for frame f: half the DIS flow prev -> next."""
    g = [to_gray8(run.blurred[i]) if 0 <= i < len(run.blurred) else None for i in (f - 1, f, f + 1)]
    if g[0] is not None and g[2] is not None:
        return 0.5 * dis_flow(g[0], g[2])
    assert g[1] is not None  # frame f is in the run
    m, _ = motion_from_neighbors(g[0], g[1], g[2])
    return m


def flow_warp_at(blurred: np.ndarray, motion_px: np.ndarray | None, times: np.ndarray) -> np.ndarray:
    """The blurred frame backward-warped to each time along its motion per frame interval.

    Shape: blurred [H, W, 3], motion_px [H, W, 2] or None, times [N] -> [N, H, W, 3]
    """
    if motion_px is None:
        return np.repeat(blurred[None], len(times), axis=0)
    h, w = blurred.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    out = [
        cv2.remap(
            blurred,
            xs - np.float32(t) * motion_px[..., 0],
            ys - np.float32(t) * motion_px[..., 1],
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        for t in times
    ]
    return np.stack(out)


def baselines(run: Run) -> dict[str, np.ndarray]:
    """identity and flow-warp outputs of the scored frames. Shape: -> name: [len(scored), N, H, W, 3]."""
    sel = list(run.scored)
    ident = np.repeat(run.blurred[sel, None], run.n, axis=1)
    warp = np.stack([flow_warp_at(run.blurred[f], warp_motion(run, f), run.times()) for f in sel])
    return {"identity": ident, "flow_warp": warp}


# ----------------------------------------------------------------- scoring


def _psnr(m: float) -> float:
    return float(10.0 * np.log10(1.0 / max(m, 1e-12)))


def score(run: Run, outputs: dict[str, np.ndarray]) -> dict:
    """Every measure of each method's output over the run's interior frames, the truth's as a row.

    Shape: outputs name: [len(run.scored), N, H, W, 3] network encoding, the scored frames' outputs
    """
    sel = list(run.scored)
    n = run.n
    truth = run.truth[sel].reshape(-1, *run.truth.shape[2:])  # [len(sel)*N, H, W, 3]
    t_steps = motion.step_motion(truth)
    t_rm = motion.summarize_steps(t_steps, n)
    mask = motion.moving_mask(run.true_motion[sel], n)
    flat = mask & motion.flat_mask(truth)  # moving pixels where the truth is flat: detail there is ringing
    t_frame = _per_frame_inside(t_steps, n)
    opened = run.open_slots()
    res: dict = {}
    for name, out in {"truth": run.truth[sel], **outputs}.items():
        if out.shape != run.truth[sel].shape:
            raise ValueError(f"{run.name}: {name} output {out.shape} is not the scored frames' {run.truth[sel].shape}")
        o = np.clip(out, 0.0, 1.0)  # [len(sel), N, H, W, 3]
        frames = o.reshape(truth.shape)
        steps = t_steps if name == "truth" else motion.step_motion(frames)
        rm = motion.summarize_steps(steps, n)
        se = ((o.astype(np.float64) - run.truth[sel]) ** 2).mean(axis=(2, 3, 4))  # [len(sel), N]
        se_rev = ((o[:, ::-1].astype(np.float64) - run.truth[sel]) ** 2).mean(axis=(2, 3, 4))
        r = {
            **rm.to_dict(),
            "span_ratio": motion.span_ratio(rm, t_rm),
            "detail": motion.detail(frames, truth),
            "detail_moving": motion.detail(frames, truth, mask),
            "detail_flat": motion.detail(frames, truth, flat),
            "psnr_pooled": _psnr(float(se.mean())),
            "order_accuracy": float(
                np.mean(np.where(se.mean(1) < se_rev.mean(1), 1.0, np.where(se.mean(1) == se_rev.mean(1), 0.5, 0.0)))
            ),
        }
        if not opened.all():
            r["psnr_open_pooled"] = _psnr(float(se[:, opened].mean()))
            r["psnr_gap_pooled"] = _psnr(float(se[:, ~opened].mean()))
        fr = _per_frame_inside(steps, n)
        r["per_frame_span"] = [round(float(a / b), 3) if b > 1e-6 else None for a, b in zip(fr, t_frame)]
        res[name] = r
    res["_info"] = {
        "scored_frames": [sel[0], sel[-1]],
        "n": n,
        "shutter": run.shutter,
        "moving_fraction": round(float(mask.mean()), 4),
        **run.info,
    }
    return res


def _per_frame_inside(steps: np.ndarray, n: int) -> np.ndarray:
    """Mean inside step of each source frame of a run. Shape: [F*N - 1] -> [F]."""
    f = (len(steps) + 1) // n
    return np.array([steps[i * n : i * n + n - 1].mean() if n > 1 else np.nan for i in range(f)])


METRICS = ("span_ratio", "judder", "inside", "boundary", "detail", "detail_moving", "detail_flat")


def pool(results: list[dict]) -> dict:
    """Several runs' scores as one: each measure's mean over runs, PSNR from the mean MSE."""
    out: dict = {}
    names = [k for k in results[0] if not k.startswith("_")]
    for name in names:
        rows = [r[name] for r in results]
        agg = {m: float(np.nanmean([np.nan if r[m] is None else float(r[m]) for r in rows])) for m in METRICS}
        for key in ("psnr_pooled", "psnr_open_pooled", "psnr_gap_pooled"):
            if key in rows[0]:
                agg[key] = _psnr(float(np.mean([10 ** (-r[key] / 10) for r in rows])))
        agg["order_accuracy"] = float(np.mean([r["order_accuracy"] for r in rows]))
        agg["runs"] = len(rows)
        out[name] = agg
    return out
