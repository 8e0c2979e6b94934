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


def run(args: argparse.Namespace) -> int:
    from unshutter.node import Node, NodeParams

    w, h = (int(v) for v in args.size.lower().split("x"))
    node = Node(NodeParams(factor=args.factor, tile=args.tile, quality=args.quality), model_path=args.model)
    prev, cur, nxt = _frames(w, h)
    node.process(1, cur, prev, nxt)  # warm-up
    t_guid = t_dec = t_all = 0.0
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        scale = color.exposure_scale(cur)
        enc = color.to_network(cur, scale)
        g, _ = node.guidance_for(1, enc, color.to_network(prev, scale), color.to_network(nxt, scale))
        t1 = time.perf_counter()
        node._decompose(enc, g, None)
        t2 = time.perf_counter()
        node.process(1, cur, prev, nxt)
        t3 = time.perf_counter()
        t_guid += t1 - t0
        t_dec += t2 - t1
        t_all += t3 - t2
    n = args.repeat
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    row = {"size": f"{w}x{h}", "factor": args.factor, "tile": args.tile, "quality": args.quality,
           "provider": node.decomposer.info.provider, "seconds_per_frame": round(t_all / n, 3),
           "guidance_s": round(t_guid / n, 3), "decompose_s": round(t_dec / n, 3),
           "other_s": round((t_all - t_guid - t_dec) / n, 3), "peak_rss_mb": round(peak_mb, 1)}
    if args.json:
        print(json.dumps(row))
    else:
        for k, v in row.items():
            print(f"{k:>18}: {v}")
    return 0
