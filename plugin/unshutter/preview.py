"""Contact sheet and animated preview of the sub-frames: people would rather look than read."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import OpenImageIO as oiio

from unshutter import kernels
from unshutter.io.image_file import write_pixels

THUMB_WIDTH = 320
MAX_ANIM_FRAMES = 240


def thumbnail(linear: np.ndarray) -> np.ndarray:
    """Scene-linear RGB -> small sRGB uint8 image. Shape: [H, W, 3] -> [h, 320, 3]."""
    h, w = linear.shape[:2]
    tw = min(THUMB_WIDTH, w)
    th = max(1, round(h * tw / w))
    small = cv2.resize(np.ascontiguousarray(linear, np.float32), (tw, th), interpolation=cv2.INTER_AREA)
    disp = kernels.srgb_encode(np.clip(small, 0.0, 1.0))
    return (np.clip(disp, 0, 1) * 255.0 + 0.5).astype(np.uint8)


def contact_sheet(rows: list[list[np.ndarray]], gap: int = 4) -> np.ndarray:
    """Rows of equally sized thumbnails -> one image. Shape: -> [H, W, 3] uint8."""
    th, tw = rows[0][0].shape[:2]
    cols = max(len(r) for r in rows)
    sheet = np.full((len(rows) * (th + gap) + gap, cols * (tw + gap) + gap, 3), 24, np.uint8)
    for r, row in enumerate(rows):
        for c, img in enumerate(row):
            y, x = gap + r * (th + gap), gap + c * (tw + gap)
            sheet[y : y + th, x : x + tw] = img
    return sheet


def _write_png(path: Path, img: np.ndarray) -> None:
    write_pixels(path, oiio.ImageSpec(img.shape[1], img.shape[0], 3, "uint8"), img)


def _write_movie(path: Path, frames: list[np.ndarray], fps: float) -> None:
    from fractions import Fraction

    from unshutter.io.movie import MovieWriter

    h, w = frames[0].shape[:2]
    writer = MovieWriter(path, w, h, Fraction(fps).limit_denominator(1001), "h264")
    ok = False
    try:
        for f in frames:
            writer.write(f.astype(np.float32) / 255.0)
        ok = True
    finally:
        writer.close(ok)


def preview_paths(folder: Path, name: str) -> tuple[Path, Path]:
    """Where the previews of run ``name`` go: the contact sheet and the animated preview."""
    return folder / f"{name}.contact.png", folder / f"{name}.preview.mp4"


def write_previews(
    folder: Path, name: str, rows: list[list[np.ndarray]], anim: list[np.ndarray], fps: float
) -> list[Path]:
    """Write ``<name>.contact.png`` and ``<name>.preview.mp4`` (H.264); returns their paths."""
    sheet, mp4 = preview_paths(folder, name)
    _write_png(sheet, contact_sheet(rows))
    step = max(1, len(anim) // MAX_ANIM_FRAMES)
    _write_movie(mp4, anim[::step], min(fps, 60.0))
    return [sheet, mp4]
