"""One thread budget per process: ONNX Runtime, OpenCV and the native kernels' OpenMP.

By default each library takes every core, which is right for one render per
machine. A farm node running several tasks side by side gives each a share
(``--threads N``, the batch spec's ``threads``, the Blender add-on's
preference, ``UNSHUTTER_THREADS`` for the OFX worker and every command), or
the tasks oversubscribe the cores and all of them slow down.

``apply`` sets the bound once, at the start of a command, before a decomposer
is made: OpenCV and the native kernels take it at once, the decomposer reads
``configured()`` when it opens its ONNX Runtime session.
"""

from __future__ import annotations

import os
from typing import Any

from unshutter.errors import ParameterError

ENV = "UNSHUTTER_THREADS"

OPENCV_WAIT = ("OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER", "OPENCV_THREAD_POOL_ACTIVE_WAIT_MAIN")
"""OpenCV's settings for how long its pool's threads spin (yielding the core in a loop) after a
parallel region before they sleep. Unshutter sets both to 0 unless the user set them: on two cores
the spinning threads take the core from the network, the writers and the prefetch. DIS on a 720p
frame with two OpenCV threads, load 4: 95-99 ms of CPU spinning, 80-81 without, as with one thread;
``unshutter bench speed`` at 720p, two pairs at load 4-5: 0.90 and 0.93 times the CPU seconds."""

_configured: int | None = None  # set by apply(): the bound in force in this process, 0 for all cores


def parse(value: str | int, what: str = "--threads") -> int | None:
    """A thread count from the command line, a spec or the environment: a whole number >= 1, or 0 for all
    cores (None)."""
    try:
        n = int(str(value).strip())
    except ValueError:
        raise ParameterError(f"{what} {value!r}: a whole number of threads (0: all cores)") from None
    if n < 0:
        raise ParameterError(f"{what} {n}: a whole number of threads, 1 or more (0: all cores)")
    return n or None


def quiet_opencv_pool() -> None:
    """Let OpenCV's idle pool threads sleep at once (:data:`OPENCV_WAIT`), unless the user set them.

    OpenCV reads these when it is loaded, so the package sets them when it is imported, before
    any of its modules imports cv2 (a cv2 imported earlier keeps its own). They stay in the
    environment: the processes a run starts (bench runs, session servers, farm workers) get them too.
    """
    for name in OPENCV_WAIT:
        os.environ.setdefault(name, "0")


def from_env() -> int | None:
    """``UNSHUTTER_THREADS``, or None when it is unset or empty (all cores)."""
    value = os.environ.get(ENV, "").strip()
    return parse(value, ENV) if value else None


def configured() -> int | None:
    """The bound ``apply`` set in this process, else ``UNSHUTTER_THREADS``, else None (all cores)."""
    if _configured is not None:
        return _configured or None
    return from_env()


def cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def apply(n: int | None = None, export: bool = True) -> int | None:
    """Bound this process's threads to ``n`` (0: all cores; None: ``UNSHUTTER_THREADS``, else all cores).

    Sets OpenCV's pool and the native kernels' OpenMP bound now, and the count
    the decomposer's ONNX Runtime session takes; exported as ``UNSHUTTER_THREADS``
    so the processes this one starts (a session server, local Dask workers) keep
    the same budget (``export=False``: a task inside a process it does not own,
    such as a threaded Dask worker, leaves the environment alone). Returns the
    bound in force, or None for all cores.
    """
    global _configured
    if n is not None and parse(n) is None:  # an explicit 0: all cores, whatever UNSHUTTER_THREADS says
        if export:
            os.environ.pop(ENV, None)
        _configured = 0
        return None
    n = parse(n) if n is not None else from_env()
    if n is None:  # all cores: the libraries' own defaults
        return None
    import cv2

    from unshutter import kernels

    cv2.setNumThreads(n)
    kernels.set_max_threads(n)
    if export:
        os.environ[ENV] = str(n)
    _configured = n
    return n


def in_force(decomposer: Any = None) -> dict[str, int]:
    """The thread counts as the libraries report them: ``decomposer``'s ONNX Runtime session (without one,
    what a new one would take), OpenCV's pool, the native kernels' OpenMP bound."""
    import cv2

    from unshutter import kernels

    ort = decomposer.threads if decomposer is not None else configured() or cores()
    return {"onnxruntime": int(ort), "opencv": int(cv2.getNumThreads()), "openmp": kernels.max_threads()}
