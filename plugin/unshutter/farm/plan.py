"""Chunk planning: split each shot's source frames into contiguous farm tasks.

The split is the one Open Job Description makes for a ``CHUNK[INT]`` task
parameter with ``rangeConstraint: CONTIGUOUS`` and ``defaultTaskCount: chunk``
over ``range: "A-B"``: consecutive runs of ``chunk`` frames from ``A``, the
last one shorter. The Dask runner uses the same chunks, so a job resubmitted on
another farm resumes on the same manifests.
"""
from __future__ import annotations

from dataclasses import dataclass

from unshutter.farm.spec import BatchSpec, Shot
from unshutter.io.clip import open_clip


@dataclass(frozen=True)
class Chunk:
    """Source frames ``first..last`` of one shot: one farm task."""

    shot: Shot
    first: int
    last: int

    @property
    def frames(self) -> int:
        return self.last - self.first + 1

    @property
    def label(self) -> str:
        return f"{self.first}-{self.last}"

    @property
    def key(self) -> str:
        return f"{self.shot.name}:{self.label}"


def split(first: int, last: int, size: int) -> list[tuple[int, int]]:
    """``first..last`` in contiguous runs of ``size`` frames.

    (1001, 1005, 2) -> [(1001, 1002), (1003, 1004), (1005, 1005)]
    """
    if size < 1:
        raise ValueError("chunk size must be >= 1")
    return [(a, min(a + size - 1, last)) for a in range(first, last + 1, size)]


def shot_range(shot: Shot) -> tuple[int, int]:
    """The source frames a shot renders: its ``frames``, else the whole clip (read from disk).

    Raises InputError when the clip cannot be opened and ParameterError when
    ``frames`` lies outside it.
    """
    from unshutter.errors import ParameterError

    clip = open_clip(shot.input)
    try:
        first, last = clip.first, clip.last
    finally:
        clip.close()
    if shot.frames is None:
        return first, last
    a, b = shot.frames
    if a < first or b > last:
        raise ParameterError(f"shot {shot.name!r}.frames {a}-{b}: outside the clip {shot.input} ({first}-{last})")
    return a, b


def plan_shot(shot: Shot, frame_range: tuple[int, int] | None = None) -> list[Chunk]:
    a, b = frame_range or shot_range(shot)
    return [Chunk(shot, x, y) for x, y in split(a, b, shot.chunk)]


def plan(spec: BatchSpec) -> list[Chunk]:
    """Every chunk of every shot, shot by shot."""
    return [c for s in spec.shots for c in plan_shot(s)]
