"""Anything named like a frame that is not a regular file (a FIFO, a device, a folder) is refused, never read.

Reading a FIFO blocks until someone writes into it, and /dev/zero never
ends: either would hang the run for ever (and, killed on a timeout, leave
its claim behind).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.limits import HANG
from unshutter.io.atomic import TMP_MARK
from unshutter.io.claim import CLAIM_DIR

EXE = [sys.executable, "-m", "unshutter"]


def _special(path: Path, kind: str) -> None:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "zero":
        path.symlink_to("/dev/zero")
    else:
        path.mkdir()


@pytest.mark.parametrize("kind", ["fifo", "zero", "folder"])
@pytest.mark.parametrize("which", ["1001", "1003"])
def test_special_file_as_a_frame_is_refused(fresh_hdr_clip: str, tmp_path: Path, kind: str, which: str) -> None:
    frame = Path(fresh_hdr_clip.replace("####", which))
    frame.unlink()
    _special(frame, kind)
    out = tmp_path / "out"
    p = subprocess.run(
        [*EXE, "run", fresh_hdr_clip, "-o", str(out), "--factor", "2", "--quiet"],
        capture_output=True,
        text=True,
        timeout=HANG,
    )
    assert p.returncode == 3, p.stderr
    err = p.stderr.strip()
    assert "\n" not in err and str(frame) in err and "not a regular file" in err, err
    if out.exists():
        assert not [f for f in out.iterdir() if TMP_MARK in f.name]
        assert not list((out / CLAIM_DIR).glob("*")) if (out / CLAIM_DIR).exists() else True


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_special_file_as_a_movie_is_refused(tmp_path: Path, kind: str) -> None:
    movie = tmp_path / "clip.mp4"
    _special(movie, kind)
    p = subprocess.run(
        [*EXE, "run", str(movie), "-o", str(tmp_path / "out"), "--quiet"], capture_output=True, text=True, timeout=HANG
    )
    assert p.returncode == 3, p.stderr
    assert "not a regular file" in p.stderr and str(movie) in p.stderr and p.stderr.strip().count("\n") == 0


def test_info_refuses_a_fifo(fresh_hdr_clip: str) -> None:
    frame = Path(fresh_hdr_clip.replace("####", "1001"))
    frame.unlink()
    os.mkfifo(frame)
    p = subprocess.run([*EXE, "info", fresh_hdr_clip], capture_output=True, text=True, timeout=HANG)
    assert p.returncode == 3 and "not a regular file" in p.stderr, p.stderr
