"""How this process hands freed memory back to the system (large frames).

glibc's malloc serves a freed block of up to 32 MB again from its heap, and
raises the size it maps separately each time such a block is freed, so at 4K
a frame's worth of float32 planes (33 MB) and tile buffers stay resident
between stages and add to the peak of the next one. Above
:data:`LARGE_BUFFER` bytes, a fixed threshold maps each buffer on its own, and
freeing it returns it at once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger("unshutter.memory")

LARGE_BUFFER = 4 << 20
"""Buffers of this many bytes and more are mapped on their own (glibc ``M_MMAP_THRESHOLD``)."""
_M_MMAP_THRESHOLD = -3  # mallopt parameter number (malloc.h)
_done = False


def return_large_buffers() -> bool:
    """Have buffers of :data:`LARGE_BUFFER` bytes and more go back to the system when freed (glibc only;
    once per process; True when in force). For processes that handle frames above 2048x1080: smaller
    frames keep reusing their buffers without the page faults of fresh mappings."""
    global _done
    if _done:
        return True
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        ok = bool(libc is not None and libc.mallopt(_M_MMAP_THRESHOLD, LARGE_BUFFER))
    except (OSError, AttributeError):  # not glibc: nothing to tune
        ok = False
    _done = ok
    log.debug("large buffers returned to the system when freed: %s", ok)
    return ok
