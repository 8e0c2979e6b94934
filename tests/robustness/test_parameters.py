"""Impossible numbers are refused everywhere, before anything is written: exit 2, one line naming the option.

NaN passes every ``x < 0`` test, so each numeric parameter is checked for
being finite on its own (CLI, NodeParams for every host, the OFX worker's
requests).
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from unshutter.cli.worker import Worker
from unshutter.errors import ParameterError
from unshutter.node import NodeParams

EXE = [sys.executable, "-m", "unshutter"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    """``unshutter run`` in this process: what the console script does, without a start-up per case."""
    import contextlib
    import io

    from unshutter.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["run", *args, "--quiet"])
    return subprocess.CompletedProcess(["unshutter", "run", *args], code, out.getvalue(), err.getvalue())


@pytest.mark.parametrize(
    "option,value,out",
    [
        ("--threshold", "nan", "out"),
        ("--threshold", "inf", "out"),
        ("--threshold", "-inf", "out"),
        ("--threshold", "-1", "out"),
        ("--shutter", "nan", "out"),
        ("--shutter", "inf", "out"),
        ("--follow", "nan", "out"),
        ("--tile", "100", "out"),
        ("--tile", "-5", "out"),
        ("--tile", "100", "out.mp4"),
        ("--fps", "nan", "out.mp4"),
        ("--fps", "inf", "out.mp4"),
        ("--fps", "-5", "out.mp4"),
        ("--fps", "0", "out.mp4"),
        ("--fps", "0", "out"),
    ],
)
def test_run_refuses_impossible_numbers_before_writing(
    hdr_clip: str, tmp_path: Path, option: str, value: str, out: str
) -> None:
    target = tmp_path / "o" / out
    p = _run(hdr_clip, "-o", str(target), f"{option}={value}")
    assert p.returncode == 2, p.stderr
    err = p.stderr.strip()
    assert "\n" not in err and err.startswith(f"unshutter: error: {option} "), err
    assert not (tmp_path / "o").exists(), "the output folder was created before the refusal"


@pytest.mark.parametrize(
    "field,value",
    [
        ("threshold", math.nan),
        ("threshold", math.inf),
        ("shutter", math.nan),
        ("follow", math.nan),
        ("tile", 100),
        ("tile", -1),
        ("factor", 2.0),
        ("factor", True),
    ],
)
def test_node_params_refuse(field: str, value: object) -> None:
    with pytest.raises(ParameterError, match=field):
        NodeParams(**{field: value}).validate()


@pytest.mark.parametrize(
    "field,value",
    [
        ("threshold", math.nan),
        ("factor", math.nan),
        ("factor", "x"),
        ("shutter", math.inf),
        ("tile", math.nan),
        ("factor", 2.5),
    ],
)
def test_worker_refuses_impossible_numbers_with_one_line(field: str, value: object) -> None:
    params = {
        "factor": 2,
        "shutter": 360.0,
        "guidance": "none",
        "reverse": False,
        "overrides": None,
        "tile": 512,
        "quality": "full",
        "threshold": 0.5,
    }
    params[field] = value
    reply = Worker(None, "cpu", 0).handle(
        {
            "op": "render",
            "shm": "/nonexistent",
            "width": 4,
            "height": 4,
            "frame": 1,
            "k": 0,
            "cur": 64,
            "output": 256,
            "params": params,
        }
    )
    assert reply["ok"] is False and reply["kind"] == "error", reply
    assert field in reply["error"] and "internal error" not in reply["error"] and "\n" not in reply["error"], reply
