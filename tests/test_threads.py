"""``--threads N`` / ``UNSHUTTER_THREADS``: the thread counts the libraries report in the engine's own process.

Each run is a real ``unshutter`` process; its JSON start event reads the counts back from ONNX Runtime's
session options, ``cv2.getNumThreads()`` and the native kernels' OpenMP bound (not timings).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hosts.media import png_sequence
from tests.limits import HANG
from unshutter import threads


def _start_event(tmp_path: Path, *flags: str, env: dict[str, str] | None = None) -> dict:
    clip = tmp_path / "clip"
    if not clip.exists():
        png_sequence(clip, "s", 1, 2)
    out = tmp_path / f"out{len(list(tmp_path.glob('out*')))}"
    run_env = {k: v for k, v in os.environ.items() if k not in (threads.ENV, "OMP_NUM_THREADS")}
    run_env.update(env or {})
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "unshutter",
            "run",
            str(clip / "s.####.png"),
            "-o",
            str(out / "s.####.png"),
            "--factor",
            "2",
            "--json",
            *flags,
        ],
        capture_output=True,
        text=True,
        env=run_env,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.splitlines()[0])


@pytest.mark.skipif(threads.cores() < 2, reason="one core: the default and a bound of 1 cannot be told apart")
def test_threads_bound_every_library_in_the_engine_process(tmp_path: Path) -> None:
    default = _start_event(tmp_path)["threads"]
    assert default["onnxruntime"] == threads.cores() and default["openmp"] == threads.cores()
    assert default["opencv"] > 1
    one = {"onnxruntime": 1, "opencv": 1, "openmp": 1}
    assert _start_event(tmp_path, "--threads", "1")["threads"] == one
    assert _start_event(tmp_path, env={threads.ENV: "1"})["threads"] == one  # the OFX worker's setting
    assert _start_event(tmp_path, "--threads", "2", env={threads.ENV: "1"})["threads"]["onnxruntime"] == 2
    assert _start_event(tmp_path, "--threads", "0", env={threads.ENV: "1"})["threads"] == default  # 0: all cores


def test_bad_thread_counts_are_one_line_errors(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != threads.ENV}
    cmd = [sys.executable, "-m", "unshutter", "run", str(tmp_path / "s.####.png"), "-o", str(tmp_path / "o")]
    p = subprocess.run([*cmd, "--threads", "-2"], capture_output=True, text=True, env=env, timeout=HANG)
    assert (
        p.returncode == 2
        and p.stderr.strip() == "unshutter: error: --threads -2: a whole number of threads, 1 or more (0: all cores)"
    )
    p = subprocess.run(cmd, capture_output=True, text=True, env={**env, threads.ENV: "four"}, timeout=HANG)
    assert p.returncode == 2 and f"{threads.ENV} 'four'" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_parse() -> None:
    assert threads.parse("3") == 3 and threads.parse(0) is None and threads.parse(" 2 ") == 2


@pytest.mark.parametrize("given", [None, "5000"])
def test_opencv_pool_threads_sleep_unless_the_user_says_otherwise(given: str | None) -> None:
    """The package sets OpenCV's active-wait lengths to 0 before cv2 is loaded; a user's own value stays."""
    env = {k: v for k, v in os.environ.items() if k not in threads.OPENCV_WAIT}
    if given is not None:
        env[threads.OPENCV_WAIT[0]] = given
    code = "import os, unshutter, cv2; print(*(os.environ.get(n) for n in unshutter.threads.OPENCV_WAIT))"
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert r.stdout.split() == [given or "0", "0"]
