"""kernels.zero_upper: the vector state another library's AVX code leaves behind, cleared (native/cpu.cpp)."""

from __future__ import annotations

import numpy as np

from unshutter import kernels


def test_zero_upper_is_native_and_leaves_the_threads_work_alone(native, rng):
    """VZEROUPPER where the CPU has AVX (a no-op elsewhere): nothing a kernel computes changes around it."""
    assert hasattr(native, "zero_upper")
    x = rng.standard_normal(1 << 16).astype(np.float32)
    before = kernels.srgb_encode(x)
    kernels.zero_upper()
    np.testing.assert_array_equal(kernels.srgb_encode(x), before)


def test_zero_upper_without_the_native_module_does_nothing(monkeypatch):
    """A tree whose C++ was not rebuilt (or a host without it) runs on: there is no state to clear."""
    from unshutter.kernels import reference

    monkeypatch.setattr(kernels, "_impl", reference)
    kernels.zero_upper()
