"""``unshutter bench native``: each native kernel against its NumPy reference.

For every per-pixel kernel of :mod:`unshutter.kernels`, times the native path
(through the public, checked function the node calls) and the plain NumPy
reference on the same synthetic frame (3840x2160 unless told), best of
``--repeat`` runs each, and prints both times and their ratio. With
``--json`` it prints one JSON object per line: ``kernel``, ``native_s``,
``numpy_s``, ``speedup``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import time
from typing import Any, Callable

import numpy as np

from unshutter import kernels
from unshutter.kernels import reference

F32 = np.float32
TILE_OVERLAP = 32


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", default="3840x2160", help="WxH of the frame (default 3840x2160)")
    p.add_argument("--subframes", type=int, default=7, help="K sub-frames from the decomposer (default 7)")
    p.add_argument("--factor", type=int, default=8, help="N output sub-frames for resample/reblur (default 8)")
    p.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs per path at least (short kernels get more); the best is kept (default 3)",
    )
    p.add_argument("--kernels", help="comma-separated subset of kernels to run (default: all)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size {text!r}: expected WxH, e.g. 3840x2160") from None
    if w < 1 or h < 1:
        raise ValueError(f"--size {text!r}: width and height must be >= 1")
    return w, h


def _cases(w: int, h: int, k: int, n: int) -> dict[str, tuple[Callable[[Any], Any], Callable[[], tuple]]]:
    """kernel name -> (call(module, *args), make_args()). Arguments are built once per path."""
    rng = np.random.default_rng(0)

    def smooth(c: int, scale: float) -> np.ndarray:
        # blocky low-resolution field plus noise: flow-like, with some isolated pixels
        lo = rng.standard_normal(((h + 15) // 16, (w + 15) // 16, c)).astype(F32) * F32(scale)
        big = np.repeat(np.repeat(lo, 16, 0), 16, 1)[:h, :w]
        return np.ascontiguousarray(big + rng.standard_normal((h, w, c)).astype(F32) * F32(0.1 * scale))

    motion = smooth(2, 3.0)
    signs = reference.quantize_motion(motion, 1.0)
    labels = reference.signs_to_labels(signs)
    matte = smooth(1, 1.0)[..., 0] + F32(0.5)
    linear = np.abs(smooth(3, 1.0))  # scene-linear, HDR up to ~4
    encoded = reference.srgb_encode(linear)
    sub_k = rng.random((k, h, w, 3), dtype=F32)
    sub_n = rng.random((n, h, w, 3), dtype=F32)
    weight = reference.feather_weight(h, w, TILE_OVERLAP, True, True, True, True)
    acc = rng.random((h, w, 3), dtype=F32)
    wsum = weight + F32(0.5)

    def same(*arrays: Any) -> Callable[[], tuple]:
        return lambda: arrays

    return {
        "quantize_motion": (lambda m, *a: m.quantize_motion(*a), same(motion, 1.0)),
        "signs_to_labels": (lambda m, *a: m.signs_to_labels(*a), same(signs)),
        "labels_to_signs": (lambda m, *a: m.labels_to_signs(*a), same(labels)),
        "clean_isolated": (lambda m, *a: m.clean_isolated(*a), same(signs)),
        "composite_region": (
            lambda m, *a: m.composite_region(*a),
            lambda: (signs.copy(), np.zeros((h, w), F32), matte, (1.0, -1.0)),
        ),
        "feather_weight": (
            lambda m, *a: m.feather_weight(*a),
            same(h, w, TILE_OVERLAP, True, True, True, True),
        ),
        "accumulate_tile": (
            lambda m, *a: m.accumulate_tile(*a),
            lambda: (np.zeros((h, w, 3), F32), np.zeros((h, w), F32), linear, weight, 0, 0),
        ),
        "normalize_accumulated": (lambda m, *a: m.normalize_accumulated(*a), same(acc, wsum)),
        "resample_subframes": (lambda m, *a: m.resample_subframes(*a), same(sub_k, n)),
        "reblur_project": (lambda m, *a: m.reblur_project(*a), same(sub_n, linear)),
        "srgb_encode": (lambda m, *a: m.srgb_encode(*a), same(linear)),
        "srgb_decode": (lambda m, *a: m.srgb_decode(*a), same(encoded)),
        "rec709_encode": (lambda m, *a: m.rec709_encode(*a), same(linear)),
        "rec709_decode": (lambda m, *a: m.rec709_decode(*a), same(encoded)),
        "log_encode": (lambda m, *a: m.log_encode(*a), same(linear)),
        "log_decode": (lambda m, *a: m.log_decode(*a), same(encoded)),
    }


def _best_pair(native: Callable[[], Any], numpy: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Best wall time of each path; runs alternate so both see the same machine load.

    Short kernels get more runs (up to 50 pairs, within about 3 s), so one
    scheduling hiccup of a busy machine does not decide them.
    """
    best = [float("inf"), float("inf")]
    spent = 0.0
    runs = 0
    while runs < repeat or (runs < 50 and spent < 3.0):
        for i, call in enumerate((native, numpy)):
            t0 = time.perf_counter()
            out = call()
            dt = time.perf_counter() - t0
            best[i] = min(best[i], dt)
            spent += dt
            del out
        runs += 1
    return best[0], best[1]


def run(args: argparse.Namespace) -> int:
    if kernels.BACKEND != "native":
        reason = "UNSHUTTER_KERNELS=numpy" if os.environ.get("UNSHUTTER_KERNELS") else "unshutter._native is not built"
        print(
            f"unshutter bench native: native kernels unavailable ({reason}); "
            "build with: pip install --no-build-isolation -e ."
        )
        return 1
    try:
        w, h = _size(args.size)
        if args.subframes < 1 or args.factor < 1 or args.repeat < 1:
            raise ValueError("--subframes, --factor and --repeat must be >= 1")
        cases = _cases(w, h, args.subframes, args.factor)
        names = list(cases)
        if args.kernels:
            names = [s.strip() for s in args.kernels.split(",") if s.strip()]
            unknown = [s for s in names if s not in cases]
            if unknown:
                raise ValueError(f"--kernels: unknown {', '.join(unknown)}; choose from {', '.join(cases)}")
    except ValueError as exc:
        print(f"unshutter bench native: {exc}")
        return 2

    _native = importlib.import_module("unshutter._native")

    if not args.json:
        print(
            f"native kernels vs NumPy reference at {w}x{h}, K={args.subframes}, N={args.factor}, "
            f"{_native.max_threads()} threads on {os.cpu_count()} cores, best of >= {args.repeat} alternating runs"
        )
        print(f"{'kernel':24s} {'native_s':>10s} {'numpy_s':>10s} {'speedup':>8s}")
    for name in names:
        call, make_args = cases[name]
        a_native = make_args()
        a_numpy = make_args()
        call(kernels, *a_native)  # warm-up (first-use dispatch, page faults of the inputs)
        with np.errstate(all="ignore"):
            t_native, t_numpy = _best_pair(
                lambda: call(kernels, *a_native), lambda: call(reference, *a_numpy), args.repeat
            )
        speedup = t_numpy / t_native if t_native > 0 else float("inf")
        if args.json:
            print(
                json.dumps(
                    {
                        "kernel": name,
                        "native_s": round(t_native, 6),
                        "numpy_s": round(t_numpy, 6),
                        "speedup": round(speedup, 2),
                    }
                ),
                flush=True,
            )
        else:
            print(f"{name:24s} {t_native:10.4f} {t_numpy:10.4f} {speedup:7.1f}x", flush=True)
    return 0
