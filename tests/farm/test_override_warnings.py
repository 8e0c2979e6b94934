"""Override ranges that miss a shot's clip: one warning line at planning and in every task's log, never a failure."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.farm.helpers import OPENJD, UNSHUTTER, images, write_spec

BOX = "[[0, 0], [40, 0], [40, 30], [0, 30]]"


def _override(path: Path, frames: str) -> Path:
    """A vector region on ``frames``: the clips' source frames are 1001-1006 (4003-4010 is output numbering)."""
    path.write_text(f"regions:\n  - {{name: car, motion: [8, 0], frames: {frames}, polygon: {BOX}}}\n")
    return path


def _spec(tmp_path: Path, clips: dict[str, str], model: str, pan: str, tilt: str, chunk: int = 2) -> Path:
    spec = write_spec(tmp_path / "reel.yaml", clips, tmp_path / "out", model, chunks={"pan": chunk, "tilt-b": chunk})
    doc = yaml.safe_load(spec.read_text())
    doc["shots"][0]["overrides"] = str(_override(tmp_path / "pan.yaml", pan))
    doc["shots"][1]["overrides"] = str(_override(tmp_path / "tilt.yaml", tilt))
    spec.write_text(yaml.safe_dump(doc, sort_keys=False))
    return spec


def _warnings(text: str) -> list[str]:
    return [line for line in text.splitlines() if "warning" in line]


def test_check_and_openjd_warn_once_per_shot(tmp_path: Path, farm_clips: dict[str, str], farm_model: str) -> None:
    spec = _spec(tmp_path, farm_clips, farm_model, pan="4003-4010", tilt="1003-1010")  # tilt-b overlaps: silent
    for cmd in (["check", str(spec)], ["openjd", str(spec), "-o", str(tmp_path / "bundle")]):
        p = subprocess.run([UNSHUTTER, "farm", *cmd], capture_output=True, text=True, timeout=120)
        lines = _warnings(p.stderr)
        assert p.returncode == 0 and len(lines) == 1, p.stderr
        assert lines[0].startswith("unshutter: warning: shot 'pan'.overrides: ")
        assert str(tmp_path / "pan.yaml") in lines[0] and "region car 4003-4010" in lines[0] and "1001-1006" in lines[0]


def test_chunk_task_warns_about_the_clip_not_its_chunk(
    tmp_path: Path, farm_clips: dict[str, str], farm_model: str
) -> None:
    """The task log says so (text or JSON event); a range inside the clip but outside the chunk is fine."""

    def chunk(ov: Path, out: str, *extra: str) -> subprocess.CompletedProcess[str]:
        cmd = [UNSHUTTER, "farm", "chunk", farm_clips["pan"], "-o", str(tmp_path / out / "pan.####.exr")]
        cmd += ["--factor", "3", "--frames", "1001-1002", "--model", farm_model, "--overrides", str(ov), *extra]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300)

    missing = _override(tmp_path / "missing.yaml", "4003-4010")
    p = chunk(missing, "o1", "--session", str(tmp_path / "none.json"))  # no server: renders in this process
    lines = _warnings(p.stderr)
    assert p.returncode == 0 and len(lines) == 1, p.stderr
    assert str(missing) in lines[0] and "region car 4003-4010" in lines[0] and "source frames 1001-1006" in lines[0]
    assert len(images(tmp_path / "o1")) == 6
    p = chunk(missing, "o2", "--json")
    events = [json.loads(x) for x in p.stdout.splitlines()]
    warned = [e for e in events if e["event"] == "warning"]
    assert p.returncode == 0 and len(warned) == 1 and "region car 4003-4010" in warned[0]["message"]
    p = chunk(_override(tmp_path / "later.yaml", "1005-1006"), "o3")  # in the clip, past this chunk
    assert p.returncode == 0 and not _warnings(p.stderr), p.stderr


@pytest.mark.slow
def test_openjd_session_tasks_log_the_warning(tmp_path: Path, farm_clips: dict[str, str], farm_model: str) -> None:
    """``openjd run`` of the bundle: every task rendered by the session server logs the line, and the job succeeds."""
    spec = _spec(tmp_path, farm_clips, farm_model, pan="4003-4010", tilt="1001-1006", chunk=3)
    bundle = tmp_path / "bundle"
    p = subprocess.run(
        [UNSHUTTER, "farm", "openjd", str(spec), "-o", str(bundle), "--command", UNSHUTTER],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    cmd = [OPENJD, "run", str(bundle / "template.yaml"), "-p", f"file://{bundle / 'openjd_parameters.yaml'}"]
    log = subprocess.run(cmd, capture_output=True, text=True, timeout=600).stdout
    assert "Session ended successfully" in log and "rendering in this process" not in log, log[-3000:]
    lines = [x for x in log.splitlines() if "unshutter: warning:" in x]
    assert len(lines) == 2, lines  # the two chunks of 'pan'; 'tilt-b' covers its clip
    assert all(str(tmp_path / "pan.yaml") in x and "region car 4003-4010" in x for x in lines)


def test_dask_plan_logs_the_warning_once(
    tmp_path: Path, farm_clips: dict[str, str], farm_model: str, caplog: pytest.LogCaptureFixture
) -> None:
    """``farm dask`` plans with :func:`plan`: the line is logged once per shot, however often the shot is planned."""
    from unshutter.farm.plan import plan
    from unshutter.farm.spec import load_spec

    spec = load_spec(_spec(tmp_path, farm_clips, farm_model, pan="1003-1010", tilt="990-1000"))
    with caplog.at_level("WARNING", logger="unshutter.farm"):
        chunks = plan(spec)
        plan(spec)
    assert len(chunks) == 6  # a warning, not a refusal: every chunk is still planned
    lines = [r.getMessage() for r in caplog.records if r.name == "unshutter.farm"]
    assert len(lines) == 1 and lines[0].startswith("warning: shot 'tilt-b'.overrides: "), lines
    assert "region car 990-1000" in lines[0] and "1001-1006" in lines[0]


def test_each_loaded_spec_logs_the_warning_again(
    tmp_path: Path, farm_clips: dict[str, str], farm_model: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The once-per-shot memory belongs to the loaded spec (one run), not to the process: a long-lived process
    (a Python pipeline, a farm service) planning the same spec file again says it again."""
    from unshutter.farm.plan import plan
    from unshutter.farm.spec import load_spec

    path = _spec(tmp_path, farm_clips, farm_model, pan="1001-1006", tilt="990-1000")
    with caplog.at_level("WARNING", logger="unshutter.farm"):
        for _ in range(2):
            spec = load_spec(path)
            plan(spec)
            plan(spec)
    lines = [r.getMessage() for r in caplog.records if r.name == "unshutter.farm"]
    assert len(lines) == 2 and lines[0] == lines[1] and "shot 'tilt-b'.overrides: " in lines[0], lines
