"""Long output names: a legal name is written (its temporary stays within the 255-byte limit), one past it is refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from unshutter.io.atomic import TMP_MARK, remove_stale_temps, temp_name

EXE = [sys.executable, "-m", "unshutter"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EXE, "run", *args, "--quiet"], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("stem", ["a" * 240, "é" * 118])  # 249 and 245 bytes with ".1001.exr"
def test_longest_legal_name_is_written(hdr_clip: str, tmp_path: Path, stem: str) -> None:
    out = tmp_path / "o"
    p = _run(hdr_clip, "-o", str(out / f"{stem}.####.exr"), "--factor", "2")
    assert p.returncode == 0, p.stderr
    names = sorted(f.name for f in out.iterdir() if f.is_file())
    assert f"{stem}.1003.exr" in names and f"{stem}.1004.exr" in names
    assert not [n for n in names if TMP_MARK in n]


def test_name_past_the_limit_is_refused_before_writing(hdr_clip: str, tmp_path: Path) -> None:
    out = tmp_path / "o"
    p = _run(hdr_clip, "-o", str(out / f"{'a' * 300}.####.exr"), "--factor", "2")
    assert p.returncode == 2, p.stderr
    err = p.stderr.strip()
    assert "\n" not in err and "255" in err and err.startswith("unshutter: error: -o "), err
    assert not out.exists()


def test_temporary_names_stay_within_the_limit_and_are_swept(tmp_path: Path) -> None:
    for stem in ("a" * 246, "é" * 123, "short"):
        target = tmp_path / f"{stem}.exr"
        tmp = temp_name(target)
        assert len(os.fsencode(tmp.name)) <= 255 and tmp.name.startswith(".") and tmp.suffix == ".exr"
        assert temp_name(target) == tmp  # stable, so a later run finds it
        tmp.with_name(tmp.name.replace(str(os.getpid()), "999999999")).write_bytes(b"")  # a dead run's
    other = tmp_path / ".other.unshutter-tmp999999999.exr"
    other.write_bytes(b"")
    targets = [tmp_path / f"{s}.exr" for s in ("a" * 246, "é" * 123, "short")]
    assert remove_stale_temps(tmp_path, targets) == 3
    assert [p.name for p in tmp_path.iterdir()] == [other.name]
