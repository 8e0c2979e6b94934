"""Property tests of the pixel path (Hypothesis): any size, channel count, pixel type and value range.

A frame from 1x1 to very wide, with 1-4 channels, in half, float, 8 or
16 bit, with values up to the half maximum, either comes back as a valid
output (every frame finite, of its size and channels, nothing left behind)
or as a one-line error with a documented exit code. Nothing non-finite is
ever written.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest

from tests.limits import HANG

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from unshutter.decomposer.runtime import Decomposer  # noqa: E402
from unshutter.errors import UnshutterError  # noqa: E402
from unshutter.io.atomic import TMP_MARK  # noqa: E402
from unshutter.io.claim import CLAIM_DIR  # noqa: E402
from unshutter.io.image_file import ImageMeta, read_image, write_image  # noqa: E402
from unshutter.node import Node, NodeParams  # noqa: E402
from unshutter.pipeline import RunConfig, run  # noqa: E402

HALF_MAX = 65504.0
CHANNELS = [["Y"], ["R", "G"], ["Y", "A"], ["R", "G", "B"], ["R", "G", "B", "A"]]
TYPES = [
    ("half", ".exr", 16),
    ("float", ".exr", 32),
    ("uint8", ".png", 8),
    ("uint16", ".png", 16),
    ("uint16", ".tif", 16),
    ("uint8", ".tif", 8),
]
sizes = st.one_of(
    st.tuples(st.integers(1, 24), st.integers(1, 40)),  # small, down to 1x1
    st.tuples(st.integers(1, 6), st.integers(300, 1500)),  # wide strips
    st.tuples(st.integers(300, 900), st.integers(1, 4)),
)  # tall slivers
peaks = st.sampled_from([0.0, 1e-3, 1.0, 60000.0, HALF_MAX])


def _pixels(seed: int, n: int, h: int, w: int, c: int, peak: float, flat: bool) -> np.ndarray:
    """Shape: -> [n, h, w, c] float32 in 0..peak (constant frames when ``flat``)."""
    rng = np.random.default_rng(seed)
    if flat:
        return np.full((n, h, w, c), peak * 0.5, np.float32)
    return (rng.random((n, h, w, c)) * peak).astype(np.float32)


def _assert_nothing_left(folder: Path) -> None:
    assert not [p for p in folder.rglob("*") if TMP_MARK in p.name]
    claims = folder / CLAIM_DIR
    assert not (claims.exists() and list(claims.iterdir()))


@given(
    size=sizes,
    names=st.sampled_from(CHANNELS),
    kind=st.sampled_from(TYPES),
    peak=peaks,
    extreme=st.sampled_from([None, 1e6, -1e6, -HALF_MAX, np.nan]),
    seed=st.integers(0, 2**16),
)
def test_write_image_writes_finite_whole_files_or_refuses(
    size: tuple[int, int], names: list[str], kind: tuple[str, str, int], peak: float, extreme: float | None, seed: int
) -> None:
    (h, w), (fmt, ext, bits) = size, kind
    px = _pixels(seed, 1, h, w, len(names), peak, False)[0]
    if extreme is not None:
        px[h // 2, w // 2, 0] = extreme
    with tempfile.TemporaryDirectory() as d:
        target = Path(d) / f"f.1001{ext}"
        try:
            write_image(target, px, ImageMeta(w, h, names, fmt, bits, {}, ""))
        except UnshutterError as exc:
            assert extreme is not None and np.isnan(extreme), exc  # only NaN is refused
            assert "\n" not in str(exc) and str(target) in str(exc)
            assert list(Path(d).iterdir()) == []
            return
        back, meta = read_image(target)
        assert back.shape == (h, w, len(names)) and np.isfinite(back).all()
        if fmt == "half":
            assert np.abs(back).max() <= HALF_MAX
        _assert_nothing_left(Path(d))


@pytest.fixture(scope="module")
def decomposer() -> Decomposer:
    return Decomposer(None, device="cpu")


@given(
    size=sizes,
    names=st.sampled_from(CHANNELS),
    kind=st.sampled_from(TYPES),
    peak=peaks,
    flat=st.booleans(),
    factor=st.integers(1, 4),
    guidance=st.sampled_from(["neighbors", "none", "left"]),
    frames=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_run_gives_a_valid_output_or_one_line(
    decomposer: Decomposer,
    size: tuple[int, int],
    names: list[str],
    kind: tuple[str, str, int],
    peak: float,
    flat: bool,
    factor: int,
    guidance: str,
    frames: int,
    seed: int,
) -> None:
    (h, w), (fmt, ext, bits) = size, kind
    if fmt.startswith("uint"):
        peak = min(peak, 1.0)  # integer files hold 0..1
    clip = _pixels(seed, frames, h, w, len(names), peak, flat)
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        meta = ImageMeta(w, h, names, fmt, bits, {}, "")
        for i, f in enumerate(clip):
            write_image(folder / "in" / f"clip.{1001 + i}{ext}", f, meta)
        params = NodeParams(factor=factor, guidance=guidance)
        try:
            res = run(
                RunConfig(str(folder / "in" / f"clip.####{ext}"), str(folder / "out"), params),
                node=Node(params, decomposer=decomposer),
            )
        except UnshutterError as exc:  # valid input: nothing should be refused, but say what if it is
            pytest.fail(f"{h}x{w} {names} {fmt}: refused with exit {exc.exit_code}: {exc}")
        outs = sorted((folder / "out").glob(f"clip.*{ext}"))
        assert res.written == len(outs) == frames * factor
        for p in outs:
            px, got = read_image(p)
            assert px.shape == (h, w, len(names)) and np.isfinite(px).all(), p.name
        manifest = json.loads(res.manifest.read_text(), parse_constant=lambda c: pytest.fail(f"{c} in manifest"))
        assert manifest["complete"] is True
        _assert_nothing_left(folder / "out")


_LIMITED_WRITER = """
import sys
from pathlib import Path
import numpy as np
from unshutter.errors import UnshutterError
from unshutter.io.image_file import ImageMeta, write_image
path, fmt, bits, h, w = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
px = np.random.default_rng(h * w).random((h, w, 3)).astype(np.float32) * (60000.0 if fmt == "half" else 1.0)
try:
    write_image(path, px, ImageMeta(w, h, ["R", "G", "B"], fmt, bits, {}, ""))
except UnshutterError as exc:
    print(exc.exit_code, str(exc))
"""


@given(
    kind=st.sampled_from(TYPES + [("uint8", ".jpg", 8), ("uint16", ".dpx", 10)]),
    size=st.tuples(st.integers(1, 64), st.integers(1, 300)),
    limit=st.integers(1, 120_000),
)
@settings(max_examples=12)  # a child process each: keep the count small
def test_write_under_any_file_size_limit_is_whole_or_nothing(
    kind: tuple[str, str, int], size: tuple[int, int], limit: int
) -> None:
    import subprocess
    import sys

    from tests.robustness.conftest import size_limit

    (fmt, ext, bits), (h, w) = kind, size
    with tempfile.TemporaryDirectory() as d:
        target = Path(d) / f"f.1001{ext}"
        p = subprocess.run(
            [sys.executable, "-c", _LIMITED_WRITER, str(target), fmt, str(bits), str(h), str(w)],
            capture_output=True,
            text=True,
            timeout=HANG,
            preexec_fn=size_limit(limit),
        )
        assert p.returncode == 0, p.stderr  # no traceback, no crash (libjpeg's exit, SIGXFSZ)
        if p.stdout.strip():
            code, msg = p.stdout.strip().split(" ", 1)
            assert code == "6" and str(target) in msg and "\n" not in msg.strip()
            assert list(Path(d).iterdir()) == []
        else:
            back, _ = read_image(target)
            assert back.shape == (h, w, 3) and target.stat().st_size < limit
            _assert_nothing_left(Path(d))
