"""The main job: read a clip, run the node on a frame range, write the retimed clip.

Output numbering follows DESIGN.md: sub-frame k of source frame f is output
frame ``a + (f - a) * N + k`` where ``a`` is the clip's first frame. Every
file is written atomically; complete outputs from an earlier run are
verified and skipped, so a chunk of a farm job can simply be re-run.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

import numpy as np

import unshutter
from unshutter import color, retime, threads
from unshutter.errors import InputError, OutputError, ParameterError
from unshutter.guidance.overrides import Overrides
from unshutter.io import atomic, claim, movie, sequence
from unshutter.io.clip import Clip, open_clip
from unshutter.io.digest import DigestCache, file_digest
from unshutter.io.image_file import ImageMeta, check_channels, output_pixel_type, verify_image, write_image
from unshutter.node import FrameResult, Node, NodeParams

Progress = Callable[[dict[str, Any]], None]

FORMATS = ("exr", "dpx", "tif", "tiff", "png", "jpg", "jpeg", "mp4", "mov")
MOVIE_RATES = ("high", "source")


@dataclass
class RunConfig:
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
    output: str
    manifest: Path
    written: int
    skipped: int
    preview: list[Path] = field(default_factory=list)


def parse_frame_range(text: str) -> tuple[int, int]:
    """'1001-1050' or '1001' -> (a, b)."""
    t = text.strip()
    try:
        if "-" in t[1:]:
            i = t.index("-", 1)
            a, b = int(t[:i]), int(t[i + 1:])
        else:
            a = b = int(t)
    except ValueError:
        raise ParameterError(f"--frames {text!r}: expected A-B, e.g. 1001-1050") from None
    if b < a:
        raise ParameterError(f"--frames {text!r}: end before start")
    return a, b


# ------------------------------------------------------------------ outputs
@dataclass
class OutputTarget:
    kind: str  # "sequence" | "movie"
    pattern: sequence.SequencePattern | None
    movie_path: Path | None

    def display(self) -> str:
        return self.pattern.display() if self.pattern else str(self.movie_path)

    @property
    def folder(self) -> Path:
        return self.pattern.dirname if self.pattern else self.movie_path.parent  # type: ignore[union-attr]

    def claim_name(self) -> str:
        """What claims on this output are keyed by in its folder (any frame padding counts as the same)."""
        if self.pattern is not None:
            return f"{self.pattern.prefix}#{self.pattern.suffix}"
        return self.movie_path.name  # type: ignore[union-attr]

    def manifest_path(self, chunk: tuple[int, int] | None) -> Path:
        if self.pattern is not None:
            base = self.pattern.prefix.rstrip("._-") or "unshutter"
        else:
            base = self.movie_path.stem  # type: ignore[union-attr]
        tag = f".{chunk[0]}-{chunk[1]}" if chunk else ""
        return self.folder / f"{base}.unshutter{tag}.json"


def resolve_output(spec: str, clip: Clip, fmt: str | None, factor: int) -> OutputTarget:
    if fmt is not None and fmt.lower().lstrip(".") not in FORMATS:
        raise ParameterError(f"--format {fmt}: choose one of {', '.join(FORMATS)}")
    ext = "." + fmt.lower().lstrip(".") if fmt else None
    if not spec.strip():  # Path("") is the current folder
        raise ParameterError("-o '': give an output folder, pattern (out/shot.####.exr) or movie file")
    p = Path(spec)
    if p.suffix.lower() in movie.MOVIE_EXTS and not sequence.is_sequence_spec(spec):
        return OutputTarget("movie", None, p)
    if sequence.is_sequence_spec(spec):
        pat, explicit = sequence.parse_pattern(spec)
        if explicit is not None:
            raise ParameterError(f"-o {spec}: give a pattern without a frame range")
        if ext and pat.suffix.lower() != ext:
            raise ParameterError(f"-o {spec} does not end in {ext} but --format is {fmt}")
        return OutputTarget("sequence", pat, None)
    # a folder: keep the input's name and format
    if ext in (".mp4", ".mov"):
        stem = clip.pattern.prefix.rstrip("._-") if clip.pattern else Path(clip.source).stem
        return OutputTarget("movie", None, p / f"{stem}{ext}")
    if clip.kind == "movie" and ext is None:
        return OutputTarget("movie", None, p / Path(clip.source).name)
    last_out = retime.output_frame(clip.first, clip.last, factor, factor - 1)
    if clip.pattern is not None:
        prefix, suffix, pad = clip.pattern.prefix, clip.pattern.suffix, clip.pattern.padding
    else:  # a movie's frames become PNGs; a lone still keeps its format
        prefix, suffix, pad = Path(clip.source).stem + ".", Path(clip.source).suffix if clip.kind == "still" else ".png", 4
    if ext:
        suffix = ext
    pad = max(pad, 4, len(str(last_out)))
    return OutputTarget("sequence", sequence.SequencePattern(p, prefix, pad, suffix), None)


GUIDANCE_DEBUG_PREFIX, GUIDANCE_DEBUG_SUFFIX = "guidance.", ".png"


def guidance_debug_path(folder: Path, frame: int) -> Path:
    """Where ``--guidance-debug`` writes the map of source frame ``frame``."""
    return folder / f"{GUIDANCE_DEBUG_PREFIX}{frame:04d}{GUIDANCE_DEBUG_SUFFIX}"


def _entry(path: Path, folders: dict[Path, str]) -> str:
    """The directory entry a write to ``path`` replaces: its folder resolved, its own name kept.

    Writes rename a temporary onto the name, so a symlink at the name itself is
    replaced, not followed.
    """
    parent = path.parent
    if parent not in folders:
        folders[parent] = os.path.realpath(parent)
    return os.path.join(folders[parent], path.name)


def _preview_name(manifest: Path) -> str:
    return manifest.name.split(".unshutter")[0]


def check_writes(cfg: RunConfig, clip: Clip, target: OutputTarget, frames: tuple[int, int]) -> None:
    """Refuse (ParameterError, exit 2, as farm tasks do) a run that would write over its own input.

    Checked before anything is written: the output sequence landing among the
    input plates (same resolved folder, prefix and suffix, any padding), and
    any single file of the run (frames, movie, manifest, guidance maps,
    previews) that is an input file, symlinks followed. Guidance maps may not
    replace this run's own output frames either.
    """
    a, b = frames
    n = cfg.params.factor
    out_opt = f"-o {cfg.output}"
    dbg_opt = f"--guidance-debug {cfg.guidance_debug}"
    debug_dir = Path(cfg.guidance_debug) if cfg.guidance_debug else None
    if target.pattern is not None:
        check_channels(out_opt if not cfg.format else f"--format {cfg.format}", target.pattern.suffix,
                       clip.meta.channel_names)
    if debug_dir is not None and debug_dir.exists() and not debug_dir.is_dir():
        raise ParameterError(f"{dbg_opt}: exists and is not a folder")
    if clip.pattern is not None:
        if target.pattern is not None:
            sequence.refuse_over_plates(out_opt, target.pattern.dirname, target.pattern.prefix,
                                        target.pattern.suffix, clip.pattern)
        if debug_dir is not None:
            sequence.refuse_over_plates(dbg_opt, debug_dir, GUIDANCE_DEBUG_PREFIX, GUIDANCE_DEBUG_SUFFIX,
                                        clip.pattern)
    inputs = [clip.pattern.path(f) for f in clip.frames] if clip.pattern is not None else [Path(clip.source)]
    real_inputs = {os.path.realpath(p): p for p in inputs}
    folders: dict[Path, str] = {}
    if target.pattern is not None:
        outputs = [target.pattern.path(retime.output_frame(clip.first, f, n, k))
                   for f in range(a, b + 1) for k in range(n)]
    else:
        outputs = [target.movie_path]  # type: ignore[list-item]
    manifest = target.manifest_path(cfg.frames)
    maps = [guidance_debug_path(debug_dir, f) for f in range(a, b + 1)] if debug_dir is not None else []
    writes: list[tuple[str, list[Path]]] = [(out_opt, outputs + [manifest]), (dbg_opt, maps)]
    if cfg.preview:
        from unshutter.preview import preview_paths

        writes.append(("--preview", list(preview_paths(target.folder, _preview_name(manifest)))))
    for option, paths in writes:
        for p in paths:
            atomic.check_name(option, p)
            hit = real_inputs.get(_entry(p, folders))
            if hit is not None:
                over = f"movie {clip.source}" if clip.kind == "movie" else f"frame {hit} of {clip.source}"
                raise ParameterError(f"{option}: writes {p}, over the input {over}")
    if maps:
        own = {_entry(p, folders) for p in outputs}
        for p in maps:
            if _entry(p, folders) in own:
                raise ParameterError(f"{dbg_opt}: writes {p}, over an output frame of {out_opt}")


# ------------------------------------------------------------------ channels
def split_channels(pixels: np.ndarray, meta: ImageMeta) -> tuple[np.ndarray, np.ndarray | None]:
    """All channels -> (RGB [H, W, 3], the others [H, W, E] or None)."""
    idx = meta.rgb_indices
    rgb = pixels[..., idx]
    if len(idx) == 1:  # grey
        rgb = np.repeat(rgb, 3, axis=-1)
    elif len(idx) == 2:  # two colour channels (R, G): the third is their mean, dropped again on merge
        rgb = np.concatenate([rgb, rgb.mean(axis=-1, keepdims=True)], axis=-1)
    rest = [i for i in range(pixels.shape[-1]) if i not in idx]
    extra = pixels[..., rest] if rest else None
    return np.ascontiguousarray(rgb, np.float32), extra


def merge_channels(rgb: np.ndarray, extra: np.ndarray | None, meta: ImageMeta) -> np.ndarray:
    """Inverse of :func:`split_channels`. Shape: [H, W, 3] -> [H, W, C]."""
    c = len(meta.channel_names)
    out = np.empty(rgb.shape[:2] + (c,), np.float32)
    idx = meta.rgb_indices
    if len(idx) == 1:
        out[..., idx[0]] = rgb.mean(axis=-1)
    else:
        out[..., idx] = rgb[..., :len(idx)]
    rest = [i for i in range(c) if i not in idx]
    if rest and extra is not None:
        out[..., rest] = extra
    return out


# ------------------------------------------------------------------ job
@dataclass
class _Pending:
    """A decomposed frame waiting to be written (below 360 degrees: for the next frame)."""

    frame: int
    index: int
    res: FrameResult
    extra: np.ndarray | None  # channels besides RGB, written back unchanged
    outs: list[int]
    paths: list[Path]
    sig: str
    t0: float


WRITE_THREADS = 2
"""Sub-frames of one source frame encoded and written at the same time (bounded by the thread
budget, :mod:`unshutter.threads`): seven 8-bit 1280x720 PNGs took 0.81 times as long in two
threads as one after another on the shared 2-core machine (load average 15)."""


def write_threads() -> int:
    """Writer threads of a run: :data:`WRITE_THREADS`, at most the process's thread budget."""
    return max(1, min(WRITE_THREADS, threads.configured() or threads.cores()))


class FrameCache:
    """Linear RGB of recently read frames (each frame is needed three times)."""

    def __init__(self, clip: Clip, cs: color.ColorTransform, size: int = 4) -> None:
        self.clip, self.cs, self.size = clip, cs, size
        self._data: OrderedDict[int, tuple[np.ndarray, np.ndarray | None]] = OrderedDict()

    def get(self, frame: int) -> tuple[np.ndarray, np.ndarray | None]:
        if frame in self._data:
            self._data.move_to_end(frame)
            return self._data[frame]
        pixels = self.clip.read(frame)
        rgb, extra = split_channels(pixels, self.clip.meta)
        item = (self.cs.to_linear(rgb), extra)
        self._data[frame] = item
        while len(self._data) > self.size:
            self._data.popitem(last=False)
        return item


def _versions() -> dict[str, str]:
    import cv2
    import OpenImageIO
    import PyOpenColorIO

    from unshutter import kernels

    v = {
        "unshutter": unshutter.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "openimageio": OpenImageIO.__version__,
        "opencolorio": PyOpenColorIO.__version__,
        "opencv": cv2.__version__,
        "kernels": kernels.BACKEND,
    }
    try:
        import onnxruntime

        v["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    return v


def _run_signature(cfg: RunConfig, node: Node, in_cs: color.ColorTransform, out_cs: color.ColorTransform) -> str:
    """Everything besides the source pixels that decides what an output frame holds.

    Locations are left out on purpose: the same job rendered into two folders
    gives byte-identical files, and a farm worker that sees the plates at
    another path (path mapping, job attachments) resumes on them.
    """
    p = node.params
    overrides = ""
    if p.overrides:
        overrides = file_digest(p.overrides)
    key = {
        "params": {k: v for k, v in p.to_dict().items() if k != "overrides"},
        "overrides": overrides,
        "model": node.decomposer.info.sha256,
        "colorspaces": [in_cs.colorspace, out_cs.colorspace, in_cs.signature, out_cs.signature],
        "version": unshutter.__version__,
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]


def _frame_signature(run_sig: str, clip: Clip, frame: int, digests: DigestCache,
                     overrides: Overrides | None = None, ahead: int = 1) -> str:
    """The run signature plus the bytes (digests) of the source frame, the neighbours its guidance
    reads (``ahead`` after it: 2 when its gap outputs read the next frame's result), and the mattes
    and labelme files the overrides read for it.

    Bytes, not size and time: a copied or path-mapped plate is the same plate.
    A movie is one file, hashed once per run. Override files are named by
    position, not path, for the same reason.
    """
    parts = [run_sig]
    for f in range(frame - 1, frame + ahead + 1):  # the neighbours; below 360 degrees the next frame's too
        if clip.first <= f <= clip.last:
            path = clip.frame_path(f) if clip.pattern else clip.source
            parts.append(f"{f}:{digests.get(path) or 'missing'}")
    if overrides is not None:
        for i, ofile in enumerate(overrides.files_read(frame)):
            parts.append(f"override{i}:{digests.get(ofile) or 'missing'}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


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


def _run(cfg: RunConfig, clip: Clip, emit: Progress, node: Node | None) -> RunResult:
    params = cfg.params
    a, b = cfg.frames or (clip.first, clip.last)
    if a < clip.first or b > clip.last:
        raise ParameterError(f"--frames {a}-{b}: outside the clip {clip.source} ({clip.first}-{clip.last})")
    n = params.factor
    target = resolve_output(cfg.output, clip, cfg.format, n)
    check_writes(cfg, clip, target, (a, b))
    in_cs = color.ColorTransform(cfg.colorspace or color.default_colorspace(clip.meta.is_float), cfg.ocio)
    out_is_float = target.kind == "sequence" and output_pixel_type(clip.meta, target.pattern.suffix)[0] in (  # type: ignore[union-attr]
        "half", "float", "double")
    if target.kind == "movie":
        out_cs = color.ColorTransform("sRGB Encoded Rec.709 (sRGB)", cfg.ocio)
    elif out_is_float == clip.meta.is_float or cfg.colorspace:
        out_cs = in_cs
    else:
        out_cs = color.ColorTransform(color.default_colorspace(out_is_float), cfg.ocio)
    node = node or Node(params, model_path=cfg.model, device=cfg.device)
    try:
        target.folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a farm retries output errors (exit 6); a traceback tells it nothing
        raise OutputError(f"{target.folder}: cannot create the output folder ({exc.strerror or exc})") from None
    out_span = None if target.kind == "movie" else \
        (retime.output_frame(clip.first, a, n, 0), retime.output_frame(clip.first, b, n, n - 1))
    with claim.claim(target.folder, target.claim_name(), out_span, target.display()):
        return _write(cfg, clip, emit, node, target, (a, b), in_cs, out_cs)


def _write(cfg: RunConfig, clip: Clip, emit: Progress, node: Node, target: OutputTarget, source_frames: tuple[int, int],
           in_cs: color.ColorTransform, out_cs: color.ColorTransform) -> RunResult:
    """Write the sub-frames of ``source_frames`` (inclusive), the manifest and previews, holding the output's claim."""
    params = cfg.params
    a, b = source_frames
    n = params.factor
    # only this run's own temporaries: other chunks of the shot may be writing beside it right now
    # (a live run writing these same frames holds a claim on them: this run was refused then)
    own = [target.pattern.path(retime.output_frame(clip.first, f, n, k)) for f in range(a, b + 1) for k in range(n)] \
        if target.pattern else [target.movie_path]
    atomic.remove_stale_temps(target.folder, own + [target.manifest_path(cfg.frames)])  # type: ignore[arg-type]
    debug_dir = Path(cfg.guidance_debug) if cfg.guidance_debug else None

    cache = FrameCache(clip, in_cs)
    frames = list(range(a, b + 1))
    frame_map: dict[str, list[int]] = {}
    guidance_log: dict[str, str] = {}
    run_sig = _run_signature(cfg, node, in_cs, out_cs)
    frame_sigs: dict[str, str] = {}
    digests = DigestCache()
    manifest_path = target.manifest_path(cfg.frames)
    written = skipped = 0
    thumbs: list[list[np.ndarray]] = []
    thumb_rows = {a, (a + b) // 2, b}
    anim: list[np.ndarray] = []
    writer: movie.MovieWriter | None = None
    if target.kind == "movie":
        writer = movie.MovieWriter(target.movie_path, clip.width, clip.height,  # type: ignore[arg-type]
                                   cfg.output_rate(clip.rate), cfg.codec)
    info = node.decomposer.info

    def _manifest(complete: bool = False) -> dict[str, Any]:
        return {
        "unshutter": unshutter.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "input": {"source": clip.source, "kind": clip.kind, "first": clip.first, "last": clip.last,
                  "width": clip.width, "height": clip.height, "channels": clip.meta.channel_names,
                  "pixel_type": clip.meta.format, "rate": str(clip.rate), "colorspace": in_cs.colorspace},
        "output": {"target": target.display(), "kind": target.kind, "rate": str(cfg.output_rate(clip.rate) if writer is not None else clip.rate * n),
                   "first": retime.output_frame(clip.first, a, n, 0),
                   "last": retime.output_frame(clip.first, b, n, n - 1), "colorspace": out_cs.colorspace},
        "frames": [a, b],
        "factor": n,
        "shutter": params.shutter,
        "params": params.to_dict(),
        "frame_map": frame_map,
        "guidance": guidance_log,
        "model": {"path": info.path, "id": info.model_id, "sha256": info.sha256, "k": info.k},
        "execution_provider": info.provider,
        "versions": _versions(),
        "seconds": round(time.monotonic() - t_start, 3),
        "complete": complete,
        "signature": run_sig,
        "frame_signatures": dict(frame_sigs),
    }

    emit({"event": "start", "input": clip.source, "output": target.display(), "frames": [a, b],
          "total": len(frames), "factor": n, "provider": node.decomposer.info.provider,
          "threads": threads.in_force(node.decomposer)})
    t_start = time.monotonic()
    ok = False

    def decompose(f: int) -> FrameResult:
        cur = cache.get(f)[0]
        prev = cache.get(f - 1)[0] if f - 1 >= clip.first else None
        nxt = cache.get(f + 1)[0] if f + 1 <= clip.last else None
        return node.process(f, cur, prev, nxt)

    def put(item: _Pending) -> None:
        nonlocal written
        f, res = item.frame, item.res
        guidance_log[str(f)] = res.guidance_source
        if debug_dir is not None:
            from unshutter.guidance.debug import write_guidance_image

            write_guidance_image(guidance_debug_path(debug_dir, f), res.guidance)
        if writer is not None:
            for k in range(n):
                writer.write(out_cs.from_linear(res.subframes[k]))
                written += 1
        else:
            def write_one(k: int) -> None:
                rgb = out_cs.from_linear(res.subframes[k])
                write_image(item.paths[k], merge_channels(rgb, item.extra, clip.meta), clip.meta, item.sig)

            # the sub-frames are encoded side by side (OCIO and the image writers release the GIL);
            # each write is atomic on its own, and the frame is done only when all of them are
            for fut in [write_pool.submit(write_one, k) for k in range(n)]:
                fut.result()  # the first failure, in sub-frame order, ends the run
                written += 1
        if cfg.preview:
            from unshutter.preview import thumbnail

            t = [thumbnail(res.subframes[k]) for k in range(n)]
            if f in thumb_rows:
                thumbs.append(t)
            anim.extend(t)
        emit({"event": "frame", "frame": f, "index": item.index, "total": len(frames), "outputs": item.outs,
              "skipped": False, "guidance": res.guidance_source, "seconds": round(time.monotonic() - item.t0, 3)})

    # Below 360 degrees (even timing) a frame's closed-shutter outputs are interpolated toward the
    # next frame's first output: a frame waits in ``pending`` until the next one is decomposed.
    waits = node.needs_next()
    pending: _Pending | None = None
    write_pool = ThreadPoolExecutor(write_threads(), thread_name_prefix="unshutter-write")
    try:
        for i, f in enumerate(frames):
            t0 = time.monotonic()
            outs = [retime.output_frame(clip.first, f, n, k) for k in range(n)]
            frame_map[str(f)] = outs
            paths = [target.pattern.path(o) for o in outs] if target.pattern else []
            # a movie output is written whole every run, so nothing needs its frames' signatures
            # (and a movie input need not be hashed for it)
            sig = _frame_signature(run_sig, clip, f, digests, node.overrides, 2 if waits else 1) if paths else ""
            if paths:
                frame_sigs[str(f)] = sig
            complete = bool(paths) and all(p.exists() for p in paths) and \
                all(verify_image(p, clip.meta, sig) for p in paths)
            if complete and pending is None:
                skipped += n
                guidance_log[str(f)] = "skipped (complete output exists)"
                emit({"event": "frame", "frame": f, "index": i + 1, "total": len(frames), "outputs": outs,
                      "skipped": True, "guidance": guidance_log[str(f)], "seconds": round(time.monotonic() - t0, 3)})
                continue
            res = decompose(f)
            if pending is not None:
                node.fill_gap(pending.res, res)
                put(pending)
                pending = None
            if complete:  # decomposed only for the previous frame's gap
                skipped += n
                guidance_log[str(f)] = "skipped (complete output exists)"
                emit({"event": "frame", "frame": f, "index": i + 1, "total": len(frames), "outputs": outs,
                      "skipped": True, "guidance": guidance_log[str(f)], "seconds": round(time.monotonic() - t0, 3)})
                continue
            item = _Pending(f, i + 1, res, cache.get(f)[1], outs, paths, sig, t0)
            if waits:
                pending = item
            else:
                put(item)
        if pending is not None:
            # the chunk's last frame: its gap needs the frame after it even when another chunk renders
            # that one, so that chunked and whole renders give the same files
            if pending.frame + 1 <= clip.last:
                node.fill_gap(pending.res, decompose(pending.frame + 1))
            put(pending)
            pending = None
        ok = True
    finally:
        write_pool.shutdown(wait=True)  # no write is left running once the run returns or fails
        if writer is not None:
            writer.close(ok)

    atomic.write_text(manifest_path, json.dumps(_manifest(True), indent=2) + "\n")
    previews: list[Path] = []
    if cfg.preview and thumbs:
        from unshutter.preview import write_previews

        previews = write_previews(target.folder, _preview_name(manifest_path), thumbs, anim,
                                  float(clip.rate * n))
    emit({"event": "done", "output": target.display(), "manifest": str(manifest_path), "written": written,
          "skipped": skipped, "preview": [str(p) for p in previews],
          "seconds": round(time.monotonic() - t_start, 3)})
    return RunResult(target.display(), manifest_path, written, skipped, previews)


def rate_of(fr: Fraction) -> float:
    return float(fr)


__all__ = ["InputError", "OutputError", "RunConfig", "RunResult", "parse_frame_range", "run"]
