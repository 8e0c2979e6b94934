"""Frame-sequence patterns: ``shot.####.exr``, ``shot.%04d.exr``, ``shot.1001-1050#.exr``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import fileseq

from unshutter.errors import InputError, ParameterError

_PRINTF = re.compile(r"%0?(\d*)d")
_HOUDINI = re.compile(r"\$F(\d*)")


@dataclass(frozen=True)
class SequencePattern:
    """``<dirname>/<prefix><frame zero-padded to padding><suffix>``."""

    dirname: Path
    prefix: str
    padding: int
    suffix: str

    def path(self, frame: int) -> Path:
        num = f"{frame:0{self.padding}d}" if frame >= 0 else f"-{-frame:0{self.padding}d}"
        return self.dirname / f"{self.prefix}{num}{self.suffix}"

    def display(self) -> str:
        return str(self.dirname / f"{self.prefix}{'#' * self.padding}{self.suffix}")

    @property
    def files_key(self) -> tuple[str, str, str]:
        """See :func:`files_key`."""
        return files_key(self.dirname, self.prefix, self.suffix)

    def scan(self) -> list[int]:
        """Frame numbers present on disk, sorted."""
        if not self.dirname.is_dir():
            return []
        rx = re.compile(re.escape(self.prefix) + r"(-?\d+)" + re.escape(self.suffix) + r"$")
        frames = []
        for p in self.dirname.iterdir():
            m = rx.match(p.name)
            if m and (len(m.group(1).lstrip("-")) >= self.padding):
                frames.append(int(m.group(1)))
        return sorted(set(frames))


def files_key(folder: Path | str, prefix: str, suffix: str) -> tuple[str, str, str]:
    """Which files on disk a sequence names: its folder resolved (symlinks, '..', './', relative
    paths), its prefix and its suffix.

    The padding is left out on purpose: a sequence's scan finds frames of any
    padding at least its own, so one written with another padding still lands
    among its frames.
    """
    return str(Path(folder).resolve()), prefix, suffix


def keys_collide(a: tuple[str, str, str], b: tuple[str, str, str]) -> bool:
    """Whether files of two sequences (``files_key`` tuples) can be taken for each other's frames.

    Besides the same names, a prefix that is the other's plus a sign or digits
    collides: a scan of ``shot####.exr`` reads ``shot-1001.exr`` as frame -1001
    and ``shot11001.exr`` as frame 11001.
    """
    (fa, pa, sa), (fb, pb, sb) = a, b
    if fa != fb or sa != sb:
        return False
    short, long_ = sorted((pa, pb), key=len)
    return long_.startswith(short) and re.fullmatch(r"-?\d*", long_[len(short) :]) is not None


def refuse_over_plates(option: str, folder: Path | str, prefix: str, suffix: str, plates: SequencePattern) -> None:
    """Raise ParameterError when writing ``<folder>/<prefix>####<suffix>`` would land among ``plates``.

    ``option`` starts the message and names what was asked for, e.g. ``-o plates/``.
    """
    if keys_collide(files_key(folder, prefix, suffix), plates.files_key):
        raise ParameterError(
            f"{option}: writes {prefix}####{suffix} in {folder}, over the input plates {plates.display()}"
        )


def _pad_width(token: str) -> int:
    if not token:
        return 0
    m = _PRINTF.fullmatch(token)
    if m:
        return int(m.group(1) or 1)
    m = _HOUDINI.fullmatch(token)
    if m:
        return int(m.group(1) or 1)
    if set(token) == {"#"}:
        # one '#' is fileseq/rvls style (4 digits); '####' is Nuke style (one digit each)
        return 4 if len(token) == 1 else len(token)
    if set(token) == {"@"}:
        return len(token)
    raise ParameterError(f"unsupported frame padding {token!r}")


_TOKEN = re.compile(
    r"^(?P<prefix>.*?)"
    r"(?P<range>-?\d+(?:-?-\d+)?(?:[:xy]-?\d+)?(?:,-?\d+(?:-?-\d+)?)*)?"
    r"(?P<pad>#+|@+|%0?\d*d|\$F\d*)"
    r"(?P<suffix>[^#@%$]*)$"
)
_CONCRETE = re.compile(r"^(?P<prefix>(?:.*\D)?)(?P<num>\d+)(?P<suffix>\.[A-Za-z0-9]+)$")


def parse_pattern(spec: str) -> tuple[SequencePattern, list[int] | None]:
    """Parse a sequence spec; returns the pattern and the explicit frame list, if any.

    Accepts ``shot.####.exr`` (one digit per '#'; a single '#' is 4 digits),
    ``shot.@@@@.exr``, ``shot.%04d.exr``, ``shot.$F4.exr``, a frame range
    before the token (``shot.1001-1050#.exr``, any fileseq frame set) and a
    plain existing file such as ``shot.1001.exr``, which stands for its
    whole sequence.
    """
    path = Path(spec)
    folder, name = path.parent, path.name
    m = _TOKEN.match(name)
    if m:
        width = _pad_width(m.group("pad"))
        prefix, rng = m.group("prefix"), m.group("range")
        frames = None
        if rng and rng.startswith("-") and prefix[-1:].isalnum():
            prefix, rng = prefix + "-", rng[1:]  # 'shot_v1-1001-1050#': the dash separates
        if rng:
            for part in rng.split(","):  # fileseq reads '1003-1001' as a descending range; --frames refuses it
                r = re.match(r"^(-?\d+)-(-?\d+)", part)
                if r and int(r.group(2)) < int(r.group(1)):
                    raise ParameterError(f"{spec}: frame range {part} ends before it starts")
            try:
                frames = cast("list[int]", list(fileseq.FrameSet(rng)))  # whole frames unless a step says x0.5
            except fileseq.ParseException:
                prefix, frames = prefix + rng, None
        return SequencePattern(folder, prefix, width, m.group("suffix")), frames
    m = _CONCRETE.match(name)
    if m:
        return SequencePattern(folder, m.group("prefix"), len(m.group("num")), m.group("suffix")), None
    raise ParameterError(f"{spec}: no frame number token (use shot.####.exr or shot.%04d.exr)")


def resolve_frames(pat: SequencePattern, explicit: list[int] | None) -> list[int]:
    """The clip's frames: the explicit range, else what is on disk; gaps are an error."""
    frames = explicit if explicit is not None else pat.scan()
    if not frames:
        raise InputError(f"{pat.display()}: no frames found")
    frames = sorted(frames)
    if explicit is None:
        missing = sorted(set(range(frames[0], frames[-1] + 1)) - set(frames))
        if missing:
            raise InputError(f"{pat.path(missing[0])}: frame {missing[0]} is missing from the sequence")
    else:
        for f in frames:
            if not pat.path(f).exists():
                raise InputError(f"{pat.path(f)}: frame {f} is missing")
    return frames


def is_sequence_spec(spec: str) -> bool:
    return any(t in spec for t in ("#", "@", "%0", "%d", "$F")) or bool(re.search(r"\d+-\d+[#@]", spec))
