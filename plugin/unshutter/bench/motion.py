"""Motion measures of slow-motion output: does it move as far as the scene, without a jump at frame boundaries?

PSNR per sub-frame cannot see stutter: sub-frames that huddle around the blurred
frame score well and still play back as a still picture that jumps once per
source frame. These measures look at consecutive output frames instead.

A *run* is T = F * N consecutive frames: the N sub-frames of F consecutive
source frames, in playback order. Frames are in network encoding (sRGB-encoded
float in [0, 1]), shape [T, H, W, 3].

- **step motion**: for each step t -> t+1, the 95th percentile of the magnitude
  of the DIS flow (OpenCV preset medium, on the frames as they are) between the
  8-bit grey images of the two frames. Not the guidance's padded flow: its edge
  replication drags entering content along and puts outliers into the 95th
  percentile (3.2-6.6 px instead of 3.05 on a 3 px pan of a 128x96 frame).
- **inside** motion: the mean over steps k -> k+1 within a source frame;
  **boundary** motion: the mean over steps from sub-frame N-1 of frame f to
  sub-frame 0 of frame f+1.
- **span ratio** = inside(output) / inside(truth): 1 is right, below 1 the
  sub-frames huddle around the blurred frame.
- **judder** = boundary / inside: the truth's is about 1, a still picture that
  jumps once per frame has judder >> 1 (infinite for the identity).
- **detail** = mean |Laplacian| after a 0.7 px Gaussian of the output over that
  of the truth, over the whole frame and over the pixels whose true motion
  exceeds 8 px per source frame interval (where deblurring has to happen).
- **flat detail** = the same ratio over the moving pixels where the truth is
  flat (its luma spans less than 0.02 over the 9x9 pixels around): 1 is right;
  above it, structure the truth does not have there (the parallel copies a
  deconvolution rings into a smooth sky beside an edge, ghost edges). Detail
  alone cannot tell ringing from sharpness: both raise it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from unshutter.guidance.flow import to_gray8

PERCENTILE = 95.0
DETAIL_SIGMA = 0.7
MOVING_PX = 8.0  # px per source frame interval
FLAT_RANGE = 0.02  # luma (network encoding) a flat neighbourhood of the truth spans at most
FLAT_RADIUS = 4  # px: the neighbourhood is the (2r+1)^2 square around a pixel


# ----------------------------------------------------------------- per step


def gray8(frames: np.ndarray) -> np.ndarray:
    """8-bit grey of the sRGB encoding. Shape: [T, H, W, 3] -> [T, H, W] uint8."""
    return np.stack([to_gray8(np.asarray(f, np.float32)) for f in frames])


def step_motion(frames: np.ndarray) -> np.ndarray:
    """Per step t -> t+1, the 95th percentile of |DIS flow| in px. Shape: [T, H, W, 3] -> [T-1]."""
    g = gray8(frames)
    out = np.empty(max(0, len(g) - 1), np.float64)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    for t in range(len(g) - 1):
        if np.array_equal(g[t], g[t + 1]):  # a repeated frame (the identity): nothing moves, no flow to compute
            out[t] = 0.0
            continue
        f = dis.calc(g[t], g[t + 1], None)  # [H, W, 2]
        out[t] = float(np.percentile(np.sqrt((f.astype(np.float64) ** 2).sum(-1)), PERCENTILE))
    return out


def is_boundary_step(t: int, n: int) -> bool:
    """Step t -> t+1 crosses a source-frame boundary (from sub-frame N-1 of f to 0 of f+1)."""
    return t % n == n - 1


# ----------------------------------------------------------------- per run


@dataclass
class RunMotion:
    """Motion of one run of N sub-frames per source frame."""

    inside: float  # mean step inside a source frame, px
    boundary: float  # mean step across a boundary, px
    judder: float  # boundary / inside (inf when nothing moves inside)
    steps: int  # steps measured

    def to_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) and math.isfinite(v) else v) for k, v in asdict(self).items()}


def split_steps(steps: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(inside steps, boundary steps) of a run's per-step motion with ``n`` sub-frames per source frame."""
    b = np.array([is_boundary_step(t, n) for t in range(len(steps))], bool)
    return steps[~b], steps[b]


def summarize_steps(steps: np.ndarray, n: int) -> RunMotion:
    """Inside, boundary and judder of per-step motion (:func:`step_motion`) of a run."""
    if n < 1:
        raise ValueError(f"n={n}: need at least one sub-frame per source frame")
    ins, bnd = split_steps(np.asarray(steps, np.float64), n)
    inside = float(ins.mean()) if len(ins) else float("nan")
    boundary = float(bnd.mean()) if len(bnd) else float("nan")
    return RunMotion(inside, boundary, judder(inside, boundary), len(steps))


def run_motion(frames: np.ndarray, n: int) -> RunMotion:
    """Inside/boundary motion and judder of a run. Shape: frames [F*N, H, W, 3]."""
    if len(frames) % n:
        raise ValueError(f"a run of {len(frames)} frames is not whole source frames of {n} sub-frames")
    return summarize_steps(step_motion(frames), n)


def judder(inside: float, boundary: float) -> float:
    """boundary / inside; infinite when the run moves only at boundaries, nan when nothing is measured."""
    if not (math.isfinite(inside) and math.isfinite(boundary)):
        return float("nan")
    if inside <= 1e-6:
        return float("inf") if boundary > 1e-6 else float("nan")
    return boundary / inside


def span_ratio(out: RunMotion, truth: RunMotion) -> float:
    """inside(output) / inside(truth): 1 when the sub-frames travel as far as the scene moved."""
    if not truth.inside > 1e-6:
        return float("nan")
    return out.inside / truth.inside


# ----------------------------------------------------------------- detail


def laplacian_energy(frames: np.ndarray) -> np.ndarray:
    """|Laplacian| of the luma after a 0.7 px Gaussian, per pixel. Shape: [T, H, W, 3] -> [T, H, W]."""
    out = []
    for y in luma(frames):
        y = cv2.GaussianBlur(y, (0, 0), DETAIL_SIGMA, borderType=cv2.BORDER_REFLECT)
        out.append(np.abs(cv2.Laplacian(y, cv2.CV_32F, ksize=1, borderType=cv2.BORDER_REFLECT)))
    return np.stack(out)


def detail(out: np.ndarray, truth: np.ndarray, mask: np.ndarray | None = None) -> float:
    """mean |Laplacian| of ``out`` over that of ``truth`` (1: as sharp as the truth), optionally over ``mask``.

    Shape: out, truth [T, H, W, 3]; mask [T, H, W] bool or None -> float (nan if the mask is empty)
    """
    lo, lt = laplacian_energy(out), laplacian_energy(truth)
    if mask is not None:
        if not mask.any():
            return float("nan")
        lo, lt = lo[mask], lt[mask]
    den = float(lt.mean(dtype=np.float64))
    return float(lo.mean(dtype=np.float64)) / den if den > 0 else float("nan")


def luma(frames: np.ndarray) -> np.ndarray:
    """Rec. 709 luma of the encoding. Shape: [T, H, W, 3] -> [T, H, W] float32."""
    f = np.asarray(frames, np.float32)
    return f[..., 0] * 0.2126 + f[..., 1] * 0.7152 + f[..., 2] * 0.0722


def flat_mask(truth: np.ndarray, span: float = FLAT_RANGE, radius: int = FLAT_RADIUS) -> np.ndarray:
    """Pixels where the truth's luma spans less than ``span`` over the square of ``radius`` around them.

    Shape: truth [T, H, W, 3] -> [T, H, W] bool
    """
    k = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    out = []
    for y in luma(truth):
        out.append(
            cv2.dilate(y, k, borderType=cv2.BORDER_REFLECT) - cv2.erode(y, k, borderType=cv2.BORDER_REFLECT) < span
        )
    return np.stack(out)


def moving_mask(true_motion: np.ndarray, n: int, threshold: float = MOVING_PX) -> np.ndarray:
    """Pixels of every sub-frame whose source frame's true motion exceeds ``threshold`` px per frame interval.

    Shape: true_motion [F, H, W, 2] (px per source frame interval) -> [F*N, H, W] bool
    """
    m = np.sqrt((np.asarray(true_motion, np.float64) ** 2).sum(-1)) > threshold  # [F, H, W]
    return np.repeat(m, n, axis=0)


# ----------------------------------------------------------------- whole comparison


def compare(
    out: np.ndarray,
    truth: np.ndarray,
    n: int,
    true_motion: np.ndarray | None = None,
    truth_motion: RunMotion | None = None,
) -> dict:
    """Every measure of an output run against the truth's.

    ``truth_motion`` is the truth's :func:`run_motion` when already known (it is
    the same for every method). Shape: out, truth [F*N, H, W, 3]; true_motion [F, H, W, 2] or None.
    """
    if out.shape != truth.shape:
        raise ValueError(f"output {out.shape} and truth {truth.shape} differ")
    rm_t = truth_motion or run_motion(truth, n)
    rm_o = run_motion(out, n)
    res = {**rm_o.to_dict(), "span_ratio": span_ratio(rm_o, rm_t), "detail": detail(out, truth)}
    if true_motion is not None:
        mask = moving_mask(true_motion, n)
        res["detail_moving"] = detail(out, truth, mask)
        res["detail_flat"] = detail(out, truth, mask & flat_mask(truth))
        res["moving_fraction"] = float(mask.mean())
    return res


def apparent_time(out_k: np.ndarray, truth_frames: np.ndarray) -> float:
    """Where in the truth an output frame sits: the fractional index of its best-matching truth frame.

    The mean squared difference to each truth frame is minimised and the
    minimum refined by a parabola through its neighbours, so a frame halfway
    between truth frames 2 and 3 gives about 2.5. A sub-frame that huddles at
    the blurred frame's middle shows an apparent time near the middle index.

    Shape: out_k [H, W, 3], truth_frames [M, H, W, 3] -> float in [0, M-1]
    """
    e = np.array([float(np.mean((np.asarray(out_k, np.float64) - t) ** 2)) for t in truth_frames])
    j = int(np.argmin(e))
    if 0 < j < len(e) - 1:
        a, b, c = e[j - 1], e[j], e[j + 1]
        den = a - 2 * b + c
        if den > 0:
            return float(j + np.clip(0.5 * (a - c) / den, -0.5, 0.5))
    return float(j)
