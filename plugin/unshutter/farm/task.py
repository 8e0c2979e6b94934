"""One farm task: render one chunk of one shot with a decomposer loaded once per process.

Every farm path ends here: ``unshutter farm chunk`` (in-process or through the
OpenJD session server) and the Dask workers. The chunk itself is
:func:`unshutter.pipeline.run` with ``frames`` set, so it inherits the
pipeline's guarantees: neighbours outside the chunk are read for guidance,
outputs are written atomically, complete outputs are verified and skipped.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unshutter.decomposer.runtime import Decomposer
from unshutter.errors import UnshutterError
from unshutter.farm.pathmap import Locator
from unshutter.farm.spec import Shot, check_chunk_paths
from unshutter.guidance.overrides import load_overrides
from unshutter.node import Node
from unshutter.pipeline import Progress, RunConfig, run

# Exit codes (unshutter.errors) a retry cannot fix: the same input gives the same error.
PERMANENT_EXIT_CODES = frozenset({2, 3, 4})


def is_retryable(exit_code: int) -> bool:
    """False for bad parameters (2), bad input (3) and bad overrides (4); True otherwise.

    Model (5) and output (6) errors, crashes (1) and killed processes can be
    transient on a farm (a share not mounted yet, a full scratch disk, a
    pre-empted node), so they are worth a retry.
    """
    return exit_code not in PERMANENT_EXIT_CODES


class DecomposerCache:
    """Decomposers by (model, device, threads): each model is loaded once per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str, int | None], Decomposer] = {}

    def get(self, model: str | None, device: str = "auto", threads: int | None = None) -> Decomposer:
        key = (str(Path(model).resolve()) if model else "", device, threads)
        with self._lock:
            if key not in self._items:
                self._items[key] = Decomposer(model, device=device, threads=threads)
            return self._items[key]

    def __len__(self) -> int:
        return len(self._items)


CACHE = DecomposerCache()


@dataclass
class ChunkResult:
    """What a finished chunk reports back to the farm client."""

    shot: str
    frames: tuple[int, int]
    written: int
    skipped: int
    manifest: str
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "shot": self.shot,
            "frames": list(self.frames),
            "written": self.written,
            "skipped": self.skipped,
            "manifest": self.manifest,
            "seconds": self.seconds,
        }


def chunk_config(shot: Shot, first: int, last: int, model: str | None = None, device: str = "auto") -> RunConfig:
    """The RunConfig of one chunk: exactly what ``unshutter run ... --frames first-last`` builds."""
    return RunConfig(
        input=shot.input, output=shot.output, params=shot.params(), frames=(first, last), model=model, device=device
    )


def run_config(
    cfg: RunConfig,
    progress: Progress | None = None,
    cache: DecomposerCache = CACHE,
    threads: int | None = None,
    name: str = "",
    locate: Locator | None = None,
) -> ChunkResult:
    """Run one chunk with the process-wide decomposer for ``cfg.model``/``cfg.device``.

    ``locate`` finds the mattes and labelme files the override file names
    (``cfg.params.overrides``, already mapped) on a worker with path mapping.
    Refuses (ParameterError, exit 2) outputs a chunk cannot write safely: a
    movie, which each chunk would replace with its own frames (the pipeline
    refuses a sequence over the input plates).
    """
    t0 = time.monotonic()
    cfg.params.validate()
    check_chunk_paths(cfg.input, cfg.output)
    overrides = load_overrides(cfg.params.overrides, locate) if cfg.params.overrides and locate else None
    node = Node(cfg.params, decomposer=cache.get(cfg.model, cfg.device, threads), overrides=overrides)
    res = run(cfg, progress, node)
    frames = cfg.frames or (0, -1)
    return ChunkResult(
        name or Path(cfg.output).name,
        frames,
        res.written,
        res.skipped,
        str(res.manifest),
        round(time.monotonic() - t0, 3),
    )


def error_dict(exc: BaseException) -> dict[str, Any]:
    """An exception as the farm reports it: exit code, one-line message, retryable."""
    code = exc.exit_code if isinstance(exc, UnshutterError) else 1
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if not isinstance(exc, UnshutterError):
        text = f"{type(exc).__name__}: {text}"
    return {"exit_code": code, "message": text, "retryable": is_retryable(code)}
