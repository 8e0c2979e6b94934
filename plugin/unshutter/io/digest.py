"""Content digests of source files, for render signatures that survive copies and path mapping.

A farm worker sees the plates at another path (OpenJD path mapping) or as
fresh copies with new times (job attachments); only their bytes say whether a
finished output is still valid.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from unshutter.errors import InputError
from unshutter.io.files import open_regular

BLOCK = 1 << 20  # 1 MiB reads: large enough to run at hashing speed, small enough to stay out of the way


def file_digest(path: str | Path) -> str:
    """BLAKE2b-256 of the file's bytes (hex), read in 1 MiB blocks.

    Raises FileNotFoundError for a missing file, InputError naming the file
    for one that exists but cannot be read or is not a regular file.
    """
    h = hashlib.blake2b(digest_size=32)
    buf = bytearray(BLOCK)
    view = memoryview(buf)
    fd = open_regular(path)  # a FIFO or /dev/zero would never end
    try:
        with open(fd, "rb", buffering=0) as f:
            while n := f.readinto(buf):
                h.update(view[:n])
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return h.hexdigest()


class DigestCache:
    """Digests by path for one run: a source frame is used by three output frames but read once."""

    def __init__(self) -> None:
        self._items: dict[str, str | None] = {}

    def get(self, path: str | Path) -> str | None:
        """The file's digest, or None when it does not exist."""
        key = str(path)
        if key not in self._items:
            try:
                self._items[key] = file_digest(key)
            except FileNotFoundError:
                self._items[key] = None
        return self._items[key]


__all__ = ["BLOCK", "DigestCache", "file_digest"]
