"""Output numbering: which output frames a source frame makes, computed in one place.

DESIGN.md contract: sub-frame ``k`` (0-based, earliest first) of source frame
``f`` is output frame ``a + (f - a) * N + k``, where ``a`` is the clip's first
frame (not the first frame rendered), so a chunk of a shot numbers its
outputs as the whole shot would, and a clip starting at 1001 stays at 1001.

A frame's outputs also read its neighbours' decompositions (``Node.settle``):
below 360 degrees with even timing its closed-shutter outputs are interpolated
toward the next frame's first sub-frame, at 360 degrees its outputs blend
toward the previous and next frames'. The last frame of a range then also
needs the frame after it decomposed (the *lookahead*), and at 360 degrees its
first frame the frame before it (the *lookbehind*), so that chunked and whole
renders give the same files.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction


def output_frame(first: int, frame: int, factor: int, k: int) -> int:
    """Output number of sub-frame ``k`` of source ``frame`` in a clip starting at ``first``."""
    return first + (frame - first) * factor + k


@dataclass(frozen=True)
class Numbering:
    """The output frames of source frames ``a..b`` of a clip ``first..last`` at ``factor`` outputs each.

    ``waits``: a frame's outputs wait for the next frame's sub-frames
    (:meth:`unshutter.node.Node.needs_next`); ``behind``: they read the previous
    frame's too (:meth:`unshutter.node.Node.needs_previous`).
    ``rate``: the output's frame rate (a movie's follows ``--movie-rate``).
    """

    first: int  # the clip's first frame
    last: int  # the clip's last frame
    a: int  # first source frame rendered
    b: int  # last source frame rendered (inclusive)
    factor: int
    waits: bool = False
    rate: Fraction = Fraction(0)
    behind: bool = False

    @property
    def frames(self) -> range:
        """The source frames rendered."""
        return range(self.a, self.b + 1)

    def outputs(self, frame: int) -> list[int]:
        """Output numbers of ``frame``'s sub-frames, earliest first."""
        return [output_frame(self.first, frame, self.factor, k) for k in range(self.factor)]

    def span(self) -> tuple[int, int]:
        """First and last output number of the range."""
        return output_frame(self.first, self.a, self.factor, 0), output_frame(
            self.first, self.b, self.factor, self.factor - 1
        )

    def all_outputs(self) -> list[int]:
        """Every output number of the range, in order."""
        return [o for f in self.frames for o in self.outputs(f)]

    def frame_map(self) -> dict[str, list[int]]:
        """Source frame (as text, for JSON) -> its output numbers."""
        return {str(f): self.outputs(f) for f in self.frames}

    @property
    def lookahead(self) -> int | None:
        """The frame after the range decomposed for its last frame's closed-shutter gap, or None."""
        return self.b + 1 if self.waits and self.b + 1 <= self.last else None

    @property
    def lookbehind(self) -> int | None:
        """The frame before the range decomposed for its first frame's outputs (360 degrees), or None."""
        return self.a - 1 if self.behind and self.a - 1 >= self.first else None

    def decomposed(self) -> list[int]:
        """The source frames a run of the range decomposes, in order: the lookbehind, the range, the lookahead."""
        behind = [] if self.lookbehind is None else [self.lookbehind]
        ahead = [] if self.lookahead is None else [self.lookahead]
        return [*behind, *self.frames, *ahead]

    @property
    def before(self) -> int:
        """How many frames before a source frame decide its outputs (its guidance's neighbour; the previous
        frame's too when its outputs read that frame's decomposition)."""
        return 2 if self.behind else 1

    @property
    def ahead(self) -> int:
        """How many frames after a source frame decide its outputs (its guidance's neighbour; the next
        frame's too when its gap reads that frame's sub-frames)."""
        return 2 if self.waits else 1

    def clip_end(self) -> int:
        """The first output number after the whole clip's: an upper bound for any output number
        (output file names are padded to its width)."""
        return output_frame(self.first, self.last + 1, self.factor, 0)

    def clip_last(self) -> int:
        """The last output number of the whole clip."""
        return output_frame(self.first, self.last, self.factor, self.factor - 1)


def numbering(
    first: int,
    last: int,
    frames: tuple[int, int] | None,
    factor: int,
    waits: bool = False,
    rate: Fraction = Fraction(0),
    behind: bool = False,
) -> Numbering:
    """The numbering of source ``frames`` (default: the whole clip ``first..last``)."""
    a, b = frames or (first, last)
    return Numbering(first, last, a, b, factor, waits, rate, behind)
