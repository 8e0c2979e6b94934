"""Per-pixel kernels used by the node: C++ when built, CuPy on the GPU, NumPy otherwise.

Every public function checks its inputs (:mod:`unshutter.kernels._checks`)
and then dispatches:

- CuPy arrays go to :mod:`unshutter.kernels.gpu` (all array inputs must then
  be CuPy arrays) in the kernels with a twin of the same name there (docs/gpu.md
  lists them); the others run on the host only and refuse a CuPy array with
  ``TypeError`` rather than copy it from the device;
- NumPy arrays go to ``unshutter._native`` (C++17, OpenMP, GIL released)
  when it is importable, else to :mod:`unshutter.kernels.reference`, the
  plain NumPy specification that the other two agree with.

Arrays are float32 (labels: uint8), C-contiguous, channels last; nothing is
copied or converted. A wrong type or dtype raises ``TypeError``; a wrong
number of dimensions, shape or layout, a read-only output or an impossible
parameter raises ``ValueError``.

``BACKEND`` is ``"native"`` or ``"numpy"``. The environment variable
``UNSHUTTER_KERNELS`` chooses: ``numpy`` forces the reference, ``native``
requires the C++ module (ImportError without it), ``auto`` (default) takes
native when built.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any

import numpy as np

from unshutter.kernels import _checks
from unshutter.kernels import reference as _reference

_MODE = (os.environ.get("UNSHUTTER_KERNELS", "") or "auto").strip().lower()
if _MODE not in ("auto", "native", "numpy"):
    raise ValueError(f"UNSHUTTER_KERNELS={_MODE!r}: use 'auto', 'native' or 'numpy'")

WAIT_POLICY = "PASSIVE"
"""OpenMP wait policy of the native kernels (unless ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` says otherwise).

By default libgomp's idle threads spin for a while after each parallel region and at
its end; on a busy machine a spinning thread holds the core its straggling partner
needs, and every region waits for it. The deconvolution along the motion (40 regions
per frame) of the bench's 720p pan, two threads, load average 6: 0.35 CPU seconds and
0.50 s of wall time spinning, 0.115 and 0.20 s passive (one thread: 0.11 and 0.16)."""


def _import_native() -> ModuleType:
    """``unshutter._native``, its OpenMP runtime started with :data:`WAIT_POLICY`. libgomp reads the
    environment once, when it is loaded: the variable is set for that moment only, so other libraries
    loaded later (PyTorch's own OpenMP in training) and child processes keep their defaults."""
    tuned = "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ
    if not tuned:
        os.environ["OMP_WAIT_POLICY"] = WAIT_POLICY
    try:
        return importlib.import_module("unshutter._native")
    finally:
        if not tuned:
            os.environ.pop("OMP_WAIT_POLICY", None)


_native: ModuleType | None = None
if _MODE != "numpy":
    try:
        _native = _import_native()
    except ImportError as exc:
        if _MODE == "native":
            raise ImportError(
                f"UNSHUTTER_KERNELS=native but unshutter._native is not built ({exc}); "
                "rebuild with: pip install --no-build-isolation -e ."
            ) from exc
        _native = None

BACKEND = "native" if _native is not None else "numpy"
_impl: Any = _native if _native is not None else _reference


def _newer(fn: str) -> Any:
    """The backend for a kernel newer than some builds: the reference when a stale
    ``_native`` (built before the kernel existed) lacks it, so a tree whose C++ was not
    rebuilt after an update runs slower, not broken."""
    return _impl if hasattr(_impl, fn) else _reference


def _gpu() -> ModuleType:
    from unshutter.kernels import gpu

    return gpu


def clear_cache() -> None:
    """Free the native kernels' cache of large freed output buffers (no-op without the C++ module).

    The cache (``native/pool.cpp``, up to ``UNSHUTTER_NATIVE_CACHE_MB``) saves
    page faults frame after frame, but what it holds is resident memory;
    callers about to allocate something large of their own (the decomposer's
    4K accumulator) clear it first so the two never add up.
    """
    if _native is not None:
        _native.clear_cache()


def max_threads() -> int:
    """Threads a large native kernel uses now (1 without the C++ module: NumPy's reference is serial)."""
    return int(_native.max_threads()) if _native is not None else 1


def set_max_threads(n: int) -> None:
    """Bound the native kernels' OpenMP threads in this whole process (0: no bound). See ``unshutter.threads``."""
    fn = getattr(_native, "set_max_threads", None)  # a stale build lacks it: its kernels stay unbounded
    if fn is not None:
        fn(int(n))


# ---------------------------------------------------------------- guidance


def quantize_motion(motion: np.ndarray, threshold: float) -> np.ndarray:
    """Motion vectors -> 4-quadrant sign map (Animation-from-Blur encoding).

    Pixels moving less than ``threshold`` px are static (0, 0); a component
    below a quarter of the threshold counts as zero and folds into a quadrant.
    Comparisons are in float32. See :func:`reference.quantize_motion`.

    Shape:
        motion: [H, W, 2] (x, y; y down) -> [H, W, 2] in {-1, 0, +1}
    """
    fn = "quantize_motion"
    threshold = _checks.real(fn, "threshold", threshold)
    gpu = _checks.is_cupy(motion)
    _checks.array(fn, "motion", motion, layout="[H, W, 2]", ndim=3, last=2, gpu=gpu)
    return (_gpu() if gpu else _impl).quantize_motion(motion, threshold)


def signs_to_labels(signs: np.ndarray) -> np.ndarray:
    """[H, W, 2] signs -> [H, W] uint8 labels 0 static, 1 (+,-), 2 (-,-), 3 (-,+), 4 (+,+)."""
    fn = "signs_to_labels"
    gpu = _checks.is_cupy(signs)
    _checks.array(fn, "signs", signs, layout="[H, W, 2]", ndim=3, last=2, gpu=gpu)
    return (_gpu() if gpu else _impl).signs_to_labels(signs)


def labels_to_signs(labels: np.ndarray) -> np.ndarray:
    """[H, W] labels (uint8; other integer dtypes are range-checked and converted) -> [H, W, 2] signs.

    Labels outside 0..4 raise ValueError.
    """
    fn = "labels_to_signs"
    gpu = _checks.is_cupy(labels)
    if getattr(labels, "dtype", None) is not None and labels.dtype != np.uint8:
        if labels.dtype.kind not in "ui":
            raise TypeError(f"{fn}: labels must be an integer array (uint8), got {labels.dtype}")
        if labels.size and (int(labels.min()) < 0 or int(labels.max()) > 4):
            raise ValueError(f"{fn}: labels outside 0..4")
        labels = labels.astype(np.uint8)
    _checks.array(fn, "labels", labels, layout="[H, W]", ndim=2, dtype=np.uint8, gpu=gpu)
    return (_gpu() if gpu else _impl).labels_to_signs(labels)


def clean_isolated(signs: np.ndarray) -> np.ndarray:
    """Replace pixels whose label none of their 8 neighbours share.

    The replacement is the most frequent neighbour label (lowest on ties);
    border pixels count only neighbours inside the image. The result holds
    canonical signs (those of the labels).

    Shape:
        signs: [H, W, 2] -> [H, W, 2]
    """
    fn = "clean_isolated"
    gpu = _checks.is_cupy(signs)
    _checks.array(fn, "signs", signs, layout="[H, W, 2]", ndim=3, last=2, gpu=gpu)
    return (_gpu() if gpu else _impl).clean_isolated(signs)


def composite_region(signs: np.ndarray, valid: np.ndarray, matte: np.ndarray, direction: tuple[float, float]) -> None:
    """Paint ``direction`` into ``signs`` where ``matte`` >= 0.5, and set ``valid`` to 1 there (in place).

    Shape:
        signs: [H, W, 2], valid: [H, W], matte: [H, W]
    """
    fn = "composite_region"
    gpu = _checks.same_kind(fn, signs, valid, matte)
    _checks.array(fn, "signs", signs, layout="[H, W, 2]", ndim=3, last=2, writeable=True, gpu=gpu)
    _checks.array(fn, "valid", valid, layout="[H, W]", ndim=2, writeable=True, gpu=gpu)
    _checks.array(fn, "matte", matte, layout="[H, W]", ndim=2, gpu=gpu)
    _checks.same_shape(fn, "signs [H, W, 2], valid [H, W] and matte [H, W]", signs.shape[:2], valid.shape, matte.shape)
    try:
        dx, dy = direction
    except (TypeError, ValueError):
        raise ValueError(f"{fn}: direction must be a pair (sx, sy), got {direction!r}") from None
    d = (_checks.real(fn, "direction[0]", dx), _checks.real(fn, "direction[1]", dy))
    (_gpu() if gpu else _impl).composite_region(signs, valid, matte, d)


def central_motion(fwd: np.ndarray, bwd: np.ndarray, rel: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The central difference of the flows to the next and the previous frame, their consistency and
    their miss, in one pass: the same bits as numpy's steps (:func:`reference.central_motion`), whose
    frame-sized temporaries took 72-81 ms of CPU on a 3840x2160 frame in a warm loop (the kernel 9 ms)
    and 0.33 s in a run's first frame, where each of them was faulted in.

    Shape: fwd, bwd [H, W, 2] -> motion [H, W, 2], trust [H, W], miss [H, W]
    """
    fn = "central_motion"
    _checks.array(fn, "fwd", fwd, layout="[H, W, 2]", ndim=3, last=2)
    _checks.array(fn, "bwd", bwd, layout="[H, W, 2]", ndim=3, last=2)
    _checks.same_shape(fn, "fwd and bwd", fwd.shape, bwd.shape)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        return _newer(fn).central_motion(fwd, bwd, _checks.real(fn, "rel", rel))


def smaller_eigenvalue(a: np.ndarray, b: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Smaller eigenvalue of each pixel's structure tensor ``[[a, b], [b, d]]``, at least 0, in one pass:
    the same bits as numpy's steps (:func:`reference.smaller_eigenvalue`), whose frame-sized
    temporaries were most of ``dominant.texture``'s own arithmetic at 4K.

    Shape: a, b, d [H, W] -> [H, W]
    """
    fn = "smaller_eigenvalue"
    for name, x in (("a", a), ("b", b), ("d", d)):
        _checks.array(fn, name, x, layout="[H, W]", ndim=2)
    _checks.same_shape(fn, "a and b", a.shape, b.shape)
    _checks.same_shape(fn, "a and d", a.shape, d.shape)
    with np.errstate(invalid="ignore", over="ignore"):
        return _newer(fn).smaller_eigenvalue(a, b, d)


def guidance_planes(signs: np.ndarray, expo: np.ndarray, scale: float) -> np.ndarray:
    """The guidance tensor of known motion, channels (sx, sy, 1, ex / scale, ey / scale, 1), written in one
    pass: the same bits as numpy's six strided channel writes (:func:`reference.guidance_planes`).

    Shape: signs, expo [H, W, 2] -> [H, W, 6]
    """
    fn = "guidance_planes"
    _checks.array(fn, "signs", signs, layout="[H, W, 2]", ndim=3, last=2)
    _checks.array(fn, "expo", expo, layout="[H, W, 2]", ndim=3, last=2)
    _checks.same_shape(fn, "signs and expo", signs.shape, expo.shape)
    scale = _checks.real(fn, "scale", scale)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        return _newer(fn).guidance_planes(signs, expo, scale)


def _affine(fn: str, affine: np.ndarray) -> None:
    _checks.array(fn, "affine", affine, layout="[2, 3]", ndim=2, dtype=np.float64)
    _checks.same_shape(fn, "affine's shape and [2, 3]", affine.shape, (2, 3))


def affine_gate(coarse: np.ndarray, affine: np.ndarray, rel: float, floor: float) -> np.ndarray:
    """``-|coarse - fit|^2 / max(floor^2, rel^2 |fit|^2)``, the fit ``affine``'s motion (``A (x, y, 1) - (x, y)``)
    computed per pixel rather than stored: the same bits as numpy's steps over the stored field
    (:func:`reference.affine_gate`).

    Shape: coarse [H, W, 2], affine [2, 3] float64 -> [H, W]
    """
    fn = "affine_gate"
    _checks.array(fn, "coarse", coarse, layout="[H, W, 2]", ndim=3, last=2)
    _affine(fn, affine)
    rel, floor = _checks.real(fn, "rel", rel), _checks.real(fn, "floor", floor)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        return _newer(fn).affine_gate(coarse, affine, rel, floor)


def affine_fill(
    motion: np.ndarray,
    trust: np.ndarray,
    tex: np.ndarray,
    gate: np.ndarray | None,
    affine: np.ndarray,
    half: float,
    share: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Motion and trust moved toward the affine fit's motion and ``share`` by ``half / (tex + half)``
    (times ``gate`` when given) in one pass: the same bits as numpy's steps (:func:`reference.affine_fill`).

    Shape: motion [H, W, 2], trust, tex, gate [H, W], affine [2, 3] float64 -> [H, W, 2], [H, W]
    """
    fn = "affine_fill"
    _checks.array(fn, "motion", motion, layout="[H, W, 2]", ndim=3, last=2)
    for name, x in (("trust", trust), ("tex", tex)) + ((("gate", gate),) if gate is not None else ()):
        _checks.array(fn, name, x, layout="[H, W]", ndim=2)
        _checks.same_shape(fn, f"motion's [H, W] and {name}", motion.shape[:2], x.shape)
    _affine(fn, affine)
    half, share = _checks.real(fn, "half", half), _checks.real(fn, "share", share)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        return _newer(fn).affine_fill(motion, trust, tex, gate, affine, half, share)


# ---------------------------------------------------------------- tiling


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of length ``tile`` covering ``size`` with >= ``overlap`` (pure Python)."""
    fn = "tile_starts"
    size = _checks.integer(fn, "size", size, 0)
    tile = _checks.integer(fn, "tile", tile, 1)
    overlap = _checks.integer(fn, "overlap", overlap, 0)
    return _reference.tile_starts(size, tile, overlap)


def feather_weight(h: int, w: int, overlap: int, top: bool, bottom: bool, left: bool, right: bool) -> np.ndarray:
    """Blend weight of one tile: a linear ramp (i + 0.5) / overlap on inner edges (flags True).

    Shape:
        -> [h, w] float32 (NumPy; :func:`unshutter.kernels.gpu.feather_weight` for CuPy)
    """
    fn = "feather_weight"
    h = _checks.integer(fn, "h", h, 0)
    w = _checks.integer(fn, "w", w, 0)
    overlap = _checks.integer(fn, "overlap", overlap)
    return _impl.feather_weight(h, w, overlap, bool(top), bool(bottom), bool(left), bool(right))


def accumulate_tile(
    acc: np.ndarray, wsum: np.ndarray, tile_out: np.ndarray, weight: np.ndarray, y0: int, x0: int
) -> None:
    """acc[y0:y0+h, x0:x0+w] += tile_out * weight; wsum[...] += weight (in place).

    The tile must lie inside the frame.

    Shape:
        acc: [H, W, C], wsum: [H, W], tile_out: [h, w, C], weight: [h, w]
    """
    fn = "accumulate_tile"
    gpu = _checks.same_kind(fn, acc, wsum, tile_out, weight)
    _checks.array(fn, "acc", acc, layout="[H, W, C]", ndim=3, writeable=True, gpu=gpu)
    _checks.array(fn, "wsum", wsum, layout="[H, W]", ndim=2, writeable=True, gpu=gpu)
    _checks.array(fn, "tile_out", tile_out, layout="[h, w, C]", ndim=3, gpu=gpu)
    _checks.array(fn, "weight", weight, layout="[h, w]", ndim=2, gpu=gpu)
    _checks.same_shape(fn, "acc [H, W, C] and wsum [H, W]", acc.shape[:2], wsum.shape)
    _checks.same_shape(fn, "tile_out [h, w, C] and weight [h, w]", tile_out.shape[:2], weight.shape)
    if tile_out.shape[2] != acc.shape[2]:
        raise ValueError(f"{fn}: tile_out has {tile_out.shape[2]} channels, acc {acc.shape[2]}")
    y0 = _checks.integer(fn, "y0", y0, 0)
    x0 = _checks.integer(fn, "x0", x0, 0)
    h, w = weight.shape
    if y0 + h > acc.shape[0] or x0 + w > acc.shape[1]:
        raise ValueError(f"{fn}: tile {h}x{w} at y0={y0}, x0={x0} lies outside the {acc.shape[0]}x{acc.shape[1]} frame")
    (_gpu() if gpu else _impl).accumulate_tile(acc, wsum, tile_out, weight, y0, x0)


def normalize_accumulated(acc: np.ndarray, wsum: np.ndarray) -> np.ndarray:
    """acc / max(wsum, 1e-12). Shape: [H, W, C], [H, W] -> [H, W, C]."""
    fn = "normalize_accumulated"
    gpu = _checks.same_kind(fn, acc, wsum)
    _checks.array(fn, "acc", acc, layout="[H, W, C]", ndim=3, gpu=gpu)
    _checks.array(fn, "wsum", wsum, layout="[H, W]", ndim=2, gpu=gpu)
    _checks.same_shape(fn, "acc [H, W, C] and wsum [H, W]", acc.shape[:2], wsum.shape)
    return (_gpu() if gpu else _impl).normalize_accumulated(acc, wsum)


# ---------------------------------------------------------------- retime


def resample_subframes(sub: np.ndarray, n: int) -> np.ndarray:
    """K sub-frames at slice middles -> N sub-frames at slice middles (linear in time).

    Shape:
        sub: [K, H, W, C] -> [N, H, W, C]
    """
    fn = "resample_subframes"
    n = _checks.integer(fn, "n", n, 1)
    gpu = _checks.is_cupy(sub)
    _checks.array(fn, "sub", sub, layout="[K, H, W, C]", ndim=4, gpu=gpu)
    if sub.shape[0] < 1:
        raise ValueError(f"{fn}: sub has no sub-frames (shape {tuple(sub.shape)})")
    return (_gpu() if gpu else _impl).resample_subframes(sub, n)


def reblur_project(sub: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Shift all sub-frames equally so their mean equals ``target`` (mean taken in float64).

    Shape:
        sub: [N, H, W, C], target: [H, W, C] -> [N, H, W, C]
    """
    fn = "reblur_project"
    gpu = _checks.same_kind(fn, sub, target)
    _checks.array(fn, "sub", sub, layout="[N, H, W, C]", ndim=4, gpu=gpu)
    _checks.array(fn, "target", target, layout="[H, W, C]", ndim=3, gpu=gpu)
    if sub.shape[0] < 1:
        raise ValueError(f"{fn}: sub has no sub-frames (shape {tuple(sub.shape)})")
    _checks.same_shape(fn, "each sub-frame and target", sub.shape[1:], target.shape)
    return (_gpu() if gpu else _impl).reblur_project(sub, target)


def reblur_keep_range(sub: np.ndarray, target: np.ndarray, ceiling: float | None, clamp: bool) -> None:
    """:func:`reblur_project` in place, then with ``clamp`` every pixel channel with a sub-frame outside
    [0, ``ceiling``] (no top without one) brought into it where its mean allows, the mean kept
    (:func:`reference.clamp_keep_mean`, to the bit). One pass over the sub-frames, no temporaries: the
    numpy steps took 0.07 CPU s per 1280x720 frame of seven sub-frames.

    Shape: sub [N, H, W, C] (C-contiguous, writeable), target [H, W, C]; in place
    """
    fn = "reblur_keep_range"
    _checks.array(fn, "sub", sub, layout="[N, H, W, C]", ndim=4, writeable=True)
    _checks.array(fn, "target", target, layout="[H, W, C]", ndim=3)
    if sub.shape[0] < 1:
        raise ValueError(f"{fn}: sub has no sub-frames (shape {tuple(sub.shape)})")
    _checks.same_shape(fn, "each sub-frame and target", sub.shape[1:], target.shape)
    hi = None if ceiling is None else float(np.float32(ceiling))
    with np.errstate(invalid="ignore", over="ignore"):
        _newer(fn).reblur_keep_range(sub, target, hi, bool(clamp))


def lean_toward(sub: np.ndarray, moved: np.ndarray, weight: np.ndarray) -> None:
    """``sub += (moved - sub) * weight`` in place, each pixel's weight for all its channels: a band of
    sub-frames leaning toward a frame carried to their time (the follow, the neighbours' blend). One
    pass where numpy made three over the band, the same bits (:func:`reference.lean_toward`).

    Shape: sub [H, W, C] (C-contiguous, writeable), moved [H, W, C], weight [H, W] or [H, W, 1]
    """
    fn = "lean_toward"
    _checks.array(fn, "sub", sub, layout="[H, W, C]", ndim=3, writeable=True)
    _checks.array(fn, "moved", moved, layout="[H, W, C]", ndim=3)
    _checks.array(fn, "weight", weight, layout="[H, W]")
    _checks.same_shape(fn, "moved and sub", moved.shape, sub.shape)
    if weight.shape not in (sub.shape[:2], sub.shape[:2] + (1,)):
        raise ValueError(f"{fn}: weight {tuple(weight.shape)} must be [H, W] or [H, W, 1] for sub {tuple(sub.shape)}")
    with np.errstate(invalid="ignore", over="ignore"):
        _newer(fn).lean_toward(sub, moved, weight)


# ---------------------------------------------------------------- warp


def flow_warp(src: np.ndarray, motion: np.ndarray, k: int) -> np.ndarray:
    """The K backward warps of ``src`` by ``t_i`` times the exposure motion (bilinear, border clamped).

    The warps the decomposer's split contract takes as input
    (:mod:`unshutter.decomposer.contract`); planar, the network's layout.
    See :func:`reference.flow_warp`.

    Shape:
        src: [C, H, W], motion: [2, H, W] (pixels over the exposure) -> [K, C, H, W]
    """
    fn = "flow_warp"
    k = _checks.integer(fn, "k", k, 1)
    gpu = _checks.same_kind(fn, src, motion)
    _checks.array(fn, "src", src, layout="[C, H, W]", ndim=3, gpu=gpu)
    _checks.array(fn, "motion", motion, layout="[2, H, W]", ndim=3, gpu=gpu)
    _checks.same_shape(fn, "motion [2, H, W] and src [C, H, W]", tuple(motion.shape), (2,) + tuple(src.shape[1:]))
    return (_gpu() if gpu else _newer("flow_warp")).flow_warp(src, motion, k)


def warp_blend(res: np.ndarray, base: np.ndarray, sharp: np.ndarray, motion: np.ndarray, gate: np.ndarray) -> None:
    """Sub-frames from the split model's outputs, in place:
    ``res[i] = base + gate[i] * (flow_warp(sharp)[i] - base) + res[i]``.

    Shape:
        res: [K, C, H, W], base/sharp: [C, H, W], motion: [2, H, W], gate: [K, H, W]
    """
    fn = "warp_blend"
    gpu = _checks.same_kind(fn, res, base, sharp, motion, gate)
    _checks.array(fn, "res", res, layout="[K, C, H, W]", ndim=4, writeable=True, gpu=gpu)
    _checks.array(fn, "base", base, layout="[C, H, W]", ndim=3, gpu=gpu)
    _checks.array(fn, "sharp", sharp, layout="[C, H, W]", ndim=3, gpu=gpu)
    _checks.array(fn, "motion", motion, layout="[2, H, W]", ndim=3, gpu=gpu)
    _checks.array(fn, "gate", gate, layout="[K, H, W]", ndim=3, gpu=gpu)
    k, c, h, w = res.shape
    _checks.same_shape(fn, "base [C, H, W] and each sub-frame of res", tuple(base.shape), (c, h, w))
    _checks.same_shape(fn, "sharp [C, H, W] and each sub-frame of res", tuple(sharp.shape), (c, h, w))
    _checks.same_shape(fn, "motion [2, H, W]", tuple(motion.shape), (2, h, w))
    _checks.same_shape(fn, "gate [K, H, W]", tuple(gate.shape), (k, h, w))
    (_gpu() if gpu else _newer("warp_blend")).warp_blend(res, base, sharp, motion, gate)


# ---------------------------------------------------------------- deblur


def _deblur_checks(fn: str, img: np.ndarray, motion: np.ndarray, span: Any, spacing: Any, max_taps: Any) -> tuple:
    _checks.array(fn, "motion", motion, layout="[H, W, 2]", ndim=3, last=2)
    _checks.same_shape(fn, "motion [H, W, 2] and the frame [H, W, C]", tuple(motion.shape[:2]), tuple(img.shape[:2]))
    if not 1 <= img.shape[2] <= 16:
        raise ValueError(f"{fn}: the frame must have 1 to 16 channels, got shape {tuple(img.shape)}")
    span = _checks.real(fn, "span", span)
    spacing = _checks.real(fn, "spacing", spacing)
    if not (0.0 < span <= 1.0):
        raise ValueError(f"{fn}: span must be in (0, 1] frame intervals, got {span}")
    if not (spacing > 0.0 and np.isfinite(spacing)):
        raise ValueError(f"{fn}: spacing must be a positive number of pixels, got {spacing}")
    max_taps = _checks.integer(fn, "max_taps", max_taps, 1)
    if max_taps > 1024:
        raise ValueError(f"{fn}: max_taps must be at most 1024, got {max_taps}")
    return span, spacing, max_taps


def motion_blur(
    img: np.ndarray, motion: np.ndarray, span: float, spacing: float, max_taps: int, adjoint: bool = False
) -> np.ndarray:
    """The blur a per-pixel motion makes over an exposure of ``span`` frame intervals (see
    :func:`reference.motion_blur`).

    Shape: img [H, W, C], motion [H, W, 2] px per frame interval -> [H, W, C]
    """
    fn = "motion_blur"
    _checks.array(fn, "img", img, layout="[H, W, C]", ndim=3)
    span, spacing, max_taps = _deblur_checks(fn, img, motion, span, spacing, max_taps)
    return _newer(fn).motion_blur(img, motion, span, spacing, max_taps, bool(adjoint))


def deblur_motion(
    start: np.ndarray,
    blurred: np.ndarray,
    motion: np.ndarray,
    span: float,
    iterations: int,
    spacing: float,
    max_taps: int,
) -> np.ndarray:
    """Richardson-Lucy deconvolution of ``blurred`` along the motion, from ``start`` (see
    :func:`reference.deblur_motion`).

    Shape: start, blurred [H, W, C], motion [H, W, 2] px per frame interval -> [H, W, C]
    """
    fn = "deblur_motion"
    _checks.array(fn, "start", start, layout="[H, W, C]", ndim=3)
    _checks.array(fn, "blurred", blurred, layout="[H, W, C]", ndim=3)
    _checks.same_shape(fn, "start and blurred", tuple(start.shape), tuple(blurred.shape))
    span, spacing, max_taps = _deblur_checks(fn, start, motion, span, spacing, max_taps)
    iterations = _checks.integer(fn, "iterations", iterations, 0)
    return _newer(fn).deblur_motion(start, blurred, motion, span, iterations, spacing, max_taps)


# ---------------------------------------------------------------- transfer


def _transfer(fn: str, x: np.ndarray) -> np.ndarray:
    gpu = _checks.is_cupy(x)
    _checks.array(fn, "x", x, gpu=gpu)
    return getattr(_gpu() if gpu else _impl, fn)(x)


def srgb_encode(x: np.ndarray) -> np.ndarray:
    """Scene-linear -> sRGB OETF, extended: odd-symmetric below 0, power law above 1. Any shape."""
    return _transfer("srgb_encode", x)


def srgb_decode(y: np.ndarray) -> np.ndarray:
    """Inverse of :func:`srgb_encode`. Any shape."""
    return _transfer("srgb_decode", y)


def srgb_decode_channels_last(planar: np.ndarray, h: int, w: int, scale: float) -> np.ndarray:
    """Sub-frames in the network's planar layout -> scene-linear, cropped to ``h`` x ``w``, channels last:
    ``srgb_decode(planar[:, :, :h, :w]).transpose(0, 2, 3, 1) * scale`` (no product at scale 1), the
    same bits as those steps one after another, in one pass instead of three (the layout change,
    the decode into a new array, its copy back). Seven 1280x720 sub-frames on one thread: 41.5 ms
    of CPU against 51-58 (the decode's arithmetic is most of it).

    Shape: planar [K, C, Hp, Wp] (C at most 4), h <= Hp, w <= Wp -> [K, h, w, C]
    """
    fn = "srgb_decode_channels_last"
    _checks.array(fn, "planar", planar, layout="[K, C, H, W]", ndim=4)
    h, w = _checks.integer(fn, "h", h, 0), _checks.integer(fn, "w", w, 0)
    if not 1 <= planar.shape[1] <= 4 or h > planar.shape[2] or w > planar.shape[3]:
        raise ValueError(f"{fn}: planar {tuple(planar.shape)} must have 1 to 4 channels and at least {h} x {w} px")
    return _newer(fn).srgb_decode_channels_last(planar, h, w, float(np.float32(scale)))


def rec709_encode(x: np.ndarray) -> np.ndarray:
    """Scene-linear -> Rec.709 OETF, extended odd-symmetric and above 1. Any shape."""
    return _transfer("rec709_encode", x)


def rec709_decode(y: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rec709_encode`. Any shape."""
    return _transfer("rec709_decode", y)


def log_encode(x: np.ndarray) -> np.ndarray:
    """Scene-linear HDR -> [0, 1]: log2(1 + 255 x) / 8, mirrored below 0. Any shape."""
    return _transfer("log_encode", x)


def log_decode(y: np.ndarray) -> np.ndarray:
    """Inverse of :func:`log_encode`. Any shape."""
    return _transfer("log_decode", y)


# ---------------------------------------------------------------- processor state


def zero_upper() -> None:
    """Clear the upper halves of the vector registers (VZEROUPPER) on this thread, where the CPU has AVX.

    A library's AVX code that returns without it (ISA-L's deflate, which compresses the PNGs) makes
    every later legacy-SSE instruction of the thread slow: OpenColorIO's sRGB curve on the PNG writer
    threads took 30 instead of 11 ms per 1280x720 sub-frame. A no-op without the C++ module or AVX.
    """
    if hasattr(_impl, "zero_upper"):
        _impl.zero_upper()


# ---------------------------------------------------------------- half


def to_half(x: np.ndarray) -> np.ndarray:
    """``x.astype(np.float16)``, the same bits, by the processor where it can (F16C).

    numpy converts in software, 25 times slower for values that become half
    subnormals (below 2^-14: a near-zero motion component); a 1280x720 guidance
    with 16% of them took 100 ms.

    Shape: [...] float32 -> [...] float16
    """
    _checks.array("to_half", "x", x)
    return np.asarray(_newer("to_half").to_half(x)).view(np.float16)


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
    """Write each sorted pixel's ``src`` where it lands after ``t`` (in place, in order: the last write to
    a pixel stays; :meth:`unshutter.travel.Warper.at`). The landing is numpy's, to the bit: the nearest
    pixel (half to even) to position + t * motion in float32; pixels landing outside are skipped.

    Shape: px, py [M] uint16, mx, my [M] float32, src [M] int32, pairs [h * w] int32
    """
    _checks.host("land_motion", px=px, py=py, mx=mx, my=my, src=src, pairs=pairs)
    with np.errstate(invalid="ignore"):
        _newer("land_motion").land_motion(px, py, mx, my, src, float(np.float32(t)), int(w), int(h), pairs)


def sort_landings(
    motion: np.ndarray, priority: np.ndarray | None, pairs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pixels in ascending landing priority, as :func:`reference.sort_landings` (the same order and values):
    one counting sort instead of numpy's keys, radix argsort and five gathers (a 720p sort: 18-25 -> 12-20 ms).

    Shape: motion [H, W, 2] float32, priority [H, W] or None, pairs [H * W] int32 -> [H * W] each
    """
    _checks.host("sort_landings", motion=motion, priority=priority, pairs=pairs)
    motion = np.ascontiguousarray(motion, np.float32)
    h, w = motion.shape[:2]
    fn = getattr(_impl, "sort_landings", None)
    if fn is _reference.sort_landings or fn is None or max(h, w) > np.iinfo(np.uint16).max:
        return _reference.sort_landings(motion, priority, pairs)
    trust = np.empty((0, 0), np.float32) if priority is None else np.ascontiguousarray(priority, np.float32)
    return tuple(fn(motion, trust, np.ascontiguousarray(pairs, np.int32)))


def warp_maps(field: np.ndarray, t: float, y0: int) -> np.ndarray:
    """The coordinates :func:`cv2.remap` reads for a backward warp by ``t`` along ``field``, rows
    ``y0`` on: x - t * m_x and y - t * m_y, each a float32 product and a float32 sum (numpy's
    values, to the bit). The processor converts the half field (F16C): numpy's conversion took as
    long as the remap itself.

    Shape: field [R, W, 2] float16 (C-contiguous) -> [2, R, W] float32 (x maps, y maps)
    """
    _checks.host("warp_maps", field=field)
    bits = np.ascontiguousarray(field).view(np.uint16)
    return np.asarray(_newer("warp_maps").warp_maps(bits, float(np.float32(t)), float(y0)))


def close_lattice(field: np.ndarray, rel: float) -> None:
    """Single pixels of a slower motion between two agreeing pixels of a faster one (on a line: horizontal,
    vertical or diagonal) take the faster's mean motion, in place (:meth:`unshutter.travel.Warper.at`;
    ``reference.close_lattice`` is the specification, to the bit).

    Shape: field [H, W, 2] float16 (C-contiguous, writeable), in place
    """
    _checks.host("close_lattice", field=field)
    if field.dtype != np.float16:
        raise TypeError(f"close_lattice: field must be float16, got {field.dtype}")
    if field.ndim != 3 or field.shape[2] != 2 or not field.flags.c_contiguous:
        raise ValueError("close_lattice: field must be a C-contiguous [H, W, 2] array")
    _newer("close_lattice").close_lattice(field.view(np.uint16), float(np.float32(rel)))


__all__ = [
    "close_lattice",
    "BACKEND",
    "accumulate_tile",
    "affine_fill",
    "affine_gate",
    "central_motion",
    "guidance_planes",
    "clean_isolated",
    "clear_cache",
    "composite_region",
    "deblur_motion",
    "feather_weight",
    "flow_warp",
    "labels_to_signs",
    "lean_toward",
    "log_decode",
    "log_encode",
    "motion_blur",
    "normalize_accumulated",
    "quantize_motion",
    "reblur_keep_range",
    "reblur_project",
    "rec709_decode",
    "rec709_encode",
    "resample_subframes",
    "signs_to_labels",
    "smaller_eigenvalue",
    "sort_landings",
    "srgb_decode",
    "srgb_decode_channels_last",
    "srgb_encode",
    "tile_starts",
    "to_half",
    "warp_maps",
    "land_motion",
    "warp_blend",
    "zero_upper",
]
