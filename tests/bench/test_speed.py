"""``unshutter bench speed``: every stage timed on a generated EXR clip, throughput consistent."""
from __future__ import annotations

import json
import subprocess
import sys


def test_speed_bench_reports_every_stage_and_throughput() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "unshutter", "bench", "speed", "--size", "96x64", "--repeat", "2", "--factor", "3",
         "--json"],
        capture_output=True, text=True, timeout=300, check=True,
    )
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    stages = [row[f"{k}_s"] for k in ("read", "flow", "decompose", "resample", "write")]
    assert all(s >= 0 for s in stages) and row["decompose_s"] > 0 and row["write_s"] > 0
    assert abs(sum(stages) - row["seconds_per_frame"]) < 0.01
    mpix = 96 * 64 / 1e6
    assert abs(row["source_mpix_per_s"] - mpix / row["seconds_per_frame"]) < 0.002
    assert abs(row["output_mpix_per_s"] - 3 * row["source_mpix_per_s"]) < 0.005
    assert row["frames"] == 2 and row["frame_peak_mb"] > 0
