"""The OpenFX bundle a wheel carries renders like the tree's: loaded by the test host from the
installed wheel, with that wheel's own `unshutter worker` (found through UNSHUTTER_EXECUTABLE)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from tests.ofx.conftest import FIRST, FRAMES, Host, read_raw
from tests.test_packaging import build_wheel, install_wheel

N = 3


@pytest.mark.slow
def test_installed_wheels_bundle_renders_like_the_cli(built, clip, cli_render, tmp_path: Path) -> None:
    site = tmp_path / "site"
    install_wheel(build_wheel(tmp_path / "dist"), site)
    binary = site / "unshutter" / "ofx" / "Unshutter.ofx.bundle" / "Contents" / "Linux-x86-64" / "Unshutter.ofx"
    worker = tmp_path / "unshutter-from-wheel"
    started = tmp_path / "worker-started"
    worker.write_text(f'#!/bin/sh\ntouch {started}\nPYTHONPATH={site} exec {sys.executable} -m unshutter "$@"\n')
    worker.chmod(0o755)
    h = Host(env={"UNSHUTTER_EXECUTABLE": str(worker), "UNSHUTTER_OFX_VERBOSE": "1"})
    try:
        h.start("general", clip, factor=N, binary=binary)
        ref = cli_render("--factor", str(N))
        for t in range(FIRST, FIRST + FRAMES * N):
            status, facts = h.render(t, tmp_path / f"o.{t}.raw")
            assert status == 0, facts
            np.testing.assert_allclose(read_raw(tmp_path / f"o.{t}.raw")[..., :3], ref[t], rtol=0, atol=1e-5)
        assert started.exists()  # the wheel's worker rendered them
    finally:
        h.close()
