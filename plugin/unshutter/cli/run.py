"""``unshutter run``: the main job on one clip."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from unshutter.decomposer.runtime import DEFAULT_TILE
from unshutter.node import GUIDANCE_MODES, QUALITIES, NodeParams
from unshutter.errors import UnshutterError
from unshutter.guidance.motion_pass import POINTS, UNITS, Y_CONVENTIONS
from unshutter.io import sequence
from unshutter.pipeline import (
    FORMATS,
    MOVIE_RATES,
    RunConfig,
    RunResult,
    parse_frame_range,
    run,
)
from unshutter.timing import TIMINGS


def add_node_arguments(p: argparse.ArgumentParser) -> None:
    """Node parameters shared by run, worker and farm commands."""
    p.add_argument("--factor", "-n", type=int, default=7, help="sub-frames per source frame, 1-16 (1 = deblur only)")
    p.add_argument("--shutter", type=float, default=360.0, help="shutter angle of the source in degrees (default 360)")
    p.add_argument(
        "--timing",
        choices=TIMINGS,
        default="even",
        help="even (default): the N outputs of a frame sit at equal steps of 1/N of the frame interval, "
        "those in the closed-shutter gap interpolated toward the next frame; exposure: all N share "
        "the exposure (below 360 degrees playback jumps across the gap)",
    )
    p.add_argument(
        "--follow",
        type=float,
        default=NodeParams.follow,
        metavar="F",
        help=f"0-2: how closely sub-frames follow the estimated motion (default {NodeParams.follow:g}; "
        f"0 keeps the decomposer's own sub-frames, 1 carries the mid-exposure frame along the motion where "
        f"the motion is trusted, 2 everywhere: more motion and detail, but content carried the wrong way "
        f"where the flow is wrong; at 360 degrees each output also blends toward the neighbouring frames', "
        f"which are then decomposed too)",
    )
    p.add_argument(
        "--guidance",
        choices=GUIDANCE_MODES,
        default="neighbors",
        help="motion guidance: optical flow on neighbouring frames (default), none, a global direction, or reversed flow",
    )
    p.add_argument("--reverse", action="store_true", help="reverse the time order of the whole shot")
    p.add_argument("--overrides", metavar="FILE", help="per-shot override file (YAML/JSON, or labelme JSON)")
    p.add_argument(
        "--motion",
        metavar="DX,DY",
        type=_vector,
        help="whole-frame motion vector in px per exposure at full resolution (e.g. 40,0: 40 px right; "
        "y down); replaces --guidance, works on a single image; --reverse and --overrides still apply",
    )
    p.add_argument(
        "--motion-pass",
        metavar="PATTERN",
        help="motion-vector pass matched frame for frame with the input (vectors/shot.####.exr; a file without "
        "a frame number serves every frame): per-pixel motion per frame, in px at the pass's resolution (or "
        "--motion-pass-units), scaled to the input's; replaces --guidance like --motion (docs/motion-pass.md)",
    )
    p.add_argument(
        "--motion-pass-channels",
        metavar="X,Y",
        help="the pass's vector channels (default: the first found of forward.u,forward.v; backward.u,backward.v; "
        "Vector.Z,Vector.W; Vector.X,Vector.Y)",
    )
    p.add_argument(
        "--motion-pass-y",
        choices=Y_CONVENTIONS,
        default="up",
        help="the pass's y direction: up (default: Nuke and Blender, origin at the bottom left) or down (image rows)",
    )
    p.add_argument(
        "--motion-pass-points",
        choices=POINTS,
        default="auto",
        help="forward: vectors point where a pixel goes in the next frame; backward: against the motion "
        "(Nuke's backward.u/v, Blender's Vector pass); auto (default): by channel name, else forward",
    )
    p.add_argument(
        "--motion-pass-units",
        choices=UNITS,
        default="px",
        help="px (default): pixels at the pass's resolution; ndc: -1..1 across the pass's frame (px = v * side / 2); "
        "uv: 0..1 across it (px = v * side); x by the width, y by the height (real-time engines' velocity buffers)",
    )
    p.add_argument(
        "--tile",
        type=int,
        default=DEFAULT_TILE,
        metavar="PX",
        help="largest tile side; 0 (default) runs frames up to 2048x1080 whole and larger ones "
        "in tiles of at most 1024 px (a 4K frame stays under 2 GB); bigger uses more memory",
    )
    p.add_argument(
        "--quality",
        choices=QUALITIES,
        default="full",
        help="draft decomposes at half resolution and skips the deblurring along the motion",
    )
    p.add_argument("--threshold", type=float, default=0.5, metavar="PX", help="static threshold in px per exposure")
    p.add_argument(
        "--model", metavar="ONNX", help="decomposer model (default: the shipped one, int8 on a CPU, float32 on a GPU)"
    )
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="execution provider")
    add_threads_argument(p)


def add_threads_argument(p: argparse.ArgumentParser) -> None:
    """``--threads N``: the process's thread budget (``unshutter.threads``, applied by ``cli.main``)."""
    p.add_argument(
        "--threads",
        dest="engine_threads",
        type=int,
        metavar="N",
        help="threads for ONNX Runtime, OpenCV and the native kernels (default: all cores, or "
        "UNSHUTTER_THREADS; 0: all cores); give each of several tasks on one machine a share",
    )


def _vector(text: str) -> tuple[float, float]:
    from unshutter.guidance.tracks import parse_vector

    try:
        return parse_vector(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix(f"--motion {text!r}: ")) from None


def node_params(args: argparse.Namespace) -> NodeParams:
    return NodeParams(
        factor=args.factor,
        shutter=args.shutter,
        guidance=args.guidance,
        reverse=args.reverse,
        overrides=args.overrides,
        tile=args.tile,
        quality=args.quality,
        threshold=args.threshold,
        timing=args.timing,
        follow=args.follow,
        motion=args.motion,
        motion_pass=args.motion_pass,
        motion_pass_channels=args.motion_pass_channels,
        motion_pass_y=args.motion_pass_y,
        motion_pass_points=args.motion_pass_points,
        motion_pass_units=args.motion_pass_units,
    )


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help="decompose a blurred clip into an N-times slower sharp clip",
        description="Decompose each frame of INPUT into N sharp sub-frames and write the retimed clip.",
        epilog="Exit codes: 0 done, 1 unexpected error, 2 bad parameter, 3 bad input, 4 bad overrides, "
        "5 model, 6 output (disk, permissions, or frames another run is writing right now: "
        "each run claims its output frames in OUTPUT_FOLDER/.unshutter-claims/).",
    )
    p.add_argument("input", help="shot.####.exr, shot.%%04d.exr, shot.1001-1050#.exr, shot.1001.exr or a movie file")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="output pattern (out/shot.####.exr), a folder (keeps input name and format) or a movie file (.mp4 H.264, .mov ProRes)",
    )
    add_node_arguments(p)
    p.add_argument(
        "--frames", metavar="A-B", help="source frames to process (neighbours outside are still read for guidance)"
    )
    p.add_argument(
        "--colorspace", help="input colour space (default: scene-linear for float files, sRGB for integer files)"
    )
    p.add_argument(
        "--ocio", default="ocio://default", metavar="CONFIG", help="OpenColorIO config (default ocio://default)"
    )
    p.add_argument("--format", choices=FORMATS, help="output file format (default: the input's)")
    p.add_argument("--codec", choices=("h264", "prores"), help="movie output codec (default from the extension)")
    p.add_argument("--fps", type=float, help="source frame rate when the files do not say (default 24)")
    p.add_argument(
        "--movie-rate",
        choices=MOVIE_RATES,
        default="high",
        help="frame rate of a movie output: high (default) = N x the source rate, plays at normal speed "
        "like footage shot N x faster; source = the source rate, plays N x slower in any player",
    )
    p.add_argument(
        "--preview",
        action="store_true",
        help="also write a contact sheet PNG and an H.264 preview movie of the sub-frames",
    )
    p.add_argument("--guidance-debug", metavar="DIR", help="write colour-coded guidance maps to DIR")
    p.add_argument(
        "--alternatives",
        action="store_true",
        help="for a lone still (or a clip without usable neighbours): find the main motion directions in "
        "the blur and write one decomposition per candidate motion (both time orders) into "
        "OUTPUT/01, OUTPUT/02..., with OUTPUT/alternatives.png to pick from",
    )
    p.add_argument("--json", action="store_true", help="print one JSON progress line per frame on stdout (for hosts)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    cfg = RunConfig(
        input=args.input,
        output=args.output,
        params=node_params(args),
        frames=parse_frame_range(args.frames) if args.frames else None,
        colorspace=args.colorspace,
        ocio=args.ocio,
        format=args.format,
        codec=args.codec,
        fps=args.fps,
        model=args.model,
        device=args.device,
        preview=args.preview,
        guidance_debug=args.guidance_debug,
        movie_rate=args.movie_rate,
    )
    cfg.params.check_pass_options()
    reporter = Reporter(json_lines=args.json, quiet=args.quiet)
    if args.alternatives:
        return _alternatives(cfg, args, reporter)
    try:
        result = run(cfg, reporter)
    except BaseException as exc:  # errors, and Ctrl-C or SIGTERM/SIGHUP (cli.main.Terminated) for hosts too
        reporter.close()
        if args.json and not isinstance(exc, SystemExit):
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if not isinstance(exc, Exception):
                message = f"{'interrupted' if isinstance(exc, KeyboardInterrupt) else 'terminated'} ({message})"
            with contextlib.suppress(OSError):
                print(json.dumps({"event": "error", "message": message}), flush=True)
        raise
    reporter.close()
    if cfg.frames is None:
        warn_leftovers(result, args.json)
    _warn_unguided(result, args.json)
    if not args.json:
        print(
            f"slow-motion clip: {result.output}  ({result.written} frames written, {result.skipped} already complete)"
        )
        print(f"manifest: {result.manifest}")
        for p in result.preview:
            print(f"preview: {p}")
    return 0


def warn(message: str, json_lines: bool = False) -> None:
    """One warning line on stderr (where hosts and people look), and with ``--json`` also a
    ``warning`` event on stdout, so a host that reads only the events sees it too."""
    print(f"unshutter: warning: {message}", file=sys.stderr)
    if json_lines:
        with contextlib.suppress(OSError):
            print(json.dumps({"event": "warning", "message": message}), flush=True)


def _warn_unguided(result: Any, json_lines: bool = False) -> None:
    """Say so when no frame had any motion guidance (a lone still without --motion): the output is close to the input."""
    try:
        sources = json.loads(Path(result.manifest).read_text())["guidance"].values()
    except (OSError, ValueError, KeyError, AttributeError):
        return
    if sources and all(str(v).startswith("none (no neighbour)") for v in sources):
        warn(
            "no neighbouring frames, so no motion to go on: the sub-frames stay close to "
            "the input; give --motion DX,DY (px per exposure) or try --alternatives",
            json_lines,
        )


def _alternatives(cfg: RunConfig, args: argparse.Namespace, reporter: Reporter) -> int:
    from unshutter.alternatives import run_alternatives

    try:
        alts, sheet = run_alternatives(cfg, progress=reporter)
    except Exception as exc:
        reporter.close()
        if args.json:
            print(
                json.dumps({"event": "error", "message": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}),
                flush=True,
            )
        raise
    reporter.close()
    if args.json:
        print(
            json.dumps(
                {
                    "event": "alternatives",
                    "sheet": str(sheet),
                    "alternatives": [{"folder": str(a.folder), "motion": list(a.motion)} for a in alts],
                }
            )
        )
        return 0
    for i, a in enumerate(alts, 1):
        print(f"alternative {i:02d}: --motion {a.motion[0]:g},{a.motion[1]:g}  -> {a.result.output}")
    print(f"contact sheet: {sheet}")
    return 0


def warn_leftovers(result: RunResult, json_lines: bool = False) -> None:
    """Say so when the output sequence holds frames this whole-clip run did not write (an earlier run at a
    higher factor or of a longer clip): they would play as part of the clip. Chunk runs share the folder
    with other chunks and are not checked."""
    try:
        doc = json.loads(result.manifest.read_text(encoding="utf-8"))
        first, last = int(doc["output"]["first"]), int(doc["output"]["last"])
        pattern, _ = sequence.parse_pattern(result.output)
    except (OSError, ValueError, KeyError, TypeError, UnshutterError):
        return
    if doc["output"].get("kind") != "sequence":
        return
    extra = [f for f in pattern.scan() if not first <= f <= last]
    if extra:
        warn(
            f"{len(extra)} frames beside this run's {first}-{last} were left as they are "
            f"({pattern.path(extra[0]).name} ... {pattern.path(extra[-1]).name}, from an earlier run?): "
            "delete them if they are not part of this clip",
            json_lines,
        )


class Reporter:
    """Progress: a tqdm bar on stderr, JSON lines on stdout, or nothing."""

    def __init__(self, json_lines: bool, quiet: bool) -> None:
        self.json_lines, self.quiet = json_lines, quiet
        self._bar: Any = None  # a tqdm bar while a run goes on
        self._warned: set[str] = set()  # --alternatives runs the clip once per candidate: each line said once

    def __call__(self, event: dict[str, Any]) -> None:
        if event["event"] == "warning":  # on stderr even when quiet, and as an event with --json
            if event["message"] not in self._warned:
                self._warned.add(event["message"])
                warn(event["message"], self.json_lines)
            return
        if self.json_lines:
            print(json.dumps(event), flush=True)
            return
        if self.quiet:
            return
        if event["event"] == "start":
            from tqdm import tqdm

            self._bar = tqdm(total=event["total"], unit="frame", file=sys.stderr, desc="unshutter")
        elif event["event"] == "frame" and self._bar is not None:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
