"""Shared fixtures: small synthetic blurred clips made with the real sample renderer."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from unshutter import kernels
from unshutter.sample import render_clip, write_exr_sequence


def textured_photo(h: int = 160, w: int = 260, seed: int = 0) -> np.ndarray:
    """A deterministic photo-like linear image with edges and texture. Shape: -> [h, w, 3]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    for _ in range(40):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        r = rng.uniform(4, 22)
        col = rng.uniform(0.05, 1.0, 3).astype(np.float32)
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = col
    img += 0.15 * (np.sin(xx / 3.0) * np.cos(yy / 5.0))[..., None]
    return kernels.srgb_decode(np.clip(img, 0.0, 1.0).astype(np.float32))


@pytest.fixture(scope="session")
def hdr_clip(tmp_path_factory: pytest.TempPathFactory) -> str:
    """6 frames, 96x64, EXR half from 1001, values up to ~3 (HDR), panning right."""
    folder = tmp_path_factory.mktemp("hdr")
    frames = render_clip(textured_photo(), 6, 96, 64, speed=5.0, curve=0.3, samples=12, gain=3.0)
    return write_exr_sequence(folder, "shot", frames, 1001)


@pytest.fixture()
def fresh_hdr_clip(tmp_path: Path) -> str:
    frames = render_clip(textured_photo(), 6, 96, 64, speed=5.0, curve=0.3, samples=12, gain=3.0)
    return write_exr_sequence(tmp_path / "in", "shot", frames, 1001)


@pytest.fixture()
def claim_holder():  # noqa: ANN201
    """Start another process that claims output frames (``unshutter.io.claim``) and holds them until killed.

    ``hold(folder, name, span)`` returns the process once its claim is in place
    (span None: the whole file); every holder is killed at the end of the test.
    """
    import subprocess
    import sys

    procs: list[subprocess.Popen] = []

    def hold(folder: Path, name: str, span: tuple[int, int] | None) -> subprocess.Popen:
        code = ("import time\nfrom pathlib import Path\nfrom unshutter.io.claim import claim\n"
                f"with claim(Path({str(folder)!r}), {name!r}, {span!r}, 'out'):\n"
                "    print('held', flush=True)\n    time.sleep(300)\n")
        p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        procs.append(p)
        assert p.stdout is not None and p.stdout.readline().strip() == "held"
        return p

    yield hold
    for p in procs:
        p.kill()
        p.wait()
