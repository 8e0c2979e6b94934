"""Where a run's outputs go, and what it may not write over.

An output is an image sequence (a pattern, or a folder that keeps the
input's name and format) or one movie file. Before anything is written a run
is refused if it would land on its own input: the output sequence among the
input plates, or any single file of the run being an input file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from unshutter.errors import ParameterError
from unshutter.io import atomic, movie, sequence
from unshutter.io.clip import Clip
from unshutter.io.image_file import check_channels
from unshutter.render.numbering import Numbering, output_frame

if TYPE_CHECKING:
    from unshutter.pipeline import RunConfig

FORMATS = ("exr", "dpx", "tif", "tiff", "png", "jpg", "jpeg", "mp4", "mov")


@dataclass
class OutputTarget:
    """An image sequence (``pattern``) or one movie file (``movie_path``)."""

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

    def files(self, num: Numbering) -> list[Path]:
        """The output files of the range ``num`` numbers: a sequence's frames, or the movie."""
        if self.pattern is not None:
            return [self.pattern.path(o) for o in num.all_outputs()]
        return [self.movie_path]  # type: ignore[list-item]


def resolve_output(spec: str, clip: Clip, fmt: str | None, factor: int) -> OutputTarget:
    """``-o`` (pattern, folder or movie file) and ``--format`` -> the run's output target."""
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
    last_out = output_frame(clip.first, clip.last, factor, factor - 1)
    if clip.pattern is not None:
        prefix, suffix, pad = clip.pattern.prefix, clip.pattern.suffix, clip.pattern.padding
    else:  # a movie's frames become PNGs; a lone still keeps its format
        prefix, suffix, pad = (
            Path(clip.source).stem + ".",
            Path(clip.source).suffix if clip.kind == "still" else ".png",
            4,
        )
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


def preview_name(manifest: Path) -> str:
    """The previews' base name: the manifest's, without ``.unshutter...``."""
    return manifest.name.split(".unshutter")[0]


def check_writes(cfg: RunConfig, clip: Clip, target: OutputTarget, num: Numbering) -> None:
    """Refuse (ParameterError, exit 2, as farm tasks do) a run that would write over its own input.

    Checked before anything is written: the output sequence landing among the
    input plates (same resolved folder, prefix and suffix, any padding), and
    any single file of the run (frames, movie, manifest, guidance maps,
    previews) that is an input file, symlinks followed. Guidance maps may not
    replace this run's own output frames either.
    """
    out_opt = f"-o {cfg.output}"
    dbg_opt = f"--guidance-debug {cfg.guidance_debug}"
    debug_dir = Path(cfg.guidance_debug) if cfg.guidance_debug else None
    if target.pattern is not None:
        check_channels(
            out_opt if not cfg.format else f"--format {cfg.format}", target.pattern.suffix, clip.meta.channel_names
        )
    if debug_dir is not None and debug_dir.exists() and not debug_dir.is_dir():
        raise ParameterError(f"{dbg_opt}: exists and is not a folder")
    if clip.pattern is not None:
        if target.pattern is not None:
            sequence.refuse_over_plates(
                out_opt, target.pattern.dirname, target.pattern.prefix, target.pattern.suffix, clip.pattern
            )
        if debug_dir is not None:
            sequence.refuse_over_plates(dbg_opt, debug_dir, GUIDANCE_DEBUG_PREFIX, GUIDANCE_DEBUG_SUFFIX, clip.pattern)
    inputs = [clip.pattern.path(f) for f in clip.frames] if clip.pattern is not None else [Path(clip.source)]
    real_inputs = {os.path.realpath(p): p for p in inputs}
    folders: dict[Path, str] = {}
    outputs = target.files(num)
    manifest = target.manifest_path(cfg.frames)
    maps = [guidance_debug_path(debug_dir, f) for f in num.frames] if debug_dir is not None else []
    writes: list[tuple[str, list[Path]]] = [(out_opt, outputs + [manifest]), (dbg_opt, maps)]
    if cfg.preview:
        from unshutter.preview import preview_paths

        writes.append(("--preview", list(preview_paths(target.folder, preview_name(manifest)))))
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
