"""Colour: file encodings <-> scene-linear, and scene-linear <-> network encoding.

The decomposition and the reblur constraint work in scene-linear light
(working space "Linear Rec.709 (sRGB)"). Conversions from the file's colour
space go through OpenColorIO. The network sees an exposure-normalised,
sRGB-encoded version of the linear frame; values above the normalisation
point are never clipped, so HDR highlights survive.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from unshutter import kernels
from unshutter.errors import ParameterError

WORKING_SPACE = "Linear Rec.709 (sRGB)"
DEFAULT_CONFIG = "ocio://default"

_ALIASES = {
    "linear": WORKING_SPACE,
    "scene-linear": WORKING_SPACE,
    "scene_linear": WORKING_SPACE,
    "srgb": "sRGB Encoded Rec.709 (sRGB)",
    "rec709": "Gamma 2.4 Encoded Rec.709",  # a display gamma, not the BT709 camera curve below
    "acescg": "ACEScg",
    "aces": "ACES2065-1",
    "raw": "Raw",
}


def default_colorspace(is_float: bool) -> str:
    """EXR/float files are scene-linear; integer files are sRGB-encoded."""
    return WORKING_SPACE if is_float else "sRGB Encoded Rec.709 (sRGB)"


@lru_cache(maxsize=8)
def _config(path: str):
    import PyOpenColorIO as ocio

    try:
        return ocio.Config.CreateFromFile(path)
    except Exception as exc:  # OCIO raises its own Exception type
        raise ParameterError(f"OCIO config {path}: {exc}".splitlines()[0]) from None


@lru_cache(maxsize=32)
def _processor(config_path: str, src: str, dst: str):
    cfg = _config(config_path)
    try:
        return cfg.getProcessor(src, dst).getDefaultCPUProcessor()
    except Exception as exc:
        raise ParameterError(f"colour space {src!r} -> {dst!r} in {config_path}: {str(exc).splitlines()[0]}") from None


@dataclass(frozen=True)
class ColorTransform:
    """Converts a file's colour space to the linear working space and back."""

    colorspace: str
    config: str = DEFAULT_CONFIG

    def __post_init__(self) -> None:
        object.__setattr__(self, "colorspace", _ALIASES.get(self.colorspace.lower(), self.colorspace))
        cfg = _config(self.config)
        if cfg.getColorSpace(self.colorspace) is None:
            raise ParameterError(f"--colorspace {self.colorspace!r} is not in OCIO config {self.config}")

    @property
    def is_identity(self) -> bool:
        return self.colorspace in (WORKING_SPACE, "Raw")

    @property
    def signature(self) -> str:
        """What the transform computes, both ways: OCIO's cache ids of its ops (LUT contents
        included), not the config's path, so a config seen through farm path mapping matches."""
        if self.is_identity:
            return self.colorspace
        fwd = _processor(self.config, self.colorspace, WORKING_SPACE).getCacheID()
        inv = _processor(self.config, WORKING_SPACE, self.colorspace).getCacheID()
        return hashlib.sha256(f"{fwd}|{inv}".encode()).hexdigest()[:32]

    def to_linear(self, rgb: np.ndarray) -> np.ndarray:
        """Shape: [H, W, 3] float32 in the file's space -> [H, W, 3] scene-linear."""
        if self.is_identity:
            return rgb
        out = np.ascontiguousarray(rgb, dtype=np.float32).copy()
        _apply_rows(_processor(self.config, self.colorspace, WORKING_SPACE), out)
        return out

    def from_linear(self, rgb: np.ndarray) -> np.ndarray:
        """Shape: [H, W, 3] scene-linear -> [H, W, 3] in the file's space."""
        if self.is_identity:
            return rgb
        out = np.ascontiguousarray(rgb, dtype=np.float32).copy()
        _apply_rows(_processor(self.config, WORKING_SPACE, self.colorspace), out)
        return out


APPLY_ROWS = 64
"""Rows per call of OCIO's ``applyRGB``. Its Python binding copies the whole buffer it is given (a
3840x2160 frame: 0.47 GB more at the peak, in the writing of 4K sub-frames), and bands of 64 rows
are converted three times faster: 12 against 36 ms for a 1280x720 frame, 0.10 against 0.31 s at 4K,
the same values to the bit (a colour transform works pixel by pixel)."""


def _apply_rows(processor: Any, out: np.ndarray) -> None:
    """``processor.applyRGB`` on ``out`` in place, :data:`APPLY_ROWS` rows at a time.

    Shape: out [H, W, 3] (or [N, 3]) float32, C-contiguous
    """
    if out.ndim < 2:  # flat triplets: a band could split one
        processor.applyRGB(out)
        return
    for y0 in range(0, out.shape[0], APPLY_ROWS):
        processor.applyRGB(out[y0 : y0 + APPLY_ROWS])


# ------------------------------------------------------------ network encoding

EXPOSURE_PERCENTILE = 99.9


def exposure_scale(linear: np.ndarray) -> float:
    """Normalisation so the frame's bright end maps to 1.0 (never below 1).

    Shape:
        linear: [H, W, 3]
    """
    pixels = linear.shape[0] * linear.shape[1]
    if pixels > 262144:  # a strided subsample is plenty for a percentile (taken before the max: 1/step^2 the work)
        step = int(np.ceil(np.sqrt(pixels / 262144)))
        linear = linear[::step, ::step]
    peak = linear.max(axis=-1)
    p = float(np.percentile(peak, EXPOSURE_PERCENTILE))
    if not np.isfinite(p):
        return 1.0
    return max(1.0, p)


def to_network(linear: np.ndarray, scale: float) -> np.ndarray:
    """Scene-linear -> network encoding. Shape: [..., 3] -> [..., 3]."""
    linear = np.ascontiguousarray(linear, np.float32)
    return kernels.srgb_encode(linear / np.float32(scale) if scale != 1.0 else linear)  # x / 1 is x


def from_network(encoded: np.ndarray, scale: float) -> np.ndarray:
    """Network encoding -> scene-linear (unbounded). Shape: [..., 3] -> [..., 3]."""
    linear = kernels.srgb_decode(np.ascontiguousarray(encoded, np.float32))
    if scale != 1.0:  # display-referred frames (every 8-bit one): x * 1 is x, so no frame-sized product
        linear *= np.float32(scale)
    return linear


# ------------------------------------------------------------ fixed curves (hosts without OCIO)

BT709 = "bt709"
"""The BT.709 camera transfer function (linear segment below 0.018, 0.45 power above): what the
OFX plugin's "Rec.709" input colour means. Not the OCIO space "Gamma 2.4 Encoded Rec.709" that
``--colorspace rec709`` names for files."""

CURVES = ("linear", "srgb", BT709)
"""Encodings of RGB handed over in memory (the OFX worker's pixels), each decoded by a fixed curve."""


def decode(rgb: np.ndarray, curve: str) -> np.ndarray:
    """RGB encoded with ``curve`` -> scene-linear (any shape; a new array unless already linear)."""
    if curve == "linear":
        return rgb
    fn = {"srgb": kernels.srgb_decode, BT709: kernels.rec709_decode}[curve]
    return fn(np.ascontiguousarray(rgb, np.float32))


def encode(rgb: np.ndarray, curve: str) -> np.ndarray:
    """Scene-linear RGB -> encoded with ``curve`` (the inverse of :func:`decode`)."""
    if curve == "linear":
        return rgb
    fn = {"srgb": kernels.srgb_encode, BT709: kernels.rec709_encode}[curve]
    return fn(np.ascontiguousarray(rgb, np.float32))
