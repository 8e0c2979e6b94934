"""``unshutter bench speed``: seconds per source frame of ``unshutter run`` itself, by stage.

For each frame size a clip is generated in the input format (default 8-bit
PNG, as most artists' plates; ``--format exr`` for half-float EXR): a pan
over a smooth random texture. The CLI's own loop (:func:`unshutter.pipeline.run`,
default output settings, the input's format out) then runs over it in a fresh
process, so each run's peak memory is its own. Per frame it reports:

- ``seconds_per_frame``: wall time per source frame in the steady state: from
  the end of the first frame's decomposition (which pays ONNX Runtime's first
  allocations) to the end of the last one's, divided by the frames after the
  first. The run goes on one frame past the timed ones, so the span holds as
  many frames' reading, flow and writing as decompositions whether the loop
  does them before decomposing the next frame or while it does (the write
  overlap, the read/flow prefetch);
- ``cpu_per_frame``: CPU seconds of the process over the same span (less
  disturbed than wall time on a shared machine);
- ``main_cpu_per_frame``: CPU seconds of the loop's own thread over the span
  (its share of the network's threads included): the frames go through it
  one after another, so a quiet machine cannot take less wall time per frame
  than this, however many cores the other threads (prefetch, writers) find;
- each stage's seconds per frame: read (decode and to scene-linear), flow
  (guidance), decompose, resample (to linear, retime), write (from linear,
  encode, verify, rename); ``overlap_s`` is how much of their sum ran at the
  same time as other stages (0 when the loop runs them one after another);
- ``peak_mb``: the whole process's peak resident memory (Linux ``VmHWM``).

``--baseline-model`` runs every size with a second model too, alternating
with the first, and prints the ratio of each figure: on a shared machine only
figures from the same run compare. ``--baseline-no-prefetch`` makes the
baseline the loop without its read/flow prefetch (``prefetch`` in each row
says whether a run prefetched).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

SIZES = "640x360,1280x720,1920x1080,3840x2160"
STAGES = ("read", "flow", "decompose", "resample", "write")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sizes", default=SIZES, help=f"comma-separated WxH frame sizes (default {SIZES})")
    p.add_argument("--size", help="one frame size (the same as --sizes WxH)")
    p.add_argument(
        "--format",
        choices=("png", "exr"),
        default="png",
        help="input (and so output) format: 8-bit PNG (default) or half-float EXR",
    )
    p.add_argument("--frames", type=int, default=3, help="source frames to run per size, at least 2 (default 3)")
    p.add_argument("--repeat", type=int, help="frames to time after the first (the same as --frames REPEAT+1)")
    p.add_argument("--factor", type=int, default=7)
    p.add_argument("--tile", type=int, default=None, help="as run --tile (default: run's default)")
    p.add_argument("--quality", choices=("full", "draft"), default="full")
    p.add_argument("--model", help="decomposer model (default: shipped)")
    p.add_argument(
        "--baseline-model", metavar="ONNX", help="also time this model, alternating with --model, and print the ratios"
    )
    p.add_argument(
        "--baseline-no-prefetch",
        action="store_true",
        help="the baseline is --model without the read/flow prefetch (alternating, ratios printed)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object per run")


def _texture_frames(w: int, h: int, count: int) -> np.ndarray:
    """A pan over a smooth random texture, 6 px per frame, in [0, 1]. Shape: -> [count, h, w, 3] float32."""
    import cv2

    rng = np.random.default_rng(0)
    base = rng.random((h // 8 + 8, w // 8 + 8 + count), dtype=np.float32)[..., None].repeat(3, -1)
    base *= rng.uniform(0.6, 1.0, 3).astype(np.float32)
    big = cv2.resize(base, (w + 32 + 6 * count, h + 64), interpolation=cv2.INTER_CUBIC)
    big = np.clip(big, 0.0, 1.0)
    return np.stack([big[16 : 16 + h, 16 + 6 * i : 16 + 6 * i + w] for i in range(count)])


def write_clip(folder: Path, w: int, h: int, count: int, fmt: str) -> str:
    """``count`` frames numbered from 1001 in ``folder``; returns the input pattern."""
    from unshutter.io.image_file import ImageMeta, write_image

    folder.mkdir(parents=True, exist_ok=True)
    frames = _texture_frames(w, h, count)
    if fmt == "png":
        meta = ImageMeta(w, h, ["R", "G", "B"], "uint8", 8, {}, "png")
    else:
        meta = ImageMeta(w, h, ["R", "G", "B"], "half", 16, {}, "openexr")
        frames = frames ** np.float32(2.2)  # scene-linear, as EXR plates are
    for i in range(count):
        write_image(folder / f"bench.{1001 + i:04d}.{fmt}", frames[i], meta)
    return str(folder / f"bench.####.{fmt}")


def _peak_mb() -> float | None:
    """Peak resident memory of this process (Linux VmHWM), in MB."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


class _Stages:
    """Seconds per stage, and the union of the intervals in which any stage ran."""

    def __init__(self) -> None:
        self.raw: list[tuple[str, float, float]] = []
        self.since = 0.0  # only time between these counts (the steady state)
        self.until = float("inf")

    def start(self, t: float) -> None:
        """Count from ``t`` on: what ran before is forgotten, a stage running across ``t`` counts from it."""
        self.since = t

    def stop(self, t: float) -> None:
        """Count until ``t``: what ran after is left out, a stage running across ``t`` counts up to it."""
        self.until = t

    def add(self, name: str, t0: float, t1: float) -> None:
        self.raw.append((name, t0, t1))

    @property
    def intervals(self) -> list[tuple[str, float, float]]:
        """The stages' intervals clipped to the counted span."""
        return [
            (n, max(a, self.since), min(b, self.until))
            for n, a, b in self.raw
            if min(b, self.until) > max(a, self.since)
        ]

    @property
    def seconds(self) -> dict[str, float]:
        out = dict.fromkeys(STAGES, 0.0)
        for name, a, b in self.intervals:
            out[name] += b - a
        return out

    def busy(self) -> float:
        """Wall time during which at least one stage ran."""
        total, end = 0.0, -1.0
        for a, b in sorted((a, b) for _, a, b in self.intervals):
            if b <= end:
                continue
            total += b - max(a, end)
            end = b
        return total


def child(
    input_pattern: str,
    output: str,
    frames: tuple[int, int],
    factor: int,
    tile: int | None,
    quality: str,
    model: str | None,
    prefetch: bool = True,
) -> dict[str, Any]:
    """One run of the CLI's loop, timed by stage (runs in its own process)."""
    from unshutter import pipeline
    from unshutter.node import Node, NodeParams
    from unshutter.render import sink, source

    if not prefetch:
        source.PREFETCH_PIXELS = 0

    stages = _Stages()

    class TimedNode(Node):
        def prepare(self, *args: Any, **kwargs: Any) -> Any:  # the flow (the loop may run it in its prefetch thread)
            t0 = time.perf_counter()
            try:
                return super().prepare(*args, **kwargs)
            finally:
                stages.add("flow", t0, time.perf_counter())

        def finish(self, prep: Any, *args: Any, **kwargs: Any) -> Any:
            last = [time.perf_counter()]
            waits = self.needs_next(prep.cur.shape[:2])
            if waits and prep.frame == frames[1] + 1:
                # a frame waiting for the next one is written after the next one's decomposition: the span
                # ends as this one starts, so it holds the last timed frame's settling and writing
                marks["last"], cpu["last"], main_cpu["last"] = last[0], time.process_time(), time.thread_time()

            loop_stage = kwargs.get("on_stage")

            def on_stage(name: str) -> None:
                now = time.perf_counter()
                stages.add(name, last[0], now)
                last[0] = now
                if loop_stage is not None:
                    loop_stage(name)

            kwargs["on_stage"] = on_stage
            out = super().finish(prep, *args, **kwargs)
            now, cpu_now, main_now = time.perf_counter(), time.process_time(), time.thread_time()
            # the steady state starts when the range's first decomposition ends (at 360 degrees the frame
            # before the range is decomposed first, for its outputs to blend toward: not timed)
            if "first" not in marks and prep.frame >= frames[0]:
                marks["first"], cpu["first"], main_cpu["first"] = now, cpu_now, main_now
                stages.start(now)
            if prep.frame <= frames[1] and not waits:  # the frame after the timed ones only keeps the loop busy
                marks["last"], cpu["last"], main_cpu["last"] = now, cpu_now, main_now
            return out

    def timed(name: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                stages.add(name, t0, time.perf_counter())

        return wrapper

    # the loop's own read and write paths, wrapped where the loop looks them up
    source.FrameCache.get = timed("read", source.FrameCache.get)  # type: ignore[method-assign]
    sink.write_image = timed("write", sink.write_image)
    sink.quantize = timed("write", sink.quantize)  # a large frame's sub-frames to the files' integer type
    from unshutter.color import ColorTransform

    ColorTransform.from_linear = timed("write", ColorTransform.from_linear)  # type: ignore[method-assign]

    marks: dict[str, float] = {}
    cpu: dict[str, float] = {}
    main_cpu: dict[str, float] = {}  # the loop's thread (finish runs on it)
    opts: dict[str, Any] = {} if tile is None else {"tile": tile}
    params = NodeParams(factor=factor, quality=quality, **opts)
    node = TimedNode(params, model_path=model, device="cpu")
    # one frame more than timed: while the last timed frame is decomposed the loop prefetches (and
    # writes) as in any other frame, so the span holds one frame's worth of each stage per frame
    cfg = pipeline.RunConfig(
        input=input_pattern, output=output, params=params, frames=(frames[0], frames[1] + 1), model=model, device="cpu"
    )
    pipeline.run(cfg, node=node)
    meta = pipeline.open_clip(input_pattern).meta
    stages.stop(marks["last"])
    n = frames[1] - frames[0]  # frames after the first
    wall = marks["last"] - marks["first"]
    seconds = stages.seconds
    busy = sum(seconds.values())
    return {
        "seconds_per_frame": round(wall / n, 3),
        "cpu_per_frame": round((cpu["last"] - cpu["first"]) / n, 3),
        "main_cpu_per_frame": round((main_cpu["last"] - main_cpu["first"]) / n, 3),
        **{f"{k}_s": round(v / n, 6) for k, v in seconds.items()},  # a tiny frame reads in < 0.5 ms
        "overlap_s": round(max(0.0, busy - stages.busy()) / n, 3),
        "peak_mb": round(_peak_mb() or 0.0, 1),
        "provider": node.decomposer.info.provider,
        "model": node.decomposer.info.model_id,
        "split_contract": bool(getattr(node.decomposer, "split", False)),
        "prefetch": prefetch and source.prefetches(meta.width, meta.height),
    }


def _run_child(
    pattern: str, out: Path, frames: tuple[int, int], args: argparse.Namespace, model: str | None, prefetch: bool
) -> dict[str, Any]:
    spec = {
        "prefetch": prefetch,
        "input": pattern,
        "output": str(out),
        "frames": list(frames),
        "factor": args.factor,
        "tile": args.tile,
        "quality": args.quality,
        "model": model,
    }
    env = dict(os.environ)
    proc = subprocess.run(
        [sys.executable, "-m", "unshutter.bench.speed", json.dumps(spec)], env=env, capture_output=True, text=True
    )
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"bench speed: the run at {pattern} failed ({tail})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _sizes(args: argparse.Namespace) -> list[tuple[int, int]]:
    text = args.size or args.sizes
    out = []
    for part in text.split(","):
        try:
            w, h = (int(v) for v in part.strip().lower().split("x"))
        except ValueError:
            raise SystemExit(f"bench speed: --sizes {text!r}: expected WxH[,WxH...]") from None
        if w < 1 or h < 1:
            raise SystemExit(f"bench speed: --sizes {text!r}: sizes must be positive")
        out.append((w, h))
    return out


def _table(rows: list[dict[str, Any]]) -> str:
    cols = [
        "size",
        "model",
        "seconds_per_frame",
        "cpu_per_frame",
        "main_cpu_per_frame",
        *[f"{s}_s" for s in STAGES],
        "overlap_s",
        "peak_mb",
    ]
    heads = ["size", "model", "s/frame", "cpu s", "main cpu s", *STAGES, "overlap", "peak MB"]
    lines = [" | ".join(heads), " | ".join("---" for _ in heads)]
    for r in rows:
        lines.append(" | ".join(str(r.get(c, "")) for c in cols))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.repeat is not None:
        args.frames = args.repeat + 1
    if args.frames < 2:
        print("bench speed: --frames must be at least 2 (the first frame is not timed)", file=sys.stderr)
        return 2
    models: list[tuple[str, str | None, bool]] = [("model", args.model, True)]
    if args.baseline_model:
        models.append(("baseline", args.baseline_model, not args.baseline_no_prefetch))
    elif args.baseline_no_prefetch:
        models.append(("baseline", args.model, False))
    rows: list[dict[str, Any]] = []
    for w, h in _sizes(args):
        with tempfile.TemporaryDirectory(prefix="unshutter-bench-") as tmp:
            pattern = write_clip(Path(tmp) / "in", w, h, args.frames + 3, args.format)
            frames = (1002, 1001 + args.frames)  # timed; both neighbours of every frame the run decomposes exist
            got: dict[str, dict[str, Any]] = {}
            for name, model, prefetch in models:  # A then B at each size: neighbours in time share the load
                r = _run_child(pattern, Path(tmp) / f"out-{name}", frames, args, model, prefetch)
                got[name] = r
                rows.append(
                    {
                        "size": f"{w}x{h}",
                        "run": name,
                        "format": args.format,
                        "factor": args.factor,
                        "frames": args.frames,
                        **r,
                    }
                )
                if args.json:
                    print(json.dumps(rows[-1]), flush=True)
            if "baseline" in got:
                a, b = got["model"], got["baseline"]
                ratio = {
                    k: round(a[k] / b[k], 3)
                    for k in ("seconds_per_frame", "cpu_per_frame", "main_cpu_per_frame", "decompose_s", "peak_mb")
                    if b.get(k)
                }
                rows.append({"size": f"{w}x{h}", "run": "ratio", "model": "model/baseline", **ratio})
                if args.json:
                    print(json.dumps(rows[-1]), flush=True)
    if not args.json:
        print(_table(rows))
    return 0


if __name__ == "__main__":  # one timed run, for run(): JSON spec in, JSON row out
    spec = json.loads(sys.argv[1])
    print(
        json.dumps(
            child(
                spec["input"],
                spec["output"],
                tuple(spec["frames"]),
                spec["factor"],
                spec["tile"],
                spec["quality"],
                spec["model"],
                spec.get("prefetch", True),
            )
        )
    )
