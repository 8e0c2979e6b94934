"""Comparison helpers and edge-case inputs shared by the kernel tests."""

from __future__ import annotations

import numpy as np

F32 = np.float32


def assert_rel(got: np.ndarray, want: np.ndarray, rtol: float = 1e-6) -> None:
    """Same shape and dtype; NaN and +-inf in the same places; elsewhere |got - want| <= rtol |want|."""
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    g = got.astype(np.float64)
    w = want.astype(np.float64)
    np.testing.assert_array_equal(np.isnan(g), np.isnan(w), "NaN positions differ")
    inf = np.isinf(w)
    np.testing.assert_array_equal(g[inf], w[inf], "inf values differ")
    ok = ~np.isnan(w) & ~inf
    err = np.abs(g[ok] - w[ok])
    bad = err > rtol * np.abs(w[ok])
    if bad.any():
        i = np.flatnonzero(bad)[0]
        raise AssertionError(
            f"{bad.sum()} of {bad.size} values off by more than rtol={rtol}: got {g[ok][i]!r}, want {w[ok][i]!r}"
        )


def wide_floats(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Random float32 of both signs over 1e-40 .. 1e38 (subnormals to near overflow)."""
    mag = 10.0 ** rng.uniform(-40, 38, shape)
    sign = np.where(rng.random(shape) < 0.5, -1.0, 1.0)
    return (sign * mag).astype(F32)


def special_floats(*around: float) -> np.ndarray:
    """Zeros, subnormals, huge, inf, NaN, and each value of ``around`` with its float32 neighbours."""
    vals = [0.0, -0.0, 1e-45, -1e-45, 1e-38, 1e-7, 0.5, 1.0, -1.0, 2.0, 100.0, 3.4e38, -3.4e38, np.inf, -np.inf, np.nan]
    for a in around:
        a32 = F32(a)
        for v in (np.nextafter(a32, F32(-np.inf)), a32, np.nextafter(a32, F32(np.inf))):
            vals += [float(v), -float(v)]
    return np.array(vals, F32)
