"""When each output frame of a source frame is shown, and whether it lies inside the exposure.

Times are in source frame intervals from the moment the shutter opens; the
exposure covers ``[0, e)`` with ``e = shutter / 360``.

- ``even`` (the default): the N output frames of a source frame sit at equal
  steps of 1/N of the frame interval, ``T_j = (j + 0.5) / N``, so N-times
  slower playback looks like footage shot at N times the frame rate at any
  shutter angle. Those with ``T_j < e`` come from the decomposition; the rest
  fall in the closed-shutter gap and are interpolated between the last sharp
  sub-frame of this frame and the first of the next.
- ``exposure``: all N frames share the exposure, ``T_j = (j + 0.5) / N * e``
  (the timing before even spacing existed). Below 360 degrees playback then
  steps 1/(N e) of a frame's motion inside the exposure and jumps across the gap.

Factor 1 is deblurring only: the sharp instant at the middle of the exposure.

::

    360 deg, N=4   |<------------- exposure ------------->|
                   |    0    |    1    |    2    |    3    |
    180 deg, N=4   |<---- exposure ---->|<--- shutter closed --->|
      even         |    0    |    1    |    2    |    3    |      (2, 3 interpolated)
      exposure     |  0 | 1  | 2  | 3  |                         (jump across the gap)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unshutter.errors import ParameterError

TIMINGS = ("even", "exposure")


def check_timing(timing: str) -> None:
    if timing not in TIMINGS:
        raise ParameterError(f"--timing {timing!r}: choose one of {', '.join(TIMINGS)}")


@dataclass(frozen=True)
class Schedule:
    """Output times of one source frame's N output frames."""

    times: tuple[float, ...]  # T_j in frame intervals after the shutter opens
    exposure: float  # e = shutter / 360
    inside: int  # the first ``inside`` outputs lie inside the exposure, the rest in the gap

    @property
    def n(self) -> int:
        return len(self.times)

    @property
    def gap(self) -> int:
        return self.n - self.inside

    def fractions(self) -> np.ndarray:
        """Exposure fractions u = T / e of the inside outputs (0 = shutter opens, 1 = closes)."""
        return np.array(self.times[: self.inside], np.float64) / self.exposure

    def offsets(self) -> np.ndarray:
        """Inside outputs' times relative to the middle of the exposure, in frame intervals."""
        return np.array(self.times[: self.inside], np.float64) - 0.5 * self.exposure


def schedule(factor: int, shutter: float, timing: str = "even") -> Schedule:
    """The output times for ``factor`` outputs per source frame at ``shutter`` degrees."""
    check_timing(timing)
    n = int(factor)
    e = float(shutter) / 360.0
    if n == 1:
        return Schedule((0.5 * e,), e, 1)
    if timing == "exposure" or e >= 1.0:
        return Schedule(tuple((j + 0.5) / n * e for j in range(n)), e, n)
    times = tuple((j + 0.5) / n for j in range(n))
    inside = sum(1 for t in times if t < e)
    if inside == 0:  # a shutter so short that no even slot falls in it: keep the first slot as the exposure's
        inside = 1
    return Schedule(times, e, inside)
