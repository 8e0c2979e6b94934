"""Write-to-temporary-then-rename, so no reader ever sees a half-written file."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

try:
    import resource
except ImportError:  # Windows: no file-size limits to check
    resource = None  # type: ignore[assignment]

from unshutter.errors import OutputError, ParameterError

TMP_MARK = ".unshutter-tmp"


NAME_MAX = 255
"""Longest file name in bytes on the file systems outputs go to (ext4, XFS, NTFS via SMB, APFS)."""

_PID_DIGITS = 10  # room kept for any pid, so a temporary's name does not depend on which run wrote it


def temp_name(path: Path) -> Path:
    """A hidden temporary beside ``path`` that keeps its extension (writers pick the format from it).

    Within NAME_MAX even when ``path``'s own name is close to it: a long stem
    is cut and ends in a digest of the whole stem.
    """
    return path.with_name(f".{_temp_stem(path)}{TMP_MARK}{os.getpid()}{path.suffix}")


def _temp_stem(path: Path) -> str:
    """The part of ``path``'s temporary name that stands for its stem."""
    stem = path.stem
    room = NAME_MAX - len(os.fsencode(f".{TMP_MARK}{path.suffix}")) - _PID_DIGITS
    if len(os.fsencode(stem)) <= room:
        return stem
    digest = hashlib.sha256(os.fsencode(stem)).hexdigest()[:8]
    cut = stem
    while len(os.fsencode(cut)) > room - 9:
        cut = cut[:-1]
    return f"{cut}~{digest}"


def check_name(option: str, path: Path) -> None:
    """ParameterError when ``path``'s file name is longer than NAME_MAX bytes (the system would refuse it)."""
    n = len(os.fsencode(path.name))
    if n > NAME_MAX:
        raise ParameterError(
            f"{option}: writes {path.parent / (path.name[:40] + '...')}, a file name of {n} bytes; "
            f"file names can have at most {NAME_MAX}"
        )


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path; on success fsync and rename it onto ``path``, else delete it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def check_not_cut(path: Path, tmp: Path) -> None:
    """OutputError when the just-written ``tmp`` may have been cut short without its writer noticing.

    A file that ends exactly at the file-size limit (``ulimit -f``), or that
    left the disk without a free block, may have lost its last bytes in a
    write whose failure the writer never reported.
    """
    size = tmp.stat().st_size
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0] if resource is not None else -1
    if limit not in (-1, getattr(resource, "RLIM_INFINITY", -1)) and size >= limit:
        raise OutputError(f"{path}: write reached the file-size limit ({limit} bytes, ulimit -f), nothing kept")
    if hasattr(os, "statvfs") and os.statvfs(tmp.parent).f_bavail == 0:
        raise OutputError(f"{path}: disk full after writing, the file may be cut; nothing kept")


def write_text(path: Path, text: str) -> None:
    """Atomically replace a text file; OutputError (exit 6) naming it when it cannot be written."""
    try:
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except OSError as exc:  # disk full, a folder in the way, permissions: the old file stays whole
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None


def remove_stale_temps(folder: Path, targets: Iterable[Path] | None = None) -> int:
    """Delete temporaries left by killed runs (their process is gone). Returns how many.

    With ``targets``, only temporaries of those files are touched: chunks of one
    shot write into the same folder at the same time (as threads of one process
    or from other hosts, whose pids mean nothing here).
    """
    n = 0
    if not folder.is_dir():
        return 0
    own = None if targets is None else {(_temp_stem(t), t.suffix) for t in targets}
    for p in folder.iterdir():
        if TMP_MARK not in p.name:
            continue
        if own is not None and (p.name[1:].split(TMP_MARK, 1)[0], p.suffix) not in own:
            continue
        pid_part = p.name.split(TMP_MARK, 1)[1].split(".", 1)[0]
        if pid_part.isdigit() and pid_alive(int(pid_part)) and int(pid_part) != os.getpid():
            continue
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
            n += 1
    return n


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie, dead but not yet reaped, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True
