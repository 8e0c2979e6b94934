"""``unshutter bench speed``: the CLI's own loop on generated files, every stage timed, A/B ratios."""

from __future__ import annotations

import json
import subprocess
import sys

from unshutter.bench.speed import STAGES, _Stages


def test_speed_bench_times_the_run_loop_by_stage_against_a_baseline() -> None:
    from unshutter.decomposer.locate import default_model_path

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "unshutter",
            "bench",
            "speed",
            "--size",
            "96x64",
            "--frames",
            "2",
            "--factor",
            "3",
            "--baseline-model",
            str(default_model_path()),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    rows = [json.loads(line) for line in proc.stdout.strip().splitlines()]
    assert [r["run"] for r in rows] == ["model", "baseline", "ratio"]
    for row in rows[:2]:
        stages = [row[f"{k}_s"] for k in STAGES]
        assert all(s >= 0 for s in stages) and row["decompose_s"] > 0 and row["write_s"] > 0 and row["read_s"] > 0
        # stages ran inside the timed span; what ran at the same time is the overlap
        assert sum(stages) - row["overlap_s"] <= row["seconds_per_frame"] + 0.01
        assert row["peak_mb"] > 0 and row["format"] == "png" and row["frames"] == 2
        # the loop's own thread is part of the process (a little slack: two clocks read one after the other)
        assert 0 < row["main_cpu_per_frame"] <= row["cpu_per_frame"] + 0.01
    assert rows[2]["seconds_per_frame"] > 0 and 0.3 < rows[2]["peak_mb"] < 3


def test_overlap_is_the_time_stages_shared() -> None:
    s = _Stages()
    s.start(10.0)
    s.add("read", 9.0, 9.5)  # before the steady state: not counted
    s.add("decompose", 9.5, 13.0)  # across its start: counted from it
    s.add("write", 12.0, 14.0)  # one second beside the decomposition
    assert s.seconds["read"] == 0 and s.seconds["decompose"] == 3.0 and s.seconds["write"] == 2.0
    assert s.busy() == 4.0  # 10..14: the sum 5.0 less 1.0 of overlap
    s.stop(13.5)  # the last decomposition's end: a write running across it counts up to it
    assert s.seconds["write"] == 1.5 and s.busy() == 3.5


def test_bad_sizes_and_frames_are_refused() -> None:
    for args in (["--size", "96by64"], ["--size", "0x64"], ["--frames", "1"]):
        proc = subprocess.run(
            [sys.executable, "-m", "unshutter", "bench", "speed", *args], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode != 0 and "bench speed" in proc.stderr
