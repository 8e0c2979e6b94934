"""Chunk planning: split each shot's source frames into contiguous farm tasks.

The split is the one Open Job Description makes for a ``CHUNK[INT]`` task
parameter with ``rangeConstraint: CONTIGUOUS`` and ``defaultTaskCount: chunk``
over ``range: "A-B"``: as few chunks as ``chunk`` allows, their sizes differing
by at most one frame (6 frames with chunk 5 are 1001-1003 and 1004-1006, not
1001-1005 and 1006). ``unshutter farm check`` and the Dask runner use the same
chunks, so a job resubmitted on another farm resumes on the same manifests.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from unshutter.farm.spec import BatchSpec, Shot
from unshutter.io.clip import open_clip

log = logging.getLogger("unshutter.farm")


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
    """``first..last`` in the fewest contiguous chunks of at most ``size`` frames, balanced as OpenJD does.

    (1001, 1005, 2) -> [(1001, 1002), (1003, 1004), (1005, 1005)];
    (1001, 1006, 5) -> [(1001, 1003), (1004, 1006)]
    """
    if size < 1:
        raise ValueError("chunk size must be >= 1")
    total = last - first + 1
    if total < 1:
        return []
    count = -(-total // size)
    short, longer = divmod(total, count)
    # `longer` chunks get one frame more; the i-th of them is chunk (i * count) // longer
    bumped = {(i * count) // longer for i in range(longer)}
    out, a = [], first
    for c in range(count):
        n = short + (c in bumped)
        out.append((a, a + n - 1))
        a += n
    return out


def shot_range(shot: Shot) -> tuple[int, int]:
    """The source frames a shot renders: its ``frames``, else the whole clip (read from disk).

    Also loads the shot's override file (:attr:`Shot.loaded_overrides`, kept
    for later use), so a bad one fails before any task runs. Errors name the
    shot and the field: InputError when the clip cannot be opened,
    ParameterError when ``frames`` lies outside it or the override file is
    missing, OverrideError when it does not validate.
    """
    from unshutter.errors import InputError, ParameterError

    try:
        clip = open_clip(shot.input)
    except InputError as exc:
        raise InputError(f"shot {shot.name!r}.input: {exc}") from None
    except ParameterError as exc:
        raise ParameterError(f"shot {shot.name!r}.input: {exc}") from None
    try:
        first, last = clip.first, clip.last
        size = (clip.meta.height, clip.meta.width)
    finally:
        clip.close()
    _ = shot.loaded_overrides  # reads and validates it; override_inputs reuses it
    line = override_warning(shot, first, last)
    if line and line not in shot.warned:  # planned again (plan, then write_bundle): said once
        shot.warned.add(line)
        log.warning("warning: %s", line)
    a, b = shot.frames or (first, last)
    if a < first or b > last:
        raise ParameterError(f"shot {shot.name!r}.frames {a}-{b}: outside the clip {shot.input} ({first}-{last})")
    _check_pass(shot, (first, last), (a, b), size)
    return a, b


def _check_pass(shot: Shot, clip: tuple[int, int], frames: tuple[int, int], size: tuple[int, int]) -> None:
    """Refuse a shot whose motion pass lacks a frame its tasks read (the frames, and the neighbours a run
    of them decomposes: the same frames ``unshutter run`` checks), before any task runs."""
    from unshutter.errors import InputError
    from unshutter.guidance.motion_pass import check_pass_files
    from unshutter.node import neighbours_needed
    from unshutter.render.numbering import numbering

    params = shot.params()
    mpass = params.motion_pass_spec()  # its conventions were checked when the spec was loaded
    if mpass is None:
        return
    behind, waits = neighbours_needed(params, size)
    num = numbering(*clip, frames, params.factor, waits, behind=behind)
    try:
        check_pass_files(mpass, num.decomposed(), size)
    except InputError as exc:
        raise InputError(f"shot {shot.name!r}.motion_pass: {exc}") from None


def override_warning(shot: Shot, first: int, last: int) -> str | None:
    """The shot's override ranges that miss its clip's source frames ``first``-``last``, in one line; else None.

    ``farm check``, ``farm openjd`` and ``farm dask`` log it once per shot of
    the spec they loaded when they plan it (through :func:`shot_range`), before any task runs.
    """
    ov = shot.loaded_overrides
    line = ov.outside_warning(str(shot.overrides), first, last) if ov is not None else None
    return f"shot {shot.name!r}.overrides: {line}" if line else None


def plan_shot(shot: Shot, frame_range: tuple[int, int] | None = None) -> list[Chunk]:
    a, b = frame_range or shot_range(shot)
    return [Chunk(shot, x, y) for x, y in split(a, b, shot.chunk)]


def plan(spec: BatchSpec) -> list[Chunk]:
    """Every chunk of every shot, shot by shot."""
    return [c for s in spec.shots for c in plan_shot(s)]
