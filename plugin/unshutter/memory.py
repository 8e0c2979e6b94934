"""How this process's heap treats large freed buffers: handed back at once (large frames) or kept (the rest).

glibc's malloc serves a freed block of up to 32 MB again from its heap, and
raises the size it maps separately each time such a block is freed, so at 4K
a frame's worth of float32 planes (33 MB) and tile buffers stay resident
between stages and add to the peak of the next one. Above
:data:`LARGE_BUFFER` bytes, a fixed threshold maps each buffer on its own, and
freeing it returns it at once (:func:`return_large_buffers`).

Smaller frames want the opposite: a render loop allocates the same buffers
frame after frame (the K sub-frames, 77 MB at 720p, the network's outputs, each
PNG encoder's rows), and every one glibc maps afresh or trims off its heap
costs page faults the next time (the kernel zeroes each page again).
:func:`keep_freed_buffers` keeps them in the heap for the next frame.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from typing import Any, Iterator

log = logging.getLogger("unshutter.memory")

LARGE_BUFFER = 4 << 20
"""Buffers of this many bytes and more are mapped on their own (glibc ``M_MMAP_THRESHOLD``)."""
KEPT_BUFFER = 1 << 30
"""With :func:`keep_freed_buffers`, buffers below this many bytes come from the heap and stay in it when freed."""
_M_TRIM_THRESHOLD = -1  # mallopt parameter numbers (malloc.h)
_M_MMAP_THRESHOLD = -3
_TRIM_DEFAULT = 128 * 1024  # glibc's M_TRIM_THRESHOLD
_done = False  # return_large_buffers is in force
_kept = False  # keep_freed_buffers is in force


def _libc() -> Any:
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name) if name else None


def return_large_buffers() -> bool:
    """Have buffers of :data:`LARGE_BUFFER` bytes and more go back to the system when freed (glibc only;
    once per process; True when in force). For processes that handle frames above 2048x1080: smaller
    frames keep reusing their buffers without the page faults of fresh mappings. Ends
    :func:`keep_freed_buffers` (what the heap kept goes back now)."""
    global _done, _kept
    if _done:
        return True
    try:
        libc = _libc()
        ok = bool(libc is not None and libc.mallopt(_M_MMAP_THRESHOLD, LARGE_BUFFER))
        if ok and _kept:
            libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_DEFAULT)
            libc.malloc_trim(0)
            _kept = False
    except (OSError, AttributeError):  # not glibc: nothing to tune
        ok = False
    _done = ok
    log.debug("large buffers returned to the system when freed: %s", ok)
    return ok


def keep_freed_buffers() -> bool:
    """Have freed buffers below :data:`KEPT_BUFFER` stay in this process's heap for reuse (glibc only; True
    when in force). For render loops over frames up to 2048x1080, whose buffers come back every frame:
    no page faults to map and zero them again. Not after :func:`return_large_buffers` (large frames:
    the peak memory comes first). The process's resident memory stays near its peak until it ends."""
    global _kept
    if _done:
        return False
    if _kept:
        return True
    try:
        libc = _libc()
        ok = bool(
            libc is not None
            and libc.mallopt(_M_TRIM_THRESHOLD, 2 * KEPT_BUFFER)
            and libc.mallopt(_M_MMAP_THRESHOLD, KEPT_BUFFER)
        )
    except (OSError, AttributeError):
        ok = False
    _kept = ok
    log.debug("freed buffers kept in the heap: %s", ok)
    return ok


def trim() -> bool:
    """Hand free memory back to the system now, when :func:`return_large_buffers` is in force
    (large frames; True when trimmed): the native kernels' cache of freed outputs
    (:func:`unshutter.kernels.clear_cache`) and the heap's free pages (glibc ``malloc_trim``).

    Buffers below :data:`LARGE_BUFFER` (bands of rows, the flow's and the network's smaller
    temporaries, each thread's own heap) leave free pages behind that glibc keeps, and the
    kernels cache what they made: at 4K, after the decomposition, 0.3 GB of the process's
    resident memory was such pages, and the resampling's own buffers came on top of them."""
    if not _done:
        return False
    from unshutter import kernels

    kernels.clear_cache()
    try:
        libc = _libc()
        return bool(libc is not None and libc.malloc_trim(0) >= 0)
    except (OSError, AttributeError):
        return False


def row_bands(height: int, rows: int) -> Iterator[tuple[int, int]]:
    """``(y0, y1)`` of consecutive bands of at most ``rows`` rows over ``height``: work done a band at a
    time holds a band's temporaries, not a frame's (bounded memory at 4K)."""
    for y0 in range(0, height, rows):
        yield y0, min(height, y0 + rows)
