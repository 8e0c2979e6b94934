"""Tiny blurred test media for host tests: 64x48 PNG sequences and an mp4, made with the sample renderer."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from unshutter import kernels
from unshutter.io.image_file import ImageMeta, write_image
from unshutter.io.movie import MovieWriter
from unshutter.sample import render_clip

W, H = 64, 48


def blurred_frames(n: int, seed: int, speed: float = 6.0) -> np.ndarray:
    """``n`` linear frames of a pan over smooth noise. Shape: -> [n, 48, 64, 3]."""
    rng = np.random.default_rng(seed)
    photo = cv2.GaussianBlur(rng.random((120, 200, 3)).astype(np.float32), (0, 0), 2.0)
    return render_clip(photo, n, W, H, speed=speed, samples=8)


def png_sequence(folder: Path, name: str, first: int, n: int, seed: int = 0) -> list[Path]:
    """8-bit sRGB PNGs ``folder/name.####.png``; returns the paths."""
    meta = ImageMeta(W, H, ["R", "G", "B"], "uint8", 8, {}, "png")
    paths = []
    for i, f in enumerate(blurred_frames(n, seed)):
        p = folder / f"{name}.{first + i:04d}.png"
        write_image(p, kernels.srgb_encode(np.ascontiguousarray(f)), meta)
        paths.append(p)
    return paths


def mp4(path: Path, n: int, seed: int = 0) -> Path:
    w = MovieWriter(path, W, H, Fraction(24))
    for f in blurred_frames(n, seed):
        w.write(kernels.srgb_encode(np.ascontiguousarray(f)))
    w.close(True)
    return path
