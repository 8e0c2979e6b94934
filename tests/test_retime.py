"""Retime: K -> N resampling at slice middles, the reblur constraint, output numbering."""

from __future__ import annotations

import numpy as np
import pytest

from unshutter import retime
from unshutter.errors import ParameterError


def _ramp(k: int = 7) -> np.ndarray:
    # sub-frame k holds the value of its time (k + 0.5) / K everywhere
    t = (np.arange(k, dtype=np.float32) + 0.5) / k
    return np.ascontiguousarray(np.broadcast_to(t[:, None, None, None], (k, 3, 4, 3)))


@pytest.mark.parametrize("n", [2, 3, 4, 7, 9, 16])
def test_resample_hits_slice_middles(n: int) -> None:
    sub = _ramp()
    blurred = np.full((3, 4, 3), 0.5, np.float32)
    out = retime.retime(sub, blurred, n)
    want = (np.arange(n) + 0.5) / n
    inner = (want >= 0.5 / 7) & (want <= 6.5 / 7)  # beyond the outer middles the ends are held
    np.testing.assert_allclose(out[inner, 0, 0, 0], want[inner], atol=1e-6)
    np.testing.assert_allclose(out.mean(0), blurred, atol=1e-6)


def test_factor_one_is_the_middle() -> None:
    sub = np.random.default_rng(1).random((7, 5, 6, 3)).astype(np.float32)
    out = retime.retime(sub, sub.mean(0), 1)
    np.testing.assert_array_equal(out[0], sub[3])


def test_reblur_exact_on_random_hdr() -> None:
    rng = np.random.default_rng(2)
    sub = (rng.random((7, 9, 11, 3)) * 50).astype(np.float32)
    target = (rng.random((9, 11, 3)) * 50).astype(np.float32)
    out = retime.retime(sub, target, 5)
    np.testing.assert_allclose(out.mean(0, dtype=np.float64), target, rtol=1e-6, atol=1e-5)


def test_numbering_contract() -> None:
    assert [retime.output_frame(1001, 1001, 4, k) for k in range(4)] == [1001, 1002, 1003, 1004]
    assert retime.output_frame(1001, 1003, 4, 2) == 1001 + 2 * 4 + 2
    assert retime.subframe_time(0, 4) == pytest.approx(0.125)
    assert retime.subframe_time(3, 4, 180.0, "exposure") == pytest.approx(0.4375)
    assert retime.subframe_time(3, 4, 180.0) == pytest.approx(0.875)  # even timing: in the shutter gap


@pytest.mark.parametrize("factor,shutter", [(0, 360.0), (17, 360.0), (2.5, 360.0), (4, 0.0), (4, 361.0)])
def test_bad_params(factor, shutter) -> None:
    with pytest.raises(ParameterError):
        retime.check_params(factor, shutter)


@pytest.mark.parametrize("n", [1, 3, 7, 12])
def test_banded_and_in_place_match_whole_frame_kernels(n: int) -> None:
    from unshutter import kernels

    rng = np.random.default_rng(3)
    h = retime.BAND_ROWS * 2 + 37  # several bands and a short last one
    sub = (rng.random((7, h, 5, 3)) * 4).astype(np.float32)
    target = (rng.random((h, 5, 3)) * 4).astype(np.float32)
    want = kernels.resample_subframes(sub, n)
    if n >= 2:
        want = kernels.reblur_project(want, target)
    np.testing.assert_array_equal(retime.retime(sub, target, n), want)
    work = sub.copy()
    got = retime.retime(work, target, n, reuse=True)
    np.testing.assert_array_equal(got, want)
    assert np.shares_memory(got, work) == (n <= 7)


@pytest.mark.parametrize("k", [7, 8])
def test_resample_at_slice_middles_gives_the_kernels_values_exactly(k: int) -> None:
    """Outputs that fall on one sub-frame are copied (or left in place at N == K): the kernel's values,
    bit for bit, for every factor, into a new stack or into the sub-frames' own memory."""
    from unshutter import kernels

    rng = np.random.default_rng(k)
    sub = rng.normal(0.3, 0.5, (k, 21, 19, 3)).astype(np.float32)
    for m in range(1, 17):
        u = (np.arange(m) + 0.5) / m
        want = kernels.resample_subframes(sub, m)
        assert retime.resample_at(sub, u).tobytes() == want.tobytes(), m
        if m <= k:
            own = sub.copy()
            got = retime.resample_at(own, u, out=own[:m])
            assert got.tobytes() == want.tobytes(), m
    own = sub.copy()
    assert retime.resample_at(own, (np.arange(k) + 0.5) / k, out=own[:k]).ctypes.data == own.ctypes.data
