"""The main job: read a clip, run the node on a frame range, write the retimed clip.

The loop and its parts live in :mod:`unshutter.render` (numbering, output
target, read -> process, resume signatures, writing, manifest); this module
is the job's entry point: it checks the request, opens the clip and the
output's claim, and runs the loop. Output numbering follows DESIGN.md
(:mod:`unshutter.render.numbering`). Every file is written atomically;
complete outputs from an earlier run are verified and skipped, so a chunk of
a farm job can simply be re-run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

from unshutter import color, threads
from unshutter.errors import InputError, OutputError, ParameterError
from unshutter.guidance.motion_pass import check_pass_files
from unshutter.io import atomic, claim
from unshutter.io.clip import Clip, open_clip
from unshutter.io.image_file import output_pixel_type
from unshutter.node import Node, NodeParams, neighbours_needed
from unshutter.render.loop import render
from unshutter.render.manifest import manifest, write_manifest
from unshutter.render.numbering import Numbering, numbering
from unshutter.render.resume import Resume, run_signature
from unshutter.render.sink import WRITE_THREADS, Sink, write_threads
from unshutter.render.source import FrameCache, FrameSource, merge_channels, split_channels
from unshutter.render.target import (
    FORMATS,
    GUIDANCE_DEBUG_PREFIX,
    GUIDANCE_DEBUG_SUFFIX,
    OutputTarget,
    check_writes,
    guidance_debug_path,
    preview_name,
    resolve_output,
)

Progress = Callable[[dict[str, Any]], None]

MOVIE_RATES = ("high", "source")


@dataclass
class RunConfig:
    """What ``unshutter run`` was asked to do (the farm, the timeline and the demo build one too)."""

    input: str
    output: str
    params: NodeParams = field(default_factory=NodeParams)
    frames: tuple[int, int] | None = None
    colorspace: str | None = None
    ocio: str = color.DEFAULT_CONFIG
    format: str | None = None
    codec: str | None = None
    fps: float | None = None
    model: str | None = None
    device: str = "auto"
    preview: bool = False
    guidance_debug: str | None = None
    movie_rate: str = "high"  # a movie output at N x the source rate, or at the source rate (plays N x slower)

    def output_rate(self, source_rate: Fraction) -> Fraction:
        """Frame rate written into a movie output (sequences are always recorded at N x the source rate)."""
        if self.movie_rate not in MOVIE_RATES:
            raise ParameterError(f"--movie-rate {self.movie_rate!r}: choose one of {', '.join(MOVIE_RATES)}")
        return source_rate * self.params.factor if self.movie_rate == "high" else source_rate


@dataclass
class RunResult:
    """What a run wrote: the output (pattern or movie), its manifest, counts, previews, and its numbering."""

    output: str
    manifest: Path
    written: int
    skipped: int
    preview: list[Path] = field(default_factory=list)
    numbering: Numbering | None = None  # which output frames each source frame made


def parse_frame_range(text: str) -> tuple[int, int]:
    """'1001-1050' or '1001' -> (a, b)."""
    t = text.strip()
    try:
        if "-" in t[1:]:
            i = t.index("-", 1)
            a, b = int(t[:i]), int(t[i + 1 :])
        else:
            a = b = int(t)
    except ValueError:
        raise ParameterError(f"--frames {text!r}: expected A-B, e.g. 1001-1050") from None
    if b < a:
        raise ParameterError(f"--frames {text!r}: end before start")
    return a, b


def run(cfg: RunConfig, progress: Progress | None = None, node: Node | None = None) -> RunResult:
    """Run the node over the clip (or ``cfg.frames``) and write the retimed clip."""
    emit = progress or (lambda _e: None)
    params = cfg.params
    params.validate()
    cfg.output_rate(Fraction(24))  # refuses an unknown movie rate before anything is opened
    clip = open_clip(cfg.input, cfg.fps)
    try:
        return _run(cfg, clip, emit, node)
    finally:
        clip.close()


def plan(cfg: RunConfig, clip: Clip, movie_out: bool) -> Numbering:
    """The run's output numbering, computed once: the range, the lookahead below 360 degrees, the output rate."""
    params = cfg.params
    a, b = cfg.frames or (clip.first, clip.last)
    if a < clip.first or b > clip.last:
        raise ParameterError(f"--frames {a}-{b}: outside the clip {clip.source} ({clip.first}-{clip.last})")
    behind, waits = neighbours_needed(params, (clip.meta.height, clip.meta.width))  # Node.needs_previous, needs_next
    rate = cfg.output_rate(clip.rate) if movie_out else clip.rate * params.factor
    return numbering(clip.first, clip.last, (a, b), params.factor, waits, rate, behind)


def _colorspaces(cfg: RunConfig, clip: Clip, target: OutputTarget) -> tuple[color.ColorTransform, color.ColorTransform]:
    """Input and output colour transforms: a float output of an integer input (or the reverse) changes encoding."""
    in_cs = color.ColorTransform(cfg.colorspace or color.default_colorspace(clip.meta.is_float), cfg.ocio)
    out_is_float = target.kind == "sequence" and output_pixel_type(clip.meta, target.pattern.suffix)[0] in (  # type: ignore[union-attr]
        "half",
        "float",
        "double",
    )
    if target.kind == "movie":
        out_cs = color.ColorTransform("sRGB Encoded Rec.709 (sRGB)", cfg.ocio)
    elif out_is_float == clip.meta.is_float or cfg.colorspace:
        out_cs = in_cs
    else:
        out_cs = color.ColorTransform(color.default_colorspace(out_is_float), cfg.ocio)
    return in_cs, out_cs


def _run(cfg: RunConfig, clip: Clip, emit: Progress, node: Node | None) -> RunResult:
    params = cfg.params
    target = resolve_output(cfg.output, clip, cfg.format, params.factor)
    num = plan(cfg, clip, target.kind == "movie")
    check_writes(cfg, clip, target, num)
    _check_motion_pass(params, num, (clip.meta.height, clip.meta.width))
    in_cs, out_cs = _colorspaces(cfg, clip, target)
    node = node or Node(params, model_path=cfg.model, device=cfg.device)
    _warn_outside(cfg, clip, node, emit)
    try:
        target.folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a farm retries output errors (exit 6); a traceback tells it nothing
        raise OutputError(f"{target.folder}: cannot create the output folder ({exc.strerror or exc})") from None
    out_span = None if target.kind == "movie" else num.span()
    with claim.claim(target.folder, target.claim_name(), out_span, target.display()):
        return _write(cfg, clip, emit, node, target, num, (in_cs, out_cs))


def _check_motion_pass(params: NodeParams, num: Numbering, size: tuple[int, int]) -> None:
    """Refuse the run before anything is written when a frame it decomposes has no motion-pass file
    (:func:`unshutter.guidance.motion_pass.check_pass_files`)."""
    mpass = params.motion_pass_spec()
    if mpass is None:
        return
    check_pass_files(mpass, num.decomposed(), size)


def _warn_outside(cfg: RunConfig, clip: Clip, node: Node, emit: Progress) -> None:
    """A ``warning`` event, before the render, when the overrides' ranges miss the whole clip (not just
    ``cfg.frames``: a farm chunk says it about the shot): from the clip and the overrides the run already holds."""
    if node.overrides is None:
        return
    line = node.overrides.outside_warning(str(cfg.params.overrides), clip.first, clip.last)
    if line:
        emit({"event": "warning", "message": line})


def _write(
    cfg: RunConfig,
    clip: Clip,
    emit: Progress,
    node: Node,
    target: OutputTarget,
    num: Numbering,
    colorspaces: tuple[color.ColorTransform, color.ColorTransform],
) -> RunResult:
    """Write the range's sub-frames, the manifest and previews, holding the output's claim."""
    manifest_path = target.manifest_path(cfg.frames)
    # only this run's own temporaries: other chunks of the shot may be writing beside it right now
    # (a live run writing these same frames holds a claim on them: this run was refused then)
    atomic.remove_stale_temps(target.folder, target.files(num) + [manifest_path])
    run_sig = run_signature(node, *colorspaces)
    resume = Resume(run_sig, clip, target, num, node.overrides, node.motion_pass)
    # the frames the loop may decompose, in order: each one's successor is prefetched
    source = FrameSource(clip, colorspaces[0], node, num.decomposed())
    sink = Sink(
        clip,
        target,
        colorspaces[1],
        num,
        emit,
        cfg.codec,
        Path(cfg.guidance_debug) if cfg.guidance_debug else None,
        cfg.preview,
    )
    if sink.quantized is not None:  # a large frame's writes go on while the next frame is read and flowed
        source.before_decompose = sink.flush
    emit(
        {
            "event": "start",
            "input": clip.source,
            "output": target.display(),
            "frames": [num.a, num.b],
            "total": len(num.frames),
            "factor": num.factor,
            "provider": node.decomposer.info.provider,
            "threads": threads.in_force(node.decomposer),
        }
    )
    t_start = time.monotonic()
    ok = False
    try:
        sink.open()
        render(resume.jobs(), source, sink, node.settle, num.waits)
        ok = True
    finally:
        sink.close(ok)
    write_manifest(
        manifest_path,
        manifest(
            clip,
            target,
            num,
            cfg.params,
            node,
            colorspaces,
            sink.guidance,
            run_sig,
            resume.signatures,
            time.monotonic() - t_start,
        ),
    )
    previews: list[Path] = []
    if cfg.preview and sink.thumbs:
        from unshutter.preview import write_previews

        previews = write_previews(
            target.folder, preview_name(manifest_path), sink.thumbs, sink.anim, float(clip.rate * num.factor)
        )
    emit(
        {
            "event": "done",
            "output": target.display(),
            "manifest": str(manifest_path),
            "written": sink.written,
            "skipped": sink.skipped,
            "preview": [str(p) for p in previews],
            "seconds": round(time.monotonic() - t_start, 3),
        }
    )
    return RunResult(target.display(), manifest_path, sink.written, sink.skipped, previews, num)


__all__ = [
    "FORMATS",
    "GUIDANCE_DEBUG_PREFIX",
    "GUIDANCE_DEBUG_SUFFIX",
    "MOVIE_RATES",
    "WRITE_THREADS",
    "FrameCache",
    "InputError",
    "OutputError",
    "OutputTarget",
    "Progress",
    "RunConfig",
    "RunResult",
    "check_writes",
    "guidance_debug_path",
    "merge_channels",
    "parse_frame_range",
    "resolve_output",
    "run",
    "split_channels",
    "write_threads",
]
