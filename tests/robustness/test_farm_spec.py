"""The farm refuses what ``run`` refuses, before any task exists: non-finite numbers, undecodable or special files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.limits import HANG
from unshutter.farm.spec import SpecError, load_spec

EXE = [sys.executable, "-m", "unshutter"]

SHOT = "shots:\n  - {{name: a, input: in/a.####.exr, output: out/a.####.exr, factor: 4, {extra}}}\n"


@pytest.mark.parametrize(
    "extra,field",
    [
        ("shutter: .nan", "shutter"),
        ("shutter: .inf", "shutter"),
        ("follow: .nan", "follow"),
        ("follow: -.inf", "follow"),
    ],
)
def test_spec_with_non_finite_numbers_is_refused(tmp_path: Path, extra: str, field: str) -> None:
    spec = tmp_path / "reel.yaml"
    spec.write_text(SHOT.format(extra=extra))
    with pytest.raises(SpecError) as exc:
        load_spec(spec)
    msg = str(exc.value)
    assert "\n" not in msg and "reel.yaml" in msg and "shot 'a'" in msg and f".{field}" in msg, msg
    for cmd in (["farm", "check", str(spec)], ["farm", "openjd", str(spec), "-o", str(tmp_path / "bundle")]):
        p = subprocess.run([*EXE, *cmd], capture_output=True, text=True, timeout=HANG)
        assert p.returncode == 2 and p.stderr.strip().count("\n") == 0 and f".{field}" in p.stderr, p.stderr
    assert not (tmp_path / "bundle").exists()


def test_spec_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    spec = tmp_path / "reel.yaml"
    spec.write_bytes(SHOT.format(extra="shutter: 180").encode() + b"# caf\xe9 \xff\xfe\n")
    with pytest.raises(SpecError, match=r"reel\.yaml: not UTF-8 text"):
        load_spec(spec)
    p = subprocess.run([*EXE, "farm", "check", str(spec)], capture_output=True, text=True, timeout=HANG)
    assert p.returncode == 2 and "not UTF-8" in p.stderr and p.stderr.strip().count("\n") == 0, p.stderr


def test_spec_that_is_a_fifo_is_refused_not_read(tmp_path: Path) -> None:
    spec = tmp_path / "reel.yaml"
    os.mkfifo(spec)
    p = subprocess.run([*EXE, "farm", "check", str(spec)], capture_output=True, text=True, timeout=HANG)
    assert p.returncode == 2 and "not a regular file" in p.stderr, p.stderr


def test_farm_dask_without_distributed_names_the_extra(tmp_path: Path) -> None:
    spec = tmp_path / "reel.yaml"
    spec.write_text(SHOT.format(extra="shutter: 180"))
    (tmp_path / "in").mkdir()
    # the interpreter as it is where the 'farm' extra was not installed: importing distributed fails
    code = (
        "import sys\nsys.modules['distributed'] = None\nfrom unshutter.cli.main import main\n"
        f"sys.exit(main(['farm', 'dask', {str(spec)!r}]))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=HANG)
    assert p.returncode == 1, p.stderr
    err = p.stderr.strip()
    assert "\n" not in err and "distributed" in err and "unshutter[farm]" in err, err
