"""Claims on output frames: two runs never write the same files at the same time.

An artist re-running a shot in the editor while a farm job renders it, or a
farm retrying a chunk whose first attempt still runs on a lost host, would
otherwise write the same frames, delete each other's temporaries and, on a
cancel, each other's finished frames. A run announces which frames of which
output it writes with a claim file in ``<output folder>/.unshutter-claims/``
and holds an advisory lock on it while it runs; a run whose frames overlap
a claim that is still locked is refused (OutputError, exit 6: a farm retries
it later). The lock dies with its process, so the claim of a killed run does
not block anything: the next run removes it. An owner's lock is exclusive and
a look at another claim takes a shared one, so runs looking at the same dead
claim at once do not take each other for its owner.

Announce first, then look: of two runs that start at the same moment on the
same frames, at most one goes on (possibly neither, never both). Locks are
``flock`` (POSIX) or ``msvcrt.locking`` (Windows); on NFS Linux maps ``flock``
to POSIX locks, which work across hosts. Where the file system cannot lock
files at all, runs go on unguarded with a RuntimeWarning. Claims of this
process (farm chunks running as threads) are tracked in memory, because
POSIX locks do not tell threads of one process apart.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

from unshutter.errors import OutputError

CLAIM_DIR = ".unshutter-claims"
SUFFIX = ".claim"

_own: set[str] = set()  # tokens of the claims this process holds (or is publishing)
_own_lock = threading.Lock()

_NO_LOCKS = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP)}


class _NoLocks(Exception):
    """The file system cannot lock files (some SMB or lockd-less NFS mounts)."""


try:
    import fcntl

    def _try_lock(fd: int, shared: bool = False) -> bool:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                return False
            if exc.errno in _NO_LOCKS:
                raise _NoLocks from None
            raise
        return True

except ImportError:  # Windows
    import msvcrt

    def _try_lock(fd: int, shared: bool = False) -> bool:  # no shared locks here: a look is exclusive
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]  # (checked as Linux)
        except OSError:
            return False
        return True


class OutputBusyError(OutputError):
    """Another run is writing some of the same output frames right now."""


def _overlaps(a: list[int] | None, b: list[int] | None) -> bool:
    """Whether two frame spans meet; None is the whole output (a movie)."""
    return a is None or b is None or (a[0] <= b[1] and b[0] <= a[1])


def _read(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _token(path: Path) -> str:
    """A claim file's token: its name without ``.claim`` or ``.tmp``."""
    return path.name.split(".", 1)[0]


def _alive(path: Path) -> bool:
    """Whether the claim at ``path`` is held; a claim nobody holds is removed."""
    with _own_lock:
        if _token(path) in _own:
            return True
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        # shared: another start looking at the same claim right now (a killed job's re-run starts its chunks
        # together) must not pass for the owner, whose lock is exclusive
        if not _try_lock(fd, shared=True):
            return True
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # its run was killed: the lock went with its process
        return False
    except _NoLocks:
        return True  # cannot tell: keep it
    finally:
        os.close(fd)


def _describe(info: dict) -> str:
    frames = info.get("frames")
    what = f"frames {frames[0]}-{frames[1]}" if frames else "the whole file"
    return f"pid {info.get('pid', '?')} on {info.get('host', '?')}, {what}, since {info.get('started', '?')}"


def _publish(folder: Path, info: dict) -> tuple[int, Path]:
    """Create a locked, complete claim file; scanners only ever see finished ones (rename)."""
    cdir = folder / CLAIM_DIR
    for _ in range(5):  # a run ending beside us may remove the empty folder between mkdir and open
        try:
            cdir.mkdir(parents=True, exist_ok=True)
        except FileExistsError:  # ... or inside mkdir: there, then gone when it checks it is a folder
            continue
        token = uuid.uuid4().hex
        tmp, path = cdir / f"{token}.tmp", cdir / f"{token}{SUFFIX}"
        with _own_lock:
            _own.add(token)
        try:
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        except FileNotFoundError:
            with _own_lock:
                _own.discard(token)
            continue
        try:
            if not _try_lock(fd):  # nobody else knows this name yet
                raise OutputError(f"{tmp}: cannot lock the output claim")
            os.write(fd, json.dumps(info).encode("utf-8"))
            os.replace(tmp, path)
        except BaseException:
            os.close(fd)
            with _own_lock:
                _own.discard(token)
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
        return fd, path
    raise OutputError(f"{cdir}: cannot create the output claim")


def _withdraw(fd: int, path: Path) -> None:
    with _own_lock:
        _own.discard(_token(path))
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    os.close(fd)
    with contextlib.suppress(OSError):
        path.parent.rmdir()  # only when no other claim is left in it


@contextlib.contextmanager
def claim(folder: Path, name: str, frames: tuple[int, int] | None, display: str) -> Iterator[Path | None]:
    """Hold output ``name``'s frames (inclusive; None = the whole file) in ``folder`` while the block runs.

    ``name`` identifies the output among others in the folder (a sequence's
    prefix and suffix, a movie's file name); ``display`` is how the error
    names it. Raises OutputBusyError, naming the other run, on overlap.
    Yields the claim file, or None (with a RuntimeWarning) where the file
    system cannot lock files.
    """
    span = list(frames) if frames is not None else None
    info = {
        "output": name,
        "frames": span,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    try:
        fd, path = _publish(folder, info)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot create the output claim ({exc.strerror or exc})") from None
    except _NoLocks:  # work on, unguarded: refusing every run there would be worse
        warnings.warn(
            f"{folder}: the file system cannot lock files; another run writing the same frames "
            "at the same time would not be noticed",
            RuntimeWarning,
            stacklevel=3,
        )
        with contextlib.suppress(OSError):
            (folder / CLAIM_DIR).rmdir()
        yield None
        return
    try:
        for other in sorted(path.parent.glob(f"*{SUFFIX}")):
            if other == path:
                continue
            theirs = _read(other)
            if theirs is None or theirs.get("output") != name or not _alive(other):  # _alive sweeps the dead
                continue
            if _overlaps(span, theirs.get("frames")):
                what = f"frames {span[0]}-{span[1]} of {display}" if span else display
                raise OutputBusyError(
                    f"{what}: another Unshutter run is writing them ({_describe(theirs)}); "
                    "wait for it to end or write elsewhere"
                )
    except BaseException:
        _withdraw(fd, path)
        raise
    try:
        yield path
    finally:
        _withdraw(fd, path)


__all__ = ["CLAIM_DIR", "OutputBusyError", "claim"]
