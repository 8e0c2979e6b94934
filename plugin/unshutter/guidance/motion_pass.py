"""Per-pixel motion from a motion-vector pass: the motion a renderer, a tracker or another retimer wrote.

CG renders and compositing tools store motion vectors as image channels, one
file per frame, per frame interval. Conventions differ, and each is stated
here rather than guessed from the numbers:

- **units**: pixels at the pass's resolution (``units="px"``, the default:
  Nuke, Blender), or normalised to the pass's frame, each axis by its own
  side: ``ndc`` spans -1..1 across the frame (px = v * side / 2), ``uv``
  spans 0..1 (px = v * side), as real-time engines' velocity buffers and
  some compositing tools write them.

- **y direction**: Nuke's and Blender's pixel coordinates have their origin
  at the bottom left, y up, so a positive ``forward.v`` or ``Vector.Y`` moves
  up the picture (``y="up"``, the default). Passes in image rows (y down,
  OpenCV-style optical flow) take ``y="down"``.
- **which way the vector points**: ``forward`` vectors point where a pixel
  goes in the next frame (Nuke's ``forward.u/v``); ``backward`` vectors point
  against the motion: Nuke's ``backward.u/v`` toward the previous frame, and
  both pairs of Blender's ``Vector`` pass (X, Y: previous minus current
  position; Z, W: current minus next). ``auto`` tells them by channel name
  and takes other names as forward.

The result is what the neighbour flow gives: motion per frame interval at
the plate's resolution, x right, y down. The node turns it into motion per
exposure by the shutter angle (:func:`unshutter.guidance.encode.guidance_from_motion`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from unshutter.errors import InputError, ParameterError

Y_CONVENTIONS = ("up", "down")
POINTS = ("auto", "forward", "backward")
UNITS = ("px", "ndc", "uv")

CHANNEL_SEARCH: tuple[tuple[str, str, str], ...] = (
    ("forward.u", "forward.v", "forward"),  # Nuke's motion layer (VectorGenerator, ScanlineRender, Kronos)
    ("backward.u", "backward.v", "backward"),
    ("Vector.Z", "Vector.W", "backward"),  # Blender's Vector pass: current minus next position
    ("Vector.X", "Vector.Y", "backward"),  # ... and previous minus current
)
"""Channel pairs looked for, in this order, when none are given: (x, y, which way the vector points).
A name matches a channel of that name or one ending in ``.name`` (``ViewLayer.Vector.Z`` of a multilayer EXR)."""

ASPECT_TOLERANCE_PX = 1.0
"""A pass at another resolution than the plate must show the same picture: each side scaled by the same
factor, give or take this many pixels of rounding."""


def parse_channels(text: str | None, option: str = "--motion-pass-channels") -> tuple[str, str] | None:
    """``"forward.u,forward.v"`` -> ("forward.u", "forward.v"); None or "" -> None (search)."""
    if text is None or not str(text).strip():
        return None
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 2 or not all(parts):
        raise ParameterError(f"{option} {text!r}: expected two channel names X,Y (e.g. forward.u,forward.v)")
    return parts[0], parts[1]


def check_conventions(y: str, points: str, units: str = "px", where: str = "--motion-pass") -> None:
    if y not in Y_CONVENTIONS:
        raise ParameterError(f"{where}-y {y!r}: choose up or down")
    if points not in POINTS:
        raise ParameterError(f"{where}-points {points!r}: choose auto, forward or backward")
    if units not in UNITS:
        raise ParameterError(f"{where}-units {units!r}: choose px, ndc or uv")


def px_per_unit(units: str, width: int, height: int) -> tuple[float, float]:
    """Pixels of a ``width`` x ``height`` frame per unit of a vector in ``units``, along x and along y:
    ndc spans 2 units across the frame, uv 1."""
    if units == "ndc":
        return width / 2.0, height / 2.0
    if units == "uv":
        return float(width), float(height)
    return 1.0, 1.0


def _matches(channel: str, name: str) -> bool:
    return channel == name or channel.endswith("." + name)


def _points_of(names: tuple[str, str]) -> str:
    """Which way a named pair points: backward for Nuke's backward layer and Blender's Vector pass."""
    for x, y, points in CHANNEL_SEARCH:
        if _matches(names[0], x) and _matches(names[1], y):
            return points
    return "forward"


@lru_cache(maxsize=64)
def _pattern(spec: str) -> object | None:
    from unshutter.io import sequence

    if not sequence.is_sequence_spec(spec):
        return None
    return sequence.parse_pattern(spec)[0]


@dataclass(frozen=True)
class MotionPass:
    """A motion-vector pass: a file pattern matched frame for frame with the plates, its channels and
    conventions. ``where`` names it in errors (``--motion-pass``, or an override region's field)."""

    spec: str
    channels: tuple[str, str] | None = None  # None: the first pair of CHANNEL_SEARCH the file has
    y: str = "up"
    points: str = "auto"
    units: str = "px"  # px at the pass's resolution, or normalised to its frame (ndc, uv)
    where: str = "--motion-pass"

    def __post_init__(self) -> None:
        check_conventions(self.y, self.points, self.units, self.where)
        if not str(self.spec).strip():
            raise ParameterError(f"{self.where}: empty file pattern")
        try:
            _pattern(self.spec)
        except ParameterError as exc:
            raise ParameterError(f"{self.where} {self.spec}: {exc}") from None

    def path(self, frame: int) -> Path:
        """The file of ``frame``: a pattern's frame, or the one file for every frame (a lone still)."""
        pat = _pattern(self.spec)
        return Path(self.spec) if pat is None else pat.path(frame)  # type: ignore[attr-defined]

    def motion(self, frame: int, h: int, w: int) -> np.ndarray:
        """Motion per frame interval of ``frame`` at an h x w plate, x right, y down.

        Shape: -> [h, w, 2] float32 px per frame interval
        """
        path = self.path(frame)
        uv, names = read_vectors(path, frame, self.channels, self.where)
        ph, pw = uv.shape[:2]
        kx, ky = px_per_unit(self.units, pw, ph)  # -> px at the pass's resolution
        if (ph, pw) != (h, w):
            if abs(pw * h / ph - w) > ASPECT_TOLERANCE_PX or abs(ph * w / pw - h) > ASPECT_TOLERANCE_PX:
                raise InputError(
                    f"{path}: motion pass is {pw}x{ph}, the plate {w}x{h} (frame {frame}): "
                    "not the same picture at another resolution"
                )
            shrink = w < pw or h < ph
            uv = cv2.resize(uv, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
            kx, ky = kx * (w / pw), ky * (h / ph)  # px at the pass's resolution -> px at the plate's
        points = self.points if self.points != "auto" else _points_of(names)
        sign = -1.0 if points == "backward" else 1.0
        uv[..., 0] *= np.float32(sign * kx)  # one multiply per axis: px passes keep their bits
        uv[..., 1] *= np.float32(sign * ky * (-1.0 if self.y == "up" else 1.0))
        return uv


def check_pass_files(mpass: MotionPass, frames: list[int], size: tuple[int, int]) -> None:
    """Refuse, before anything is rendered, a pass that lacks the file of one of ``frames``, or whose first
    file lacks the channels or the plate's picture (``size`` = height, width); the rest are read, and
    checked, frame by frame."""
    for f in frames:
        path = mpass.path(f)
        if not path.is_file():
            raise InputError(f"{path}: motion pass missing at frame {f} ({mpass.where} {mpass.spec})")
    if frames:
        mpass.motion(frames[0], *size)


def read_vectors(
    path: Path, frame: int, channels: tuple[str, str] | None, where: str
) -> tuple[np.ndarray, tuple[str, str]]:
    """The two vector channels of ``path`` as stored (its display window; no data outside the data window
    is no motion), and their names.

    Shape: -> [H, W, 2] float32
    """
    from unshutter.io.image_file import first_line, open_input

    inp = open_input(
        path, f"motion pass missing at frame {frame} ({where})", f"unreadable motion pass at frame {frame}"
    )
    try:
        found = None
        seen: list[str] = []
        sub = 0
        while inp.seek_subimage(sub, 0):  # a multi-part EXR keeps its layers in parts
            spec = inp.spec()
            names = list(spec.channelnames)
            seen += names
            found = _find(names, channels)
            if found is not None:
                break
            sub += 1
        if found is None:
            wanted = ",".join(channels) if channels else " or ".join(f"{x},{y}" for x, y, _ in CHANNEL_SEARCH)
            raise InputError(
                f"{path}: motion pass has no channels {wanted} (frame {frame}; it has {', '.join(seen) or 'none'}); "
                f"name them with {where}-channels"
                if where.startswith("--")
                else f"{path}: {where}: no channels {wanted} (frame {frame}; it has {', '.join(seen) or 'none'})"
            )
        (ix, iy), pair = found
        lo, hi = min(ix, iy), max(ix, iy) + 1
        pixels = inp.read_image(sub, 0, lo, hi, "float")
        err = inp.geterror()
        if pixels is None or err:
            raise InputError(f"{path}: corrupt motion pass at frame {frame} ({first_line(err, 'read failed')})")
        data = np.asarray(pixels, np.float32).reshape(spec.height, spec.width, hi - lo)
        uv = np.stack([data[..., ix - lo], data[..., iy - lo]], axis=-1)  # [h, w, 2]
        if (spec.x, spec.y, spec.width, spec.height) != (spec.full_x, spec.full_y, spec.full_width, spec.full_height):
            uv = _in_display_window(uv, spec)
    finally:
        inp.close()
    bad = ~np.isfinite(uv)
    if bad.any():
        raise InputError(
            f"{path}: motion pass has {int(bad.any(axis=-1).sum())} pixels that are not finite numbers "
            f"in {pair[0]},{pair[1]} (frame {frame})"
        )
    return np.ascontiguousarray(uv), pair


def _find(names: list[str], channels: tuple[str, str] | None) -> tuple[tuple[int, int], tuple[str, str]] | None:
    """Indices and names of the wanted pair (given, or the first of CHANNEL_SEARCH) among ``names``."""
    pairs = [channels] if channels else [(x, y) for x, y, _ in CHANNEL_SEARCH]
    for x, y in pairs:
        ix = next((i for i, n in enumerate(names) if n == x), None)  # an exact name first
        iy = next((i for i, n in enumerate(names) if n == y), None)
        if ix is None or iy is None:
            ix = next((i for i, n in enumerate(names) if _matches(n, x)), None)
            iy = next((i for i, n in enumerate(names) if _matches(n, y)), None)
        if ix is not None and iy is not None:
            return (ix, iy), (names[ix], names[iy])
    return None


def _in_display_window(uv: np.ndarray, spec: object) -> np.ndarray:
    """The data window's vectors placed in the display window, zero (no motion) elsewhere.

    Shape: [h, w, 2] -> [H, W, 2]
    """
    fx, fy = spec.full_x, spec.full_y  # type: ignore[attr-defined]
    fw, fh = spec.full_width, spec.full_height  # type: ignore[attr-defined]
    out = np.zeros((fh, fw, 2), np.float32)
    x0, y0 = spec.x - fx, spec.y - fy  # type: ignore[attr-defined]
    sx0, sy0 = max(0, -x0), max(0, -y0)
    dx0, dy0 = max(0, x0), max(0, y0)
    wd = min(uv.shape[1] - sx0, fw - dx0)
    hd = min(uv.shape[0] - sy0, fh - dy0)
    if wd > 0 and hd > 0:
        out[dy0 : dy0 + hd, dx0 : dx0 + wd] = uv[sy0 : sy0 + hd, sx0 : sx0 + wd]
    return out


def write_vectors(
    path: Path, motion: np.ndarray, y: str = "up", names: tuple[str, str] = ("forward.u", "forward.v")
) -> None:
    """Write motion (px per frame interval, x right, y down) as a half-float EXR pass of forward vectors in
    the ``y`` convention: what a compositor's vector pass holds (the bench reads it back through :class:`MotionPass`).

    Shape: motion [H, W, 2]
    """
    from unshutter.io.image_file import ImageMeta, write_image

    h, w = motion.shape[:2]
    data = np.ascontiguousarray(motion, np.float32).copy()
    if y == "up":
        data[..., 1] *= -1.0
    write_image(path, data, ImageMeta(w, h, list(names), "half", 16, {}, "openexr"), scratch=True)
