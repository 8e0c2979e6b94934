"""Movie outputs of clips H.264 cannot hold as they are (1x1, odd sizes), movie inputs with no video."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from unshutter.sample import write_exr_sequence

EXE = [sys.executable, "-m", "unshutter"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EXE, "run", *args, "--quiet"], capture_output=True, text=True, timeout=300)


def _clip(folder: Path, w: int, h: int) -> str:
    frames = np.random.default_rng(0).random((3, h, w, 3)).astype(np.float32)
    return write_exr_sequence(folder, "tiny", frames, 1001)


def _movie_size(path: Path) -> tuple[int, int, int]:
    with av.open(str(path)) as c:
        frames = [f for f in c.decode(video=0)]
        return frames[0].width, frames[0].height, len(frames)


@pytest.mark.parametrize("w,h,want", [(1, 1, (2, 2)), (1, 6, (2, 6)), (7, 5, (6, 4))])
def test_movie_of_a_tiny_or_odd_clip(tmp_path: Path, w: int, h: int, want: tuple[int, int]) -> None:
    src = _clip(tmp_path / "in", w, h)
    out = tmp_path / "o" / "tiny.mp4"
    p = _run(src, "-o", str(out), "--factor", "2")
    assert p.returncode == 0, p.stderr
    assert _movie_size(out) == (*want, 6)
    assert f"{w}x{h}" in p.stderr and f"{want[0]}x{want[1]}" in p.stderr  # said, not silent


def test_preview_of_a_1x1_clip(tmp_path: Path) -> None:
    src = _clip(tmp_path / "in", 1, 1)
    p = _run(src, "-o", str(tmp_path / "o"), "--factor", "2", "--preview")
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "o" / "tiny.preview.mp4").is_file() and (tmp_path / "o" / "tiny.contact.png").is_file()


def test_audio_only_movie_is_named_as_such(tmp_path: Path) -> None:
    movie = tmp_path / "sound.mp4"
    with av.open(str(movie), mode="w") as c:
        s = c.add_stream("aac", rate=48000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 48000
        for _ in range(5):
            for pkt in s.encode(frame):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    p = _run(str(movie), "-o", str(tmp_path / "o"))
    assert p.returncode == 3, p.stderr
    assert "no video stream" in p.stderr and "tuple index" not in p.stderr and p.stderr.strip().count("\n") == 0


def test_guidance_debug_naming_a_file_is_refused(hdr_clip: str, tmp_path: Path) -> None:
    dbg = tmp_path / "maps"
    dbg.write_text("not a folder\n")
    p = _run(hdr_clip, "-o", str(tmp_path / "o"), "--factor", "2", "--guidance-debug", str(dbg))
    assert p.returncode == 2, p.stderr
    assert "--guidance-debug" in p.stderr and "not a folder" in p.stderr and p.stderr.strip().count("\n") == 0
    assert not (tmp_path / "o").exists() and dbg.read_text() == "not a folder\n"
