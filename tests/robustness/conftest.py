"""Fixtures for the robustness suite: file-size limits and a small disk."""

from __future__ import annotations

import resource
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


def size_limit(limit_bytes: int) -> Callable[[], None]:
    """preexec_fn for subprocess: the child may not write a file past ``limit_bytes`` (``ulimit -f``).

    Python ignores SIGXFSZ, so a write past the limit fails with EFBIG, as
    one on a full disk fails with ENOSPC. Needs no privileges.
    """

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return apply


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Callable[[int], Path]]:
    """``make(kib)`` mounts a tmpfs of that size and returns its folder; skipped where mounting is not allowed."""
    mounts: list[Path] = []

    def make(kib: int) -> Path:
        where = tmp_path / f"disk{len(mounts)}"
        where.mkdir()
        p = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(where)], capture_output=True, text=True
        )
        if p.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({p.stderr.strip() or p.returncode}); the ulimit cases still run")
        mounts.append(where)
        return where

    yield make
    for m in mounts:
        subprocess.run(["umount", "-l", str(m)], check=False)


# Hypothesis: few, reproducible examples by default so `make test` stays fast and never flaky on a shared,
# noisy machine (no deadline); HYPOTHESIS_PROFILE=thorough runs many more, with fresh randomness.
try:
    from hypothesis import HealthCheck, settings
except ImportError:  # the test extra is not installed: the property modules skip themselves
    pass
else:
    import os as _os

    settings.register_profile(
        "unshutter", max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
    )
    settings.register_profile(
        "thorough",
        max_examples=int(_os.environ.get("HYPOTHESIS_EXAMPLES", 1000)),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.load_profile(_os.environ.get("HYPOTHESIS_PROFILE", "unshutter"))
