"""Movie files through PyAV: sequential decode with a small cache, H.264/ProRes encode."""

from __future__ import annotations

import contextlib
import logging
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import av
import numpy as np

from unshutter.errors import InputError, OutputError
from unshutter.io.atomic import atomic_path, check_not_cut, temp_name

log = logging.getLogger("unshutter")

MOVIE_EXTS = (".mp4", ".mov", ".mkv", ".avi", ".m4v", ".mxf", ".webm")


def probe(path: Path) -> tuple[int, int, int, Fraction]:
    """(width, height, frame count, rate) of the first video stream."""
    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                raise InputError(f"{path}: no video stream (audio only?)")
            s = c.streams.video[0]
            rate = s.average_rate or s.guessed_rate or Fraction(24)
            n = s.frames
            if not n:
                n = sum(1 for _ in c.decode(video=0))
            return s.codec_context.width, s.codec_context.height, int(n), Fraction(rate)
    except (av.FFmpegError, IndexError, OSError) as exc:
        raise InputError(f"{path}: unreadable movie ({exc})") from None


class MovieReader:
    """Decodes frames 0..n-1 in order; asking for an earlier frame restarts the decode."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._container: Any = None
        self._iter: Any = None
        self._next_index = 0
        self._cache: dict[int, np.ndarray] = {}

    def _restart(self) -> None:
        self.close()
        self._container = av.open(str(self.path))
        self._iter = self._container.decode(video=0)
        self._next_index = 0

    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` as sRGB-encoded float32 in 0..1. Shape: -> [H, W, 3]."""
        if index in self._cache:
            return self._cache[index]
        if self._iter is None or index < self._next_index:
            self._restart()
        try:
            while self._next_index <= index:
                frame = next(self._iter)
                rgb = frame.to_ndarray(format="rgb48le").astype(np.float32) / 65535.0
                self._cache[self._next_index] = rgb
                self._next_index += 1
                for old in [k for k in self._cache if k < self._next_index - 4]:
                    del self._cache[old]
        except StopIteration:
            raise InputError(f"{self.path}: frame {index} is past the end of the movie") from None
        except av.FFmpegError as exc:
            raise InputError(f"{self.path}: frame {index} cannot be decoded ({exc})") from None
        return self._cache[index]

    def close(self) -> None:
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.close()
        self._container = None
        self._iter = None


def movie_size(width: int, height: int, pix_fmt: str) -> tuple[int, int]:
    """The frame size a movie of ``pix_fmt`` can hold: 4:2:0 needs even sides (odd ones lose their last
    row or column; a side of 1 becomes 2)."""
    if pix_fmt != "yuv420p":
        return width, height
    return max(2, width - width % 2), max(2, height - height % 2)


class MovieWriter:
    """Encodes frames to a temporary file; :meth:`close` renames it into place."""

    CODECS = {".mp4": ("libx264", "yuv420p"), ".mov": ("prores_ks", "yuv422p10le"), ".mkv": ("libx264", "yuv420p")}

    def __init__(self, path: Path, width: int, height: int, rate: Fraction, codec: str | None = None) -> None:
        self.path = path
        ext = path.suffix.lower()
        name, pix = self.CODECS.get(ext, ("libx264", "yuv420p"))
        if codec == "prores":
            name, pix = "prores_ks", "yuv422p10le"
        elif codec == "h264":
            name, pix = "libx264", "yuv420p"
        self._ctx = atomic_path(path)
        tmp = self._ctx.__enter__()
        try:
            self._container = av.open(str(tmp), mode="w")
            self._stream = cast("av.video.stream.VideoStream", self._container.add_stream(name, rate=rate))
            self._stream.width, self._stream.height = movie_size(width, height, pix)
            if (self._stream.width, self._stream.height) != (width, height):
                log.warning(
                    "%s: %dx%d frames are written as %dx%d (H.264 4:2:0 needs even sizes: an odd last "
                    "row or column is dropped, a single one repeated)",
                    path,
                    width,
                    height,
                    self._stream.width,
                    self._stream.height,
                )
            self._stream.pix_fmt = pix
            if name == "libx264":
                self._stream.options = {"crf": "16", "preset": "medium"}
        except Exception as exc:
            self._ctx.__exit__(type(exc), exc, None)
            raise OutputError(f"{path}: cannot create movie ({exc})") from None

    def write(self, rgb: np.ndarray) -> None:
        """Shape: [H, W, 3] sRGB-encoded float 0..1."""
        h, w = self._stream.height, self._stream.width
        rgb = rgb[:h, :w]
        if rgb.shape[:2] != (h, w):  # a 1-pixel side: repeated to 2
            rgb = np.pad(rgb, ((0, h - rgb.shape[0]), (0, w - rgb.shape[1]), (0, 0)), mode="edge")
        data = (np.clip(rgb, 0.0, 1.0) * 65535.0 + 0.5).astype(np.uint16)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(data), format="rgb48le")
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        except (av.FFmpegError, OSError) as exc:  # a full disk shows here or at close
            raise OutputError(f"{self.path}: cannot write the movie ({_reason(exc)}); nothing kept") from None

    def close(self, ok: bool = True) -> None:
        """Finish the movie and rename it into place (``ok``), or delete it. Raises OutputError naming
        the movie when it cannot be finished whole; nothing is left under its name then."""
        error: OutputError | None = None
        try:
            if ok:
                for packet in self._stream.encode():
                    self._container.mux(packet)
        except (av.FFmpegError, OSError) as exc:
            error = OutputError(f"{self.path}: cannot write the movie ({_reason(exc)}); nothing kept")
        try:
            self._container.close()
        except (av.FFmpegError, OSError) as exc:
            error = error or OutputError(f"{self.path}: cannot write the movie ({_reason(exc)}); nothing kept")
        if ok and error is None:
            try:
                check_not_cut(self.path, temp_name(self.path))
            except OutputError as exc:
                error = exc
        if ok and error is None:
            self._ctx.__exit__(None, None, None)  # fsync and rename
            return
        with contextlib.suppress(OutputError, OSError):
            self._ctx.__exit__(OutputError, error or OutputError("aborted"), None)  # deletes the temporary
        if error is not None and ok:
            raise error


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc).splitlines()[0] or type(exc).__name__
