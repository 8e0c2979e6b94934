"""``unshutter run --alternatives``: the plausible decompositions of a clip or lone still without guidance.

A still alone shows the axis and length of its blur, not which way time
ran (:mod:`unshutter.guidance.blur_estimate`). So this renders one
decomposition per candidate motion (both time orders of the strongest axis,
then of a second axis when the blur shows one), each into its own numbered
folder as an ordinary run with ``--motion``, and a contact sheet of the
middle frame's sub-frames, one row per candidate, for the artist to pick.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from unshutter import color
from unshutter.errors import InputError, ParameterError
from unshutter.guidance.blur_estimate import BlurAxis, estimate_axes
from unshutter.io import atomic, movie, sequence
from unshutter.io.clip import open_clip
from unshutter.pipeline import RunConfig, RunResult, run

SHEET_NAME = "alternatives.png"
LIST_NAME = "alternatives.json"


@dataclass
class Alternative:
    folder: Path
    motion: tuple[float, float]
    axis: BlurAxis
    result: RunResult


def _layout(output: str) -> tuple[Path, str | None]:
    """The folder the numbered folders go in, and the name inside each (None: a folder output)."""
    p = Path(output)
    if p.suffix.lower() in movie.MOVIE_EXTS and not sequence.is_sequence_spec(output):
        raise ParameterError(f"-o {output}: --alternatives writes image sequences; give a folder or a pattern")
    if sequence.is_sequence_spec(output):
        return p.parent, p.name
    return p, None


def candidates(cfg: RunConfig, axes: int = 2) -> tuple[int, list[tuple[tuple[float, float], BlurAxis]]]:
    """The middle source frame and its candidate motions (px per exposure, full resolution), strongest first."""
    clip = open_clip(cfg.input, cfg.fps)
    try:
        a, b = cfg.frames or (clip.first, clip.last)
        mid = (a + b) // 2
        pixels = clip.read(mid)
        from unshutter.pipeline import split_channels

        rgb, _ = split_channels(pixels, clip.meta)
        cs = color.ColorTransform(cfg.colorspace or color.default_colorspace(clip.meta.is_float), cfg.ocio)
        lin = cs.to_linear(rgb)
    finally:
        clip.close()
    found = estimate_axes(color.to_network(lin, color.exposure_scale(lin)), axes)
    if not found:
        raise InputError(
            f"{cfg.input}: frame {mid}: no motion blur found to offer alternatives for; give --motion DX,DY"
        )
    return mid, [(ax.vector(sign), ax) for ax in found for sign in (1.0, -1.0)]


def run_alternatives(
    cfg: RunConfig, axes: int = 2, progress: Callable[[dict], None] | None = None
) -> tuple[list[Alternative], Path]:
    """Render every candidate into ``<out>/01``, ``<out>/02``...; returns them and the contact sheet's path."""
    if cfg.params.motion is not None:
        raise ParameterError("--alternatives finds the motion itself: leave out --motion")
    if cfg.params.motion_pass is not None:
        raise ParameterError("--alternatives finds the motion itself: leave out --motion-pass")
    root, name = _layout(cfg.output)
    mid, cands = candidates(cfg, axes)
    alts = []
    for i, (vec, ax) in enumerate(cands, 1):
        folder = root / f"{i:02d}"
        out = str(folder / name) if name else str(folder)
        motion = (round(vec[0], 2), round(vec[1], 2))
        res = run(replace(cfg, output=out, params=replace(cfg.params, motion=motion)), progress)
        alts.append(Alternative(folder, motion, ax, res))
    sheet = root / SHEET_NAME
    rows = [_labelled_row(i, alt, mid) for i, alt in enumerate(alts, 1)]
    from unshutter.preview import _write_png, contact_sheet

    _write_png(sheet, contact_sheet(rows))
    listing = [
        {
            "folder": str(alt.folder),
            "motion": list(alt.motion),
            "axis_deg": alt.axis.angle_deg,
            "length_px": alt.axis.length_px,
            "strength": alt.axis.strength,
            "output": alt.result.output,
            "manifest": str(alt.result.manifest),
        }
        for alt in alts
    ]
    atomic.write_text(root / LIST_NAME, json.dumps({"source_frame": mid, "alternatives": listing}, indent=2) + "\n")
    return alts, sheet


def _labelled_row(index: int, alt: Alternative, frame: int) -> list[np.ndarray]:
    """The thumbnails of ``frame``'s sub-frames in one alternative's output, the first one labelled."""
    from unshutter.preview import thumbnail

    man = json.loads(alt.result.manifest.read_text())
    pat, _ = sequence.parse_pattern(alt.result.output)
    cs = color.ColorTransform(man["output"]["colorspace"])
    from unshutter.io.image_file import read_image

    thumbs = []
    from unshutter.pipeline import split_channels

    for o in man["frame_map"][str(frame)]:
        pixels, meta = read_image(pat.path(o))
        thumbs.append(thumbnail(cs.to_linear(split_channels(pixels, meta)[0])))
    dx, dy = alt.motion
    label = f"{index:02d}: motion {dx:g},{dy:g}"
    first = np.ascontiguousarray(thumbs[0])
    cv2.putText(first, label, (5, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(first, label, (5, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    thumbs[0] = first
    return thumbs
