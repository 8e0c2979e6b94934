"""Only regular files are read: a FIFO never ends until someone writes to it, /dev/zero never ends at all.

Anything named like a frame, a movie or a file the run hashes is checked
here first, so a stray FIFO or a symlink to a device is refused with a
one-line error instead of hanging the run for ever.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from unshutter.errors import InputError

_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISSOCK, "a socket"),
)


def _refuse(path: str | Path, mode: int) -> InputError:
    kind = next((name for test, name in _KINDS if test(mode)), "special")
    return InputError(f"{path}: not a regular file ({kind}); refused, reading it could hang")


def require_regular(path: str | Path) -> None:
    """Raise InputError unless ``path`` (symlinks followed) is a regular file; FileNotFoundError if missing."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        raise _refuse(path, st.st_mode)


def open_regular(path: str | Path) -> int:
    """A read-only descriptor of ``path``, opened without blocking (a FIFO would wait for a writer) and
    checked to be a regular file on the descriptor itself (no window between check and use)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise _refuse(path, mode)
    os.set_blocking(fd, True)
    return fd


__all__ = ["open_regular", "require_regular"]
