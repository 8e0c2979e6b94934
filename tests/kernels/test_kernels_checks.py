"""Public kernel functions refuse bad input with TypeError/ValueError on every backend, and dispatch."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import numpy as np
import pytest

from tests.limits import HANG
import unshutter.kernels as K
from unshutter.kernels import reference as ref

F32 = np.float32
BACKENDS = ["native", "numpy"]


@pytest.fixture(params=BACKENDS)
def backend(request, monkeypatch):
    """Run the test through the native kernels and through the NumPy reference."""
    if request.param == "native":
        if K._native is None:
            pytest.skip("unshutter._native not built")
        monkeypatch.setattr(K, "_impl", K._native)
    else:
        monkeypatch.setattr(K, "_impl", ref)
    return request.param


class FakeCupyArray:
    """Looks like a CuPy array to the dispatcher (module name), without CuPy."""

    __module__ = "cupy._core.core"
    dtype = np.dtype(np.float32)
    shape = (4, 4)
    ndim = 2
    size = 16

    class flags:  # noqa: N801 - mirrors ndarray.flags
        c_contiguous = True


def img(*shape):
    return np.zeros(shape, F32)


def noncontig(*shape):
    a = np.zeros(shape[:-1] + (shape[-1] * 2,), F32)
    return a[..., ::2]


# one call per function with good arguments; each case below breaks one of them
GOOD = {
    "quantize_motion": lambda: (img(4, 5, 2), 1.0),
    "signs_to_labels": lambda: (img(4, 5, 2),),
    "labels_to_signs": lambda: (np.zeros((4, 5), np.uint8),),
    "clean_isolated": lambda: (img(4, 5, 2),),
    "composite_region": lambda: (img(4, 5, 2), img(4, 5), img(4, 5), (1.0, -1.0)),
    "accumulate_tile": lambda: (img(8, 9, 3), img(8, 9), img(4, 5, 3), img(4, 5), 1, 2),
    "normalize_accumulated": lambda: (img(8, 9, 3), img(8, 9)),
    "resample_subframes": lambda: (img(3, 4, 5, 3), 4),
    "reblur_project": lambda: (img(3, 4, 5, 3), img(4, 5, 3)),
    "flow_warp": lambda: (img(3, 4, 5), img(2, 4, 5), 7),
    "warp_blend": lambda: (img(7, 3, 4, 5), img(3, 4, 5), img(3, 4, 5), img(2, 4, 5), img(7, 4, 5)),
    "motion_blur": lambda: (img(4, 5, 3), img(4, 5, 2), 1.0, 1.5, 8),
    "deblur_motion": lambda: (img(4, 5, 3), img(4, 5, 3), img(4, 5, 2), 0.5, 3, 1.5, 8),
    "srgb_encode": lambda: (img(4, 5, 3),),
    "log_decode": lambda: (img(4, 5, 3),),
    "to_half": lambda: (img(4, 5, 6),),
}


def call(name, args):
    return getattr(K, name)(*args)


@pytest.mark.parametrize("name", sorted(GOOD))
def test_good_inputs_work(backend, name):
    call(name, GOOD[name]())


def replace(args, i, value):
    args = list(args)
    args[i] = value
    return args


BAD = [
    # (function, argument index, bad value, exception, message fragment)
    ("quantize_motion", 0, img(4, 5, 2).astype(np.float64), TypeError, "float32"),
    ("quantize_motion", 0, img(4, 5, 2).astype(np.float16), TypeError, "float32"),
    ("quantize_motion", 0, img(4, 5, 2).astype(">f4"), TypeError, "float32"),
    ("quantize_motion", 0, [[[0.0, 0.0]]], TypeError, "NumPy array"),
    ("quantize_motion", 0, noncontig(4, 5, 2), ValueError, "C-contiguous"),
    ("quantize_motion", 0, img(4, 5, 2).transpose(1, 0, 2), ValueError, "C-contiguous"),
    ("quantize_motion", 0, img(4, 5), ValueError, "dimensions"),
    ("quantize_motion", 0, img(4, 5, 3), ValueError, "last axis 2"),
    ("quantize_motion", 1, "1.0", TypeError, "threshold"),
    ("signs_to_labels", 0, img(4, 5, 2, 1), ValueError, "dimensions"),
    ("labels_to_signs", 0, np.full((2, 2), 7, np.uint8), ValueError, "0..4"),
    ("labels_to_signs", 0, np.full((2, 2), -1, np.int64), ValueError, "0..4"),
    ("labels_to_signs", 0, np.zeros((2, 2), F32), TypeError, "integer"),
    ("labels_to_signs", 0, np.zeros((2, 2, 1), np.uint8), ValueError, "dimensions"),
    ("clean_isolated", 0, img(4, 5, 2)[:, :3], ValueError, "C-contiguous"),
    ("composite_region", 0, img(4, 6, 2), ValueError, "agree"),
    ("composite_region", 1, img(4, 6), ValueError, "agree"),
    ("composite_region", 2, img(5, 5), ValueError, "agree"),
    ("composite_region", 2, img(4, 5).astype(np.float64), TypeError, "float32"),
    ("composite_region", 3, (1.0,), ValueError, "pair"),
    ("composite_region", 3, ("a", 1), TypeError, "direction"),
    ("accumulate_tile", 0, img(8, 9, 4), ValueError, "channels"),
    ("accumulate_tile", 1, img(8, 8), ValueError, "agree"),
    ("accumulate_tile", 2, img(4, 6, 3), ValueError, "agree"),
    ("accumulate_tile", 3, img(4, 5, 1), ValueError, "dimensions"),
    ("accumulate_tile", 4, 5, ValueError, "outside"),
    ("accumulate_tile", 5, 5, ValueError, "outside"),
    ("accumulate_tile", 4, -1, ValueError, ">= 0"),
    ("accumulate_tile", 5, 1.5, TypeError, "integer"),
    ("normalize_accumulated", 1, img(8, 10), ValueError, "agree"),
    ("normalize_accumulated", 0, img(8, 9), ValueError, "dimensions"),
    ("resample_subframes", 1, 0, ValueError, ">= 1"),
    ("resample_subframes", 1, 2.0, TypeError, "integer"),
    ("resample_subframes", 0, img(0, 4, 5, 3), ValueError, "no sub-frames"),
    ("resample_subframes", 0, img(4, 5, 3), ValueError, "dimensions"),
    ("reblur_project", 1, img(4, 6, 3), ValueError, "agree"),
    ("reblur_project", 0, img(0, 4, 5, 3), ValueError, "no sub-frames"),
    ("reblur_project", 1, img(4, 5, 3).astype(np.float64), TypeError, "float32"),
    ("flow_warp", 1, img(2, 4, 6), ValueError, "agree"),
    ("flow_warp", 1, img(3, 4, 5), ValueError, "agree"),
    ("flow_warp", 0, img(4, 5), ValueError, "dimensions"),
    ("flow_warp", 2, 0, ValueError, ">= 1"),
    ("flow_warp", 0, img(3, 4, 5)[:, :, ::-1], ValueError, "C-contiguous"),
    ("warp_blend", 1, img(3, 4, 6), ValueError, "agree"),
    ("warp_blend", 2, img(4, 4, 5), ValueError, "agree"),
    ("warp_blend", 3, img(2, 5, 5), ValueError, "agree"),
    ("warp_blend", 4, img(6, 4, 5), ValueError, "agree"),
    ("warp_blend", 0, img(3, 4, 5), ValueError, "dimensions"),
    ("motion_blur", 1, img(4, 6, 2), ValueError, "agree"),
    ("motion_blur", 1, img(4, 5, 3), ValueError, "last axis 2"),
    ("motion_blur", 0, img(4, 5, 17), ValueError, "1 to 16 channels"),
    ("motion_blur", 2, 0.0, ValueError, "span"),
    ("motion_blur", 2, 1.5, ValueError, "span"),
    ("motion_blur", 3, -1.0, ValueError, "spacing"),
    ("motion_blur", 4, 0, ValueError, ">= 1"),
    ("motion_blur", 4, 2000, ValueError, "at most 1024"),
    ("deblur_motion", 1, img(4, 6, 3), ValueError, "agree"),
    ("deblur_motion", 2, img(4, 5), ValueError, "dimensions"),
    ("deblur_motion", 4, -1, ValueError, ">= 0"),
    ("deblur_motion", 4, 2.5, TypeError, "integer"),
    ("srgb_encode", 0, np.zeros((4, 5, 3), np.uint8), TypeError, "float32"),
    ("to_half", 0, img(4, 5, 6).astype(np.float64), TypeError, "float32"),
    ("to_half", 0, noncontig(4, 5, 6), ValueError, "C-contiguous"),
    ("srgb_encode", 0, noncontig(4, 5, 3), ValueError, "C-contiguous"),
    ("srgb_encode", 0, 1.0, TypeError, "NumPy array"),
    ("normalize_accumulated", 1, FakeCupyArray(), TypeError, "mix NumPy and CuPy"),
]


@pytest.mark.parametrize("name,i,value,exc,match", BAD, ids=[f"{b[0]}-arg{b[1]}-{j}" for j, b in enumerate(BAD)])
def test_bad_inputs_raise(backend, name, i, value, exc, match):
    with pytest.raises(exc, match=match):
        call(name, replace(GOOD[name](), i, value))


@pytest.mark.parametrize(
    "name,i",
    [
        ("composite_region", 0),
        ("composite_region", 1),
        ("accumulate_tile", 0),
        ("accumulate_tile", 1),
        ("warp_blend", 0),
    ],
)
def test_read_only_outputs_raise(backend, name, i):
    args = GOOD[name]()
    args[i].setflags(write=False)
    with pytest.raises(ValueError, match="read-only"):
        call(name, args)


def test_unaligned_raises(backend):
    buf = np.zeros(4 * 20 + 1, np.uint8)
    x = np.frombuffer(buf.data, dtype=F32, count=20, offset=1)
    assert not x.flags.aligned
    with pytest.raises(ValueError, match="aligned"):
        K.srgb_encode(x)


def test_cupy_arrays_go_to_the_gpu_module(monkeypatch):
    calls = []

    class StubGpu:
        @staticmethod
        def log_decode(x):
            calls.append(x)
            return "gpu result"

    monkeypatch.setattr(K, "_gpu", lambda: StubGpu)
    x = FakeCupyArray()
    assert K.log_decode(x) == "gpu result" and calls == [x]


class DeviceArray:
    """A CuPy array as the kernels see it (its type's module, shape, dtype, flags) without CuPy or a GPU.
    Like CuPy's, it refuses to become a NumPy array implicitly: a kernel can only copy it to the host
    by asking for it."""

    __module__ = "cupy._core.core"

    def __init__(self, like: np.ndarray) -> None:
        self.shape, self.dtype, self.ndim, self.size = like.shape, like.dtype, like.ndim, like.size
        self.strides, self.flags = like.strides, like.flags

    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed")


def pairs(h, w):
    return np.zeros(h * w, np.int32)


# every kernel of unshutter.kernels that takes arrays, with good NumPy arguments
ARRAY_KERNELS = dict(
    GOOD,
    srgb_decode=lambda: (img(4, 5, 3),),
    rec709_encode=lambda: (img(4, 5, 3),),
    rec709_decode=lambda: (img(4, 5, 3),),
    log_encode=lambda: (img(4, 5, 3),),
    central_motion=lambda: (img(4, 5, 2), img(4, 5, 2), 0.5),
    smaller_eigenvalue=lambda: (img(4, 5), img(4, 5), img(4, 5)),
    guidance_planes=lambda: (img(4, 5, 2), img(4, 5, 2), 2.0),
    affine_gate=lambda: (img(4, 5, 2), np.zeros((2, 3)), 0.5, 1.0),
    affine_fill=lambda: (img(4, 5, 2), img(4, 5), img(4, 5), img(4, 5), np.zeros((2, 3)), 1.0, 0.5),
    reblur_keep_range=lambda: (img(3, 4, 5, 3), img(4, 5, 3), 1.0, True),
    lean_toward=lambda: (img(4, 5, 3), img(4, 5, 3), img(4, 5)),
    srgb_decode_channels_last=lambda: (img(7, 3, 16, 16), 4, 5, 1.0),
    land_motion=lambda: (
        *(np.zeros(20, np.uint16) for _ in "xy"),
        *(np.zeros(20, F32) for _ in "xy"),
        np.zeros(20, np.int32),
        0.5,
        5,
        4,
        pairs(4, 5),
    ),
    sort_landings=lambda: (img(4, 5, 2), img(4, 5), pairs(4, 5)),
    warp_maps=lambda: (np.zeros((4, 5, 2), np.float16), 0.5, 0),
    close_lattice=lambda: (np.zeros((4, 5, 2), np.float16), 0.5),
)
# those whose CuPy twin in unshutter.kernels.gpu takes CuPy arrays (docs/gpu.md lists them)
GPU_TWINS = {
    "quantize_motion",
    "signs_to_labels",
    "labels_to_signs",
    "clean_isolated",
    "composite_region",
    "accumulate_tile",
    "normalize_accumulated",
    "resample_subframes",
    "reblur_project",
    "flow_warp",
    "warp_blend",
    "srgb_encode",
    "srgb_decode",
    "rec709_encode",
    "rec709_decode",
    "log_encode",
    "log_decode",
}
# the kernels that take no array (feather_weight always builds a NumPy weight; gpu.feather_weight a CuPy one)
NO_ARRAYS = {"BACKEND", "clear_cache", "feather_weight", "tile_starts", "zero_upper"}


def on_device(args):
    return [DeviceArray(a) if isinstance(a, np.ndarray) else a for a in args]


def test_every_kernel_says_where_a_cupy_array_goes():
    """A kernel added to unshutter.kernels is added here too: either its twin takes CuPy arrays or it refuses them."""
    from unshutter.kernels import gpu

    assert set(ARRAY_KERNELS) | NO_ARRAYS == set(K.__all__)
    assert GPU_TWINS <= set(ARRAY_KERNELS)
    assert GPU_TWINS == {n for n in ARRAY_KERNELS if hasattr(gpu, n)}
    doc = (Path(__file__).parents[2] / "docs" / "gpu.md").read_text(encoding="utf-8")
    listed = doc.split("Per-pixel kernels with a CuPy twin", 1)[1].split("The others", 1)[0]
    assert set(re.findall(r"`(\w+)`", listed)) == GPU_TWINS, "docs/gpu.md's list of CuPy twins"


@pytest.mark.parametrize("name", sorted(GPU_TWINS))
def test_cupy_arrays_reach_the_twin(name):
    """Routed to unshutter.kernels.gpu, the only module that imports CuPy: without CuPy the call fails
    there, after the checks, not in a host kernel."""
    if importlib.util.find_spec("cupy") is not None:
        pytest.skip("CuPy installed: test_kernels_gpu.py runs the twins")
    with pytest.raises(ModuleNotFoundError, match="cupy"):
        call(name, on_device(ARRAY_KERNELS[name]()))


@pytest.mark.parametrize("name", sorted(set(ARRAY_KERNELS) - GPU_TWINS))
def test_host_kernels_refuse_cupy_arrays(backend, name):
    """No kernel without a twin copies a device array to the host behind its caller's back."""
    with pytest.raises(
        TypeError, match=rf"^{name}: \w+ must be a NumPy array, got a CuPy array \({name} runs on the host"
    ):
        call(name, on_device(ARRAY_KERNELS[name]()))


@pytest.mark.parametrize("name", sorted(set(ARRAY_KERNELS) - set(GOOD)))
def test_the_other_array_kernels_take_good_numpy_inputs(backend, name):
    call(name, ARRAY_KERNELS[name]())


@pytest.mark.parametrize(
    "args,exc",
    [
        ((10, 0, 0), ValueError),
        ((10, 4, 4), ValueError),
        ((10, 4, -1), ValueError),
        ((10, 4.0, 1), TypeError),
        ((-1, 4, 1), ValueError),
    ],
)
def test_tile_starts_bad(args, exc):
    with pytest.raises(exc):
        K.tile_starts(*args)


def test_tile_starts_cover():
    for size, tile, ov in [(3840, 512, 32), (2160, 1024, 64), (100, 100, 10), (101, 100, 10), (5, 100, 10)]:
        starts = K.tile_starts(size, tile, ov)
        assert starts[0] == 0 and min(starts[-1] + tile, size) == size
        assert all(b - a <= tile - ov for a, b in zip(starts, starts[1:]))


def test_feather_weight_bad(backend):
    with pytest.raises(ValueError):
        K.feather_weight(-1, 4, 2, True, True, True, True)
    with pytest.raises(TypeError):
        K.feather_weight(4.5, 4, 2, True, True, True, True)


def test_backends_agree_through_public_api(monkeypatch, rng):
    if K._native is None:
        pytest.skip("unshutter._native not built")
    x = (rng.standard_normal((31, 47, 3)) * 2).astype(F32)
    out = {}
    for impl in (K._native, ref):
        monkeypatch.setattr(K, "_impl", impl)
        out[impl.__name__] = K.srgb_decode(K.srgb_encode(x))
    np.testing.assert_allclose(*out.values(), rtol=1e-6)


def test_to_half_is_astype_float16_on_every_backend(monkeypatch, rng):
    """The float16 guidance is the same whichever backend converts it (native, reference, a stale native)."""
    x = (rng.standard_normal((31, 47, 6)) * np.array([1, 1e-6, 1, 1, 1, 1])).astype(F32)  # subnormal halves too
    want = x.astype(np.float16)
    stale = types.SimpleNamespace()  # a _native built before to_half existed: the reference takes over
    for impl in [m for m in (K._native, ref, stale) if m is not None]:
        monkeypatch.setattr(K, "_impl", impl)
        got = K.to_half(x)
        assert got.dtype == np.float16 and got.shape == x.shape
        np.testing.assert_array_equal(got.view(np.uint16), want.view(np.uint16))


# ---------------------------------------------------------------- native module called directly


def test_native_module_refuses_instead_of_crashing(native):
    with pytest.raises(TypeError):
        native.srgb_encode(np.zeros(4, np.float64))
    with pytest.raises(TypeError):
        native.srgb_encode(np.zeros(8, F32)[::2])
    with pytest.raises(ValueError):
        native.quantize_motion(np.zeros((2, 2, 3), F32), 1.0)
    with pytest.raises(ValueError):
        native.accumulate_tile(img(4, 4, 3), img(4, 4), img(4, 4, 3), img(4, 4), 1, 0)
    with pytest.raises(ValueError):
        native.reblur_project(img(2, 4, 4, 3), img(4, 5, 3))
    ro = img(4, 4, 2)
    ro.setflags(write=False)
    with pytest.raises(ValueError):
        native.composite_region(ro, img(4, 4), img(4, 4), (1.0, 1.0))


# ---------------------------------------------------------------- dispatch and environment


def run_py(code: str, **env: str) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, **env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=full_env, capture_output=True, text=True, timeout=HANG
    )


def test_backend_is_native_when_built():
    if K._native is None:
        pytest.skip("unshutter._native not built")
    assert K.BACKEND == "native" or os.environ.get("UNSHUTTER_KERNELS") == "numpy"


def test_env_forces_numpy():
    r = run_py("import unshutter.kernels as K; print(K.BACKEND, K._impl.__name__)", UNSHUTTER_KERNELS="numpy")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["numpy", "unshutter.kernels.reference"]


def test_env_rejects_unknown_value():
    r = run_py("import unshutter.kernels", UNSHUTTER_KERNELS="fast")
    assert r.returncode != 0 and "UNSHUTTER_KERNELS" in r.stderr


def test_gpu_module_imports_without_cupy():
    r = run_py("import unshutter.kernels.gpu as g; print(g.available() in (True, False))")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "True"


def test_forked_child_does_not_hang(native):
    """libgomp's thread pool does not survive fork(); the kernels run single-threaded in the child."""
    r = run_py(
        """
        import multiprocessing as mp, numpy as np
        from unshutter import _native
        x = np.ones(1 << 20, np.float32)
        want = _native.srgb_encode(x)  # the parent starts its OpenMP pool

        def child(q):
            q.put(bool(np.array_equal(_native.srgb_encode(x), want)))

        ctx = mp.get_context("fork")
        q = ctx.Queue()
        p = ctx.Process(target=child, args=(q,))
        p.start()
        p.join(300)  # inside run_py's limit
        print("hung" if p.is_alive() else q.get(timeout=5))
        if p.is_alive():
            p.kill()
        """
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "True"


# ---------------------------------------------------------------- output buffer cache


def test_large_outputs_reuse_cached_buffers(native):
    native.clear_cache()
    x = np.ones((1024, 1024, 3), F32)  # 12 MiB: goes through the cache
    y = native.srgb_encode(x)
    assert y.flags.writeable and y.flags.c_contiguous and not np.shares_memory(x, y)
    y[...] = 5.0
    addr = y.__array_interface__["data"][0]
    del y
    if native.cache_info()["limit_bytes"] == 0:
        pytest.skip("UNSHUTTER_NATIVE_CACHE_MB=0")
    assert native.cache_info()["cached_bytes"] >= x.nbytes
    z = native.srgb_encode(x)  # the same buffer, fully overwritten
    assert z.__array_interface__["data"][0] == addr
    np.testing.assert_array_equal(z, ref.srgb_encode(x))
    assert native.cache_info()["cached_bytes"] == 0
    del z
    native.clear_cache()
    assert native.cache_info()["cached_bytes"] == 0


def test_cache_can_be_disabled():
    r = run_py(
        """
        import numpy as np
        from unshutter import _native
        y = _native.srgb_encode(np.ones((1024, 1024, 3), np.float32))
        del y
        print(_native.cache_info())
        """,
        UNSHUTTER_NATIVE_CACHE_MB="0",
    )
    assert r.returncode == 0, r.stderr
    assert "'cached_bytes': 0" in r.stdout and "'limit_bytes': 0" in r.stdout


def test_kernels_release_the_gil(native):
    """Python code runs in another thread while a long kernel works (it would not if the kernel held the GIL)."""
    import threading
    import time

    x = np.ones((16 << 20,), F32)
    native.srgb_encode(x)  # first-use dispatch and output buffer outside the measurement
    span = []
    done = threading.Event()

    def work():
        t0 = time.perf_counter()
        native.srgb_encode(x)
        span.extend([t0, time.perf_counter()])
        done.set()

    ticks = []
    t = threading.Thread(target=work)
    t.start()
    while not done.is_set():
        ticks.append(time.perf_counter())
    t.join()
    t0, t1 = span
    margin = 0.012  # > the 5 ms switch interval: the threads may trade the GIL around the call
    inside = sum(t0 + margin < v < t1 - margin for v in ticks)
    if t1 - t0 < 3 * margin:
        pytest.skip(f"kernel took {t1 - t0:.3f} s, too fast to tell")
    assert inside > 100, f"main thread ran {inside} steps during the {t1 - t0:.3f} s kernel"


def test_public_clear_cache_empties_the_native_cache() -> None:
    """kernels.clear_cache (what the decomposer calls before its 4K accumulator) frees every cached buffer."""
    from unshutter import kernels

    y = kernels.srgb_encode(np.ones((1024, 1024, 3), F32))
    del y
    kernels.clear_cache()  # a no-op with the NumPy backend
    if kernels.BACKEND == "native":
        from unshutter import _native

        assert _native.cache_info()["cached_bytes"] == 0


def test_a_stale_native_build_without_the_warp_kernels_falls_back_to_the_reference(monkeypatch):
    class Stale:  # a _native built before flow_warp / warp_blend existed
        pass

    monkeypatch.setattr(K, "_impl", Stale())
    src, motion = np.ones((3, 4, 5), F32), np.zeros((2, 4, 5), F32)
    np.testing.assert_array_equal(K.flow_warp(src, motion, 3), np.ones((3, 3, 4, 5), F32))
    res = np.zeros((3, 3, 4, 5), F32)
    K.warp_blend(res, src, src, motion, np.ones((3, 4, 5), F32))
    np.testing.assert_array_equal(res, np.ones_like(res))


@pytest.mark.skipif(K._native is None, reason="unshutter._native not built")
@pytest.mark.parametrize("given", [None, "ACTIVE"])
def test_native_openmp_waits_passively_and_leaves_the_environment_alone(given: str | None) -> None:
    """The kernels' OpenMP threads sleep when idle (spinning ones held the cores their partners needed),
    unless the user set a wait policy; the variable is not left behind for other libraries or children."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env["OMP_DISPLAY_ENV"] = "VERBOSE"  # libgomp prints its settings when it starts
    if given is not None:
        env["OMP_WAIT_POLICY"] = given
    code = "import os, unshutter.kernels as K; print('left', os.environ.get('OMP_WAIT_POLICY'))"
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=HANG)
    assert r.returncode == 0, r.stderr
    if "GOMP_SPINCOUNT" not in r.stderr:
        pytest.skip("not libgomp: its spin count is not displayed")
    if given is None:  # passive: no spinning at all (libgomp's default spins 300000 times)
        assert "GOMP_SPINCOUNT = '0'" in r.stderr, r.stderr
    else:
        assert "OMP_WAIT_POLICY = 'ACTIVE'" in r.stderr and "GOMP_SPINCOUNT = '0'" not in r.stderr, r.stderr
    assert f"left {given}" in r.stdout
