"""Synthesise blurred clips from a still photo: the bundled demo clip and test clips.

A camera pans over the photo along a smooth curve; each frame integrates many
instants of its exposure in scene-linear light, so the result is physically
blurred the way a real shutter blurs.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from unshutter import kernels
from unshutter.io.image_file import ImageMeta, read_image, write_image


def camera_path(t: np.ndarray, speed: float, curve: float) -> np.ndarray:
    """Camera offset (x, y) in px at times ``t`` (frame units). Shape: [T] -> [T, 2]."""
    x = speed * t + 0.15 * speed * np.sin(0.4 * t)
    y = curve * np.sin(0.25 * t) * speed * 0.5
    return np.stack([x, y], axis=-1)


def render_clip(
    photo_linear: np.ndarray,
    n_frames: int,
    width: int,
    height: int,
    speed: float = 12.0,
    curve: float = 0.6,
    samples: int = 24,
    shutter: float = 360.0,
    gain: float = 1.0,
) -> np.ndarray:
    """Blurred frames of a pan over ``photo_linear`` (scene-linear).

    Shape:
        photo_linear: [H0, W0, 3] -> [n_frames, height, width, 3]
    """
    h0, w0 = photo_linear.shape[:2]
    frames = np.zeros((n_frames, height, width, 3), np.float32)
    span = camera_path(np.array([0.0, n_frames + 1.0]), speed, curve)
    x_base = (w0 - width) / 2 - (span[1, 0] - span[0, 0]) / 2
    y_base = (h0 - height) / 2
    for f in range(n_frames):
        ts = f + (np.arange(samples) + 0.5) / samples * shutter / 360.0
        for off in camera_path(ts, speed, curve):
            m = np.array([[1, 0, -(x_base + off[0])], [0, 1, -(y_base + off[1])]], np.float32)
            frames[f] += cv2.warpAffine(
                photo_linear, m, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
            )
        frames[f] /= samples
    return frames * np.float32(gain)


def load_photo(path: Path, width: int) -> np.ndarray:
    """A photo as scene-linear float32, resized to ``width``. Shape: -> [H, W, 3]."""
    pixels, meta = read_image(path)
    rgb = pixels[..., meta.rgb_indices]
    h = round(rgb.shape[0] * width / rgb.shape[1])
    rgb = cv2.resize(rgb, (width, h), interpolation=cv2.INTER_AREA)
    return kernels.srgb_decode(np.ascontiguousarray(rgb)) if not meta.is_float else rgb


def write_exr_sequence(
    folder: Path, name: str, frames: np.ndarray, first: int = 1001, pixel_type: str = "half", fps: float = 24.0
) -> str:
    """Write frames as ``folder/name.####.exr``; returns the pattern."""
    folder.mkdir(parents=True, exist_ok=True)
    meta = ImageMeta(
        frames.shape[2],
        frames.shape[1],
        ["R", "G", "B"],
        pixel_type,
        16 if pixel_type == "half" else 32,
        {"compression": ("string", "zip"), "FramesPerSecond": ("rational", (int(fps), 1))},
        "openexr",
    )
    for i, f in enumerate(frames):
        write_image(folder / f"{name}.{first + i:04d}.exr", f, meta)
    return str(folder / f"{name}.####.exr")


DEMO_PHOTO = Path("/usr/share/backgrounds/sunset_by_Aitzol_Berasategi.jpg")  # Debian lomiri-wallpapers


def expand_highlights(linear: np.ndarray, peak: float = 6.0) -> np.ndarray:
    """Give an 8-bit photo HDR highlights: values near 1 are pushed up to ``peak``."""
    return linear * (1.0 + (peak - 1.0) * np.clip(linear, 0.0, 1.0) ** 8)


def make_demo_clip(folder: Path, photo: Path = DEMO_PHOTO) -> str:
    """The bundled sample: 12 frames 480x270 EXR half from 1001, HDR sun (up to ~6), a curved pan.

    The photo is one the decomposer was never trained on (held out in models/decomposer.yaml).
    """
    lin = expand_highlights(load_photo(photo, 760))
    frames = render_clip(lin, 12, 480, 270, speed=14.0, curve=0.8, samples=32)
    return write_exr_sequence(folder, "sunset_pan", frames, 1001)


if __name__ == "__main__":
    import sys

    print(make_demo_clip(Path(sys.argv[1] if len(sys.argv) > 1 else "plugin/unshutter/data/sample")))
