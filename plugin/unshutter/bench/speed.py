"""``unshutter bench speed``: seconds per source frame of the whole node, and peak memory.

Frames are synthetic pans over a textured image at the requested size, so the
benchmark needs no data files; the numbers are time per stage on this machine.
"""
from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np

from unshutter import color


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", default="1280x720", help="WxH of the frames (default 1280x720)")
    p.add_argument("--factor", type=int, default=7)
    p.add_argument("--tile", type=int, default=1024)
    p.add_argument("--quality", choices=("full", "draft"), default="full")
    p.add_argument("--repeat", type=int, default=3, help="frames to time (after one warm-up)")
    p.add_argument("--model", help="decomposer model (default: shipped)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _frames(w: int, h: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    base = rng.random((h // 8 + 8, w // 8 + 8, 3)).astype(np.float32)
    import cv2

    big = cv2.resize(base, (w + 64, h + 64), interpolation=cv2.INTER_CUBIC)
    return [np.ascontiguousarray(big[16:16 + h, 16 + 6 * i:16 + 6 * i + w]) for i in range(3)]


def _peak_mb() -> float:
    """Peak resident memory of this process since the last reset (Linux VmHWM), in MB."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _reset_peak() -> None:
    """Reset the process's peak to its current resident size (Linux ``clear_refs`` 5).

    Each stage's peak is then the whole process's peak during that stage: the
    clip's three frames, the model and its arena included, nothing from earlier
    stages. Where the reset is unavailable the stage peaks are the process peak.
    """
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        pass


def run(args: argparse.Namespace) -> int:
    from unshutter.node import Node, NodeParams

    w, h = (int(v) for v in args.size.lower().split("x"))
    node = Node(NodeParams(factor=args.factor, tile=args.tile, quality=args.quality), model_path=args.model)
    prev, cur, nxt = _frames(w, h)
    node.process(1, cur, prev, nxt)  # warm-up
    t_guid = t_dec = t_all = 0.0
    peak_dec = peak_node = 0.0
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        scale = color.exposure_scale(cur)
        enc = color.to_network(cur, scale)
        g, _ = node.guidance_for(1, enc, color.to_network(prev, scale), color.to_network(nxt, scale))
        t1 = time.perf_counter()
        _reset_peak()
        node._decompose(enc, g, None)
        peak_dec = max(peak_dec, _peak_mb())
        t2 = time.perf_counter()
        del enc, g
        _reset_peak()
        node.process(1, cur, prev, nxt)
        peak_node = max(peak_node, _peak_mb())
        t3 = time.perf_counter()
        t_guid += t1 - t0
        t_dec += t2 - t1
        t_all += t3 - t2
    n = args.repeat
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    row = {"size": f"{w}x{h}", "factor": args.factor, "tile": args.tile, "quality": args.quality,
           "provider": node.decomposer.info.provider, "seconds_per_frame": round(t_all / n, 3),
           "guidance_s": round(t_guid / n, 3), "decompose_s": round(t_dec / n, 3),
           "other_s": round((t_all - t_guid - t_dec) / n, 3), "peak_rss_mb": round(peak_mb, 1),
           "decompose_peak_mb": round(peak_dec, 1) if peak_dec else None,
           "node_peak_mb": round(peak_node, 1) if peak_node else None}
    if args.json:
        print(json.dumps(row))
    else:
        for k, v in row.items():
            print(f"{k:>18}: {v}")
    return 0
