"""Motion vectors an artist draws: constant or keyframed, in px per exposure at full resolution.

A track holds keys (frame -> (dx, dy)) and interpolates linearly between
them; before the first key and after the last it holds the end value. x is
to the right, y down, as in the guidance contract.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

# unit vectors of the named directions (y down); the diagonals have length 1 too
UNIT: dict[str, tuple[float, float]] = {
    "right": (1.0, 0.0),
    "left": (-1.0, 0.0),
    "up": (0.0, -1.0),
    "down": (0.0, 1.0),
    "up-right": (math.sqrt(0.5), -math.sqrt(0.5)),
    "up-left": (-math.sqrt(0.5), -math.sqrt(0.5)),
    "down-left": (-math.sqrt(0.5), math.sqrt(0.5)),
    "down-right": (math.sqrt(0.5), math.sqrt(0.5)),
}
# Animation-from-Blur labels 1-4 are quadrants: their diagonal
LABEL_UNIT: dict[int, tuple[float, float]] = {
    1: UNIT["up-right"],
    2: UNIT["up-left"],
    3: UNIT["down-left"],
    4: UNIT["down-right"],
}


@dataclass(frozen=True)
class MotionTrack:
    """A motion vector over frames. Shapes: frames [K] int, values [K, 2] float (px per exposure)."""

    frames: tuple[int, ...]
    values: tuple[tuple[float, float], ...]

    @staticmethod
    def constant(dx: float, dy: float) -> MotionTrack:
        return MotionTrack((0,), ((float(dx), float(dy)),))

    def at(self, frame: int) -> tuple[float, float]:
        """The vector on ``frame``: linear between keys, held outside them."""
        if len(self.frames) == 1:
            return self.values[0]
        v = np.asarray(self.values, np.float64)
        return (float(np.interp(frame, self.frames, v[:, 0])), float(np.interp(frame, self.frames, v[:, 1])))

    def scaled(self, sx: float, sy: float) -> MotionTrack:
        return MotionTrack(self.frames, tuple((x * sx, y * sy) for x, y in self.values))


def unit_of(direction: Any) -> tuple[float, float] | None:
    """The unit vector of a direction name or label 1-4; None for static (no length possible)."""
    if isinstance(direction, int):
        return LABEL_UNIT.get(direction)
    return UNIT.get(str(direction))


def keyed(value: Any) -> dict[int, Any] | None:
    """``{frame: value}`` for a keyframed field (keys are frame numbers, as ints or strings), else None."""
    if not isinstance(value, dict):
        return None
    return {int(k): v for k, v in value.items()}


def track_from(motion: Any = None, direction: Any = None, length: Any = None) -> MotionTrack:
    """A track from a validated ``motion`` ([dx, dy] or {frame: [dx, dy]}) or ``direction`` + ``length``
    (a number or {frame: number})."""
    if motion is not None:
        keys = keyed(motion)
        if keys is None:
            return MotionTrack.constant(*motion)
        frames = tuple(sorted(keys))
        return MotionTrack(frames, tuple((float(keys[f][0]), float(keys[f][1])) for f in frames))
    ux, uy = unit_of(direction) or (0.0, 0.0)
    keys = keyed(length)
    if keys is None:
        return MotionTrack.constant(ux * float(length), uy * float(length))
    frames = tuple(sorted(keys))
    return MotionTrack(frames, tuple((ux * float(keys[f]), uy * float(keys[f])) for f in frames))


def parse_vector(text: str, option: str = "--motion") -> tuple[float, float]:
    """'40,0' or '40 0' -> (40.0, 0.0); ValueError naming ``option`` otherwise."""
    parts = text.replace(",", " ").split()
    try:
        dx, dy = (float(p) for p in parts)
    except ValueError:
        raise ValueError(f"{option} {text!r}: expected DX,DY in pixels per exposure, e.g. 40,0") from None
    if not (math.isfinite(dx) and math.isfinite(dy)):
        raise ValueError(f"{option} {text!r}: must be finite numbers")
    if max(abs(dx), abs(dy)) > MAX_MOTION_PX:
        raise ValueError(f"{option} {text!r}: more than {MAX_MOTION_PX:g} px per exposure")
    return dx, dy


MAX_MOTION_PX = 10000.0
"""Largest motion component accepted (px per exposure at full resolution), in files and on the command line."""
