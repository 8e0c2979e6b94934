"""``unshutter run`` stopped by SIGTERM or SIGHUP (farms, process managers, a closed terminal) unwinds like Ctrl-C.

It says so in one line, exits 128 + the signal number, keeps every complete
frame and leaves neither its temporary file nor its claim behind.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from unshutter.io.atomic import TMP_MARK
from unshutter.io.claim import CLAIM_DIR
from unshutter.io.image_file import read_image
from unshutter.sample import render_clip, write_exr_sequence

from tests.conftest import textured_photo
from tests.limits import HANG


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> str:
    frames = render_clip(textured_photo(), 12, 256, 160, speed=4.0, samples=6)
    return write_exr_sequence(tmp_path_factory.mktemp("long"), "long", frames, 1001)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signal_stops_the_run_cleanly(long_clip: str, tmp_path: Path, sig: signal.Signals) -> None:
    out = tmp_path / "out"
    # a shell's background job (`cmd &`, as CI runners and nohup start things) gets SIGINT ignored, and a
    # process keeps an ignored SIGINT ignored: start the run with the default disposition, as a terminal does
    p = subprocess.Popen(
        [sys.executable, "-m", "unshutter", "run", long_clip, "-o", str(out), "--factor", "8", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert p.stdout is not None
    for line in p.stdout:
        if json.loads(line)["event"] == "frame":  # one frame written, the next one under way
            break
    p.send_signal(sig)
    stdout, stderr = p.communicate(timeout=HANG)
    expected = 130 if sig == signal.SIGINT else 128 + sig
    assert p.returncode == expected, (p.returncode, stderr)
    err = stderr.strip()
    assert "\n" not in err and ("interrupted" in err or "terminated" in err), err
    assert not [f for f in out.iterdir() if TMP_MARK in f.name]
    assert not list((out / CLAIM_DIR).glob("*")) if (out / CLAIM_DIR).exists() else True
    written = sorted(out.glob("long.*.exr"))
    assert 8 <= len(written) < 96
    for f in written:
        assert read_image(f)[0].shape == (160, 256, 3)
