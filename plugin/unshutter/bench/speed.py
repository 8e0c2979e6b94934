"""``unshutter bench speed``: seconds per source frame by stage, throughput and peak memory.

A generated half-float EXR clip (a pan over a smooth random texture) at the
requested size is processed the way ``unshutter run`` does it: read, then
:meth:`Node.process` itself (flow: guidance from both neighbours; decompose;
resample: to linear, retime with the reblur projection), then write the N
sub-frames as EXR. Stage peaks are the
whole process's resident memory during that stage (Linux ``VmHWM``).
"""
from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", default="1280x720", help="WxH of the frames (default 1280x720)")
    p.add_argument("--factor", type=int, default=7)
    p.add_argument("--tile", type=int, default=768, help="largest tile side (default 768, as the node)")
    p.add_argument("--quality", choices=("full", "draft"), default="full")
    p.add_argument("--repeat", type=int, default=3, help="frames to time (after one warm-up)")
    p.add_argument("--model", help="decomposer model (default: shipped)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _frames(w: int, h: int, count: int = 3) -> list[np.ndarray]:
    """A pan over a smooth random texture, 6 px per frame. Shape: -> count x [h, w, 3] float32."""
    import cv2

    rng = np.random.default_rng(0)
    base = rng.random((h // 8 + 8, w // 8 + 8 + count), dtype=np.float32)[..., None].repeat(3, -1)
    base *= rng.uniform(0.6, 1.0, 3).astype(np.float32)
    big = cv2.resize(base, (w + 32 + 6 * count, h + 64), interpolation=cv2.INTER_CUBIC)
    return [np.ascontiguousarray(big[16:16 + h, 16 + 6 * i:16 + 6 * i + w]) for i in range(count)]


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
    import tempfile

    from unshutter.io.image_file import read_image, write_image
    from unshutter.node import Node, NodeParams
    from unshutter.sample import write_exr_sequence

    w, h = (int(v) for v in args.size.lower().split("x"))
    node = Node(NodeParams(factor=args.factor, tile=args.tile, quality=args.quality), model_path=args.model)
    n = args.repeat
    stages = dict.fromkeys(("read", "flow", "decompose", "resample", "write"), 0.0)
    peak_dec = peak_frame = 0.0
    with tempfile.TemporaryDirectory(prefix="unshutter-bench-") as tmp:
        folder = Path(tmp)
        # a generated half-float EXR clip, as plates come: n timed frames plus their neighbours
        clip = np.stack(_frames(w, h, n + 2))
        pattern = write_exr_sequence(folder / "in", "bench", clip, first=1)
        del clip
        src = [Path(pattern.replace("####", f"{i + 1:04d}")) for i in range(n + 2)]
        frames: list[Any] = [read_image(path)[0] for path in src[:2]]
        meta = read_image(src[0])[1]
        out_dir = folder / "out"
        out_dir.mkdir()
        node.process(1, frames[1], frames[0], frames[1])  # warm-up (ONNX Runtime allocations)
        for i in range(1, n + 1):
            _reset_peak()
            t0 = time.perf_counter()
            nxt, _ = read_image(src[i + 1])  # the pipeline reads each frame once and keeps a window of three
            frames.append(nxt)
            marks = {"read": time.perf_counter()}

            def on_stage(name: str) -> None:
                nonlocal peak_dec
                marks[name] = time.perf_counter()
                if name == "decompose":
                    peak_dec = max(peak_dec, _peak_mb())

            out = node.process(i, frames[i], frames[i - 1], nxt, on_stage=on_stage).subframes
            for k in range(out.shape[0]):
                write_image(out_dir / f"bench.{(i - 1) * args.factor + k + 1:04d}.exr", out[k], meta)
            marks["write"] = time.perf_counter()
            del out
            frames[i - 1] = None  # the window moves on
            peak_frame = max(peak_frame, _peak_mb())
            last = t0
            for key in stages:
                stages[key] += marks[key] - last
                last = marks[key]
    total = sum(stages.values()) / n
    mpix = w * h / 1e6
    row = {"size": f"{w}x{h}", "factor": args.factor, "tile": args.tile, "quality": args.quality,
           "provider": node.decomposer.info.provider, "frames": n,
           **{f"{k}_s": round(v / n, 3) for k, v in stages.items()},
           "seconds_per_frame": round(total, 3),
           "source_mpix_per_s": round(mpix / total, 3),
           "output_mpix_per_s": round(mpix * args.factor / total, 3),
           "decompose_peak_mb": round(peak_dec, 1) if peak_dec else None,
           "frame_peak_mb": round(peak_frame, 1) if peak_frame else None,
           "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)}
    if args.json:
        print(json.dumps(row))
    else:
        for key, value in row.items():
            print(f"{key:>18}: {value}")
    return 0
