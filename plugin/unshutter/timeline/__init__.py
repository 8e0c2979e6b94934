"""The editorial round trip: an OTIO (or EDL) timeline in, the chosen clips relinked to slow motion out.

See :mod:`unshutter.timeline.roundtrip`; ``unshutter timeline`` is its command.
"""

from __future__ import annotations

from unshutter.timeline.roundtrip import (
    ClipReport,
    TimelineConfig,
    read_timeline,
    retime_timeline,
    write_timeline,
)

__all__ = ["ClipReport", "TimelineConfig", "read_timeline", "retime_timeline", "write_timeline"]
