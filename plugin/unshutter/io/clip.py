"""ClipReader: one interface over image sequences and movie files."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from unshutter.errors import InputError, ParameterError
from unshutter.io import movie, sequence
from unshutter.io.files import require_regular
from unshutter.io.image_file import ImageMeta, read_header, read_image


# The largest magnitude a pixel may have: sums of sub-frames near float32's limit (3.4e38) overflow
# to Inf, and Inf - Inf is NaN. Nothing physical in scene-linear light comes near it.
MAX_VALUE = 1e30


@dataclass
class Clip:
    """A clip's frames and how to read them; pixels come back as float32 [H, W, C]."""

    source: str
    kind: str  # "sequence" | "movie" | "still" (one image without a frame number: frame 1)
    frames: list[int]
    meta: ImageMeta
    rate: Fraction
    pattern: sequence.SequencePattern | None = None
    _movie: movie.MovieReader | None = field(default=None, repr=False)

    @property
    def first(self) -> int:
        return self.frames[0]

    @property
    def last(self) -> int:
        return self.frames[-1]

    @property
    def width(self) -> int:
        return self.meta.width

    @property
    def height(self) -> int:
        return self.meta.height

    def frame_path(self, frame: int) -> str:
        if self.pattern is not None:
            return str(self.pattern.path(frame))
        return f"{self.source} frame {frame}"

    def read(self, frame: int) -> np.ndarray:
        """All channels of ``frame``, checked for size and finite values.

        Shape:
            -> [H, W, C] float32
        """
        if frame < self.first or frame > self.last:
            raise InputError(f"{self.source}: frame {frame} is outside the clip ({self.first}-{self.last})")
        if self.pattern is not None:
            path = self.pattern.path(frame)
            if not path.exists():
                raise InputError(f"{path}: frame {frame} is missing")
            pixels, meta = read_image(path)
            if (meta.width, meta.height) != (self.width, self.height):
                raise InputError(
                    f"{path}: frame {frame} is {meta.width}x{meta.height}, the clip is {self.width}x{self.height}"
                )
            if len(meta.channel_names) != len(self.meta.channel_names):
                raise InputError(
                    f"{path}: frame {frame} has {len(meta.channel_names)} channels, the clip has {len(self.meta.channel_names)}"
                )
        elif self.kind == "still":
            pixels, _ = read_image(Path(self.source))
        else:
            assert self._movie is not None
            pixels = self._movie.read(frame)
        if not np.isfinite(pixels).all():
            raise InputError(f"{self.frame_path(frame)}: frame {frame} contains NaN or Inf values")
        if pixels.size and float(np.abs(pixels).max()) > MAX_VALUE:
            raise InputError(
                f"{self.frame_path(frame)}: frame {frame} has values beyond +-{MAX_VALUE:g}, "
                "more than the float arithmetic of a frame can hold"
            )
        return pixels

    def close(self) -> None:
        if self._movie is not None:
            self._movie.close()


MAX_FPS = 1000.0


def check_fps(fps: float) -> None:
    """Refuse a frame rate no clip can have (NaN, Inf, zero, negative, beyond MAX_FPS): ParameterError."""
    if not (0.0 < fps <= MAX_FPS):
        raise ParameterError(f"--fps {fps}: must be a frame rate above 0 and at most {MAX_FPS:g}")


def open_clip(spec: str, fps: float | None = None) -> Clip:
    """Open a sequence spec or a movie file; raises InputError naming what is wrong.

    ``fps`` overrides the clip's own rate (ParameterError when impossible).
    """
    if fps is not None:
        check_fps(fps)
    p = Path(spec)
    if p.suffix.lower() in movie.MOVIE_EXTS and not sequence.is_sequence_spec(spec):
        try:
            require_regular(p)
        except FileNotFoundError:
            raise InputError(f"{spec}: movie file not found") from None
        w, h, n, rate = movie.probe(p)
        if n == 0:
            raise InputError(f"{spec}: movie has no video frames")
        meta = ImageMeta(w, h, ["R", "G", "B"], "uint8", 8, {}, "movie")
        return Clip(
            spec,
            "movie",
            list(range(n)),
            meta,
            Fraction(fps).limit_denominator(1001) if fps else rate,
            None,
            movie.MovieReader(p),
        )
    try:
        pat, explicit = sequence.parse_pattern(spec)
    except ParameterError:
        if not p.is_file():
            raise
        return _open_still(p, fps)
    frames = sequence.resolve_frames(pat, explicit)
    first = pat.path(frames[0])
    if read_header(first) is None:
        raise InputError(f"{first}: unreadable image (frame {frames[0]})")
    _, meta = read_image(first)  # full header incl. attributes
    rate = Fraction(fps).limit_denominator(1001) if fps else _rate_from_meta(meta)
    return Clip(spec, "sequence", frames, meta, rate, pat)


def _open_still(path: Path, fps: float | None) -> Clip:
    """A lone image without a frame number (a photo): a one-frame clip, frame 1, with no neighbours."""
    if read_header(path) is None:
        raise InputError(f"{path}: unreadable image")
    _, meta = read_image(path)
    rate = Fraction(fps).limit_denominator(1001) if fps else _rate_from_meta(meta)
    return Clip(str(path), "still", [1], meta, rate)


def _rate_from_meta(meta: ImageMeta) -> Fraction:
    for key in ("FramesPerSecond", "framesPerSecond", "dpx:FrameRate"):
        if key in meta.attributes:
            _, value = meta.attributes[key]
            try:
                if isinstance(value, (tuple, list)) and len(value) == 2:
                    return Fraction(int(value[0]), int(value[1]))
                v = float(value)
                if v > 0:
                    return Fraction(v).limit_denominator(1001)
            except (TypeError, ValueError, ZeroDivisionError):
                continue
    return Fraction(24)
