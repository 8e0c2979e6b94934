"""Small refusals: an empty -o, a reversed frame range in a sequence spec, leftovers of an earlier run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.limits import HANG
from unshutter.errors import ParameterError
from unshutter.io.sequence import parse_pattern

EXE = [sys.executable, "-m", "unshutter"]


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EXE, "run", *args, "--quiet"], capture_output=True, text=True, timeout=300, cwd=cwd)


def test_empty_output_is_refused(hdr_clip: str, tmp_path: Path) -> None:
    p = _run(hdr_clip, "-o", "", "--factor", "2", cwd=tmp_path)
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0 and "-o" in p.stderr, p.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("spec", ["shot.1003-1001#.exr", "shot.1001-1002,1010-1005#.exr"])
def test_reversed_range_in_a_spec_is_refused(spec: str) -> None:
    with pytest.raises(ParameterError, match="ends before it starts"):
        parse_pattern(spec)


def test_forward_ranges_still_parse() -> None:
    assert parse_pattern("shot.1001-1003#.exr")[1] == [1001, 1002, 1003]
    assert parse_pattern("shot.-3--1#.exr")[1] == [-3, -2, -1]


def test_rerun_at_a_lower_factor_warns_about_the_old_frames(hdr_clip: str, tmp_path: Path) -> None:
    out = tmp_path / "o"
    assert _run(hdr_clip, "-o", str(out), "--factor", "4", "--guidance", "none").returncode == 0
    p = _run(hdr_clip, "-o", str(out), "--factor", "2", "--guidance", "none")
    assert p.returncode == 0, p.stderr
    assert "12 frames" in p.stderr and "shot.1013.exr" in p.stderr, p.stderr
    p = _run(hdr_clip, "-o", str(out), "--factor", "2", "--guidance", "none")  # a plain re-run says it again
    assert "12 frames" in p.stderr


def _timeline(path: Path) -> bytes:
    import opentimelineio as otio

    tl = otio.schema.Timeline(name="edit")
    tl.tracks.append(otio.schema.Track(name="V1"))
    otio.adapters.write_to_file(tl, str(path))
    return path.read_bytes()


def test_timeline_refuses_to_write_over_its_input(tmp_path: Path) -> None:
    edit = tmp_path / "edit.otio"
    before = _timeline(edit)
    p = subprocess.run(
        [*EXE, "timeline", str(edit), "-o", str(tmp_path / "." / "edit.otio"), "--media-dir", str(tmp_path / "media")],
        capture_output=True,
        text=True,
        timeout=HANG,
    )
    assert p.returncode == 2 and "input" in p.stderr and p.stderr.strip().count("\n") == 0, p.stderr
    assert edit.read_bytes() == before


def test_timeline_with_an_unwritable_extension_is_refused_first(tmp_path: Path) -> None:
    edit = tmp_path / "edit.otio"
    _timeline(edit)
    p = subprocess.run(
        [*EXE, "timeline", str(edit), "-o", str(tmp_path / "out.nope"), "--media-dir", str(tmp_path / "media")],
        capture_output=True,
        text=True,
        timeout=HANG,
    )
    assert p.returncode == 2 and ".nope" in p.stderr and p.stderr.strip().count("\n") == 0, p.stderr
    assert not (tmp_path / "media").exists()


@pytest.mark.parametrize("names,fmt", [(["R", "G", "B", "A"], "jpg"), (["Y", "A"], "dpx"), (["Y", "A"], "jpg")])
def test_format_that_cannot_hold_the_channels_is_refused_first(tmp_path: Path, names: list[str], fmt: str) -> None:
    import numpy as np

    from unshutter.io.image_file import ImageMeta, write_image

    folder = tmp_path / "in"
    for i in range(2):
        write_image(
            folder / f"c.{1001 + i}.exr",
            np.full((8, 8, len(names)), 0.5, np.float32),
            ImageMeta(8, 8, names, "half", 16, {}, ""),
        )
    p = _run(str(folder / "c.####.exr"), "-o", str(tmp_path / "o"), "--format", fmt, "--factor", "2")
    assert p.returncode == 2 and f"--format {fmt}" in p.stderr and "channels" in p.stderr, p.stderr
    assert not (tmp_path / "o").exists()
