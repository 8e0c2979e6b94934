"""Fixtures of the kernel tests: the native module (or a skip) and a seeded RNG."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture()
def native():
    """unshutter._native, or skip when the C++ module is not built."""
    try:
        from unshutter import _native
    except ImportError as exc:  # pragma: no cover - CI builds it
        pytest.skip(f"unshutter._native not built: {exc}")
    return _native


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(20261122)
