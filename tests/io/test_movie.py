"""Movie input and output through PyAV: H.264 and ProRes."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from unshutter import kernels
from unshutter.io.clip import open_clip
from unshutter.io.movie import MovieWriter
from unshutter.node import NodeParams
from unshutter.pipeline import RunConfig, run
from unshutter.sample import render_clip

from tests.conftest import textured_photo


def _movie(path: Path, n: int = 5) -> np.ndarray:
    frames = kernels.srgb_encode(np.clip(render_clip(textured_photo(), n, 64, 48, speed=4.0, samples=8), 0, 1))
    w = MovieWriter(path, 64, 48, Fraction(25))
    for f in frames:
        w.write(f)
    w.close()
    return frames


def test_movie_in_sequence_out(tmp_path: Path) -> None:
    src = tmp_path / "clip.mov"
    _movie(src)
    clip = open_clip(str(src))
    assert clip.kind == "movie" and clip.frames == [0, 1, 2, 3, 4] and clip.rate == 25
    run(RunConfig(str(src), str(tmp_path / "out" / "clip.####.png"), NodeParams(factor=2)))
    assert len(list((tmp_path / "out").glob("clip.*.png"))) == 10


@pytest.mark.parametrize("ext,codec", [(".mp4", "h264"), (".mov", "prores")])
def test_movie_out(tmp_path: Path, ext: str, codec: str) -> None:
    src = tmp_path / "in.mov"
    _movie(src)
    out = tmp_path / f"slow{ext}"
    run(RunConfig(str(src), str(out), NodeParams(factor=3)))
    with av.open(str(out)) as c:
        s = c.streams.video[0]
        n = sum(1 for _ in c.decode(video=0))
        assert codec in s.codec_context.name or (codec == "h264" and s.codec_context.name == "h264")
        assert s.average_rate == 75
    assert n == 15
    assert not [p for p in tmp_path.iterdir() if "unshutter-tmp" in p.name]


@pytest.mark.parametrize("out", ["clip.mov", "./clip.mov", ".", "ABS", "link/clip.mov"])
def test_movie_never_written_over_its_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, out: str) -> None:
    from unshutter.errors import ParameterError

    src = tmp_path / "clip.mov"
    _movie(src, 3)
    (tmp_path / "link").symlink_to(tmp_path)
    monkeypatch.chdir(tmp_path)
    out = str(src) if out == "ABS" else out
    before = src.read_bytes()
    with pytest.raises(ParameterError, match=r"^-o .*: writes .*clip\.mov, over the input movie .*clip\.mov$"):
        run(RunConfig("clip.mov", out, NodeParams(factor=2)))
    assert src.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["clip.mov", "link"]


def test_preview_never_written_over_its_input(tmp_path: Path) -> None:
    """The preview movie of -o d/shot.mp4 is d/shot.preview.mp4: not when that is the input."""
    from unshutter.errors import ParameterError

    src = tmp_path / "shot.preview.mp4"
    _movie(src, 3)
    before = src.read_bytes()
    with pytest.raises(ParameterError, match=r"^--preview: writes .*shot\.preview\.mp4, over the input movie"):
        run(RunConfig(str(src), str(tmp_path / "shot.mp4"), NodeParams(factor=2), preview=True))
    assert src.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["shot.preview.mp4"]
