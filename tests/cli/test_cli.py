"""The console script as hosts and artists call it: JSON progress, one-line errors, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXE = [sys.executable, "-m", "unshutter"]


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EXE, *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def test_run_json_progress(hdr_clip: str, tmp_path: Path) -> None:
    p = _run("run", hdr_clip, "-o", str(tmp_path / "o"), "--factor", "2", "--json", "--frames", "1002-1004")
    assert p.returncode == 0, p.stderr
    events = [json.loads(line) for line in p.stdout.splitlines()]
    assert events[0]["event"] == "start" and events[0]["total"] == 3
    frames = [e for e in events if e["event"] == "frame"]
    assert [e["frame"] for e in frames] == [1002, 1003, 1004]
    assert frames[0]["outputs"] == [1003, 1004]
    assert events[-1]["event"] == "done" and events[-1]["written"] == 6
    assert Path(events[-1]["manifest"]).name == "shot.unshutter.1002-1004.json"


def test_errors_are_one_line_with_exit_codes(hdr_clip: str, tmp_path: Path) -> None:
    p = _run("run", str(tmp_path / "none.####.exr"), "-o", str(tmp_path / "o"))
    assert p.returncode == 3 and p.stderr.strip().count("\n") == 0 and "none.####.exr" in p.stderr
    p = _run("run", hdr_clip, "-o", str(tmp_path / "o"), "--factor", "40")
    assert p.returncode == 2 and "--factor 40" in p.stderr
    bad = tmp_path / "ov.yaml"
    bad.write_text("direction: sideways\n")
    p = _run("run", hdr_clip, "-o", str(tmp_path / "o"), "--overrides", str(bad), "--json")
    assert p.returncode == 4 and "ov.yaml" in p.stderr
    assert json.loads(p.stdout.splitlines()[-1])["event"] == "error"
    p = _run("run", hdr_clip, "-o", str(tmp_path / "o"), "--model", str(tmp_path / "x.onnx"))
    assert p.returncode == 5 and "x.onnx" in p.stderr


@pytest.mark.parametrize("out", ["plates/", "plates/shot.####.exr", "./plates"])
def test_run_refuses_to_write_over_its_plates(fresh_hdr_clip: str, tmp_path: Path, out: str) -> None:
    plates = tmp_path / "plates"
    Path(fresh_hdr_clip).parent.rename(plates)
    before = {p.name: p.read_bytes() for p in plates.iterdir()}
    p = _run("run", "plates/shot.####.exr", "-o", out, "--factor", "2", "--json", cwd=tmp_path)
    assert p.returncode == 2, p.stderr
    err = p.stderr.strip()
    assert "\n" not in err and err.startswith(f"unshutter: error: -o {out}: ") and "plates/shot.####.exr" in err
    assert json.loads(p.stdout.splitlines()[-1])["event"] == "error"
    assert {p.name: p.read_bytes() for p in plates.iterdir()} == before


def test_run_on_frames_another_run_writes_exits_6(hdr_clip: str, tmp_path: Path, claim_holder) -> None:
    out = tmp_path / "o"
    out.mkdir()
    other = claim_holder(out, "shot.#.exr", None)
    p = _run("run", hdr_clip, "-o", str(out), "--factor", "2", "--frames", "1002-1003")
    assert p.returncode == 6 and p.stderr.strip().count("\n") == 0, p.stderr
    assert "frames 1003-1006 of" in p.stderr and f"another Unshutter run is writing them (pid {other.pid}" in p.stderr
    assert not list(out.glob("*.exr"))


def test_info_json(hdr_clip: str) -> None:
    p = _run("info", hdr_clip, "--json")
    d = json.loads(p.stdout)
    assert (d["first"], d["last"], d["count"], d["width"], d["pixel_type"]) == (1001, 1006, 6, 96, "half")


def test_preview_written(hdr_clip: str, tmp_path: Path) -> None:
    p = _run("run", hdr_clip, "-o", str(tmp_path / "o"), "--factor", "3", "--preview", "--quiet")
    assert p.returncode == 0, p.stderr
    import OpenImageIO as oiio

    sheet = oiio.ImageBuf(str(tmp_path / "o" / "shot.contact.png"))
    assert sheet.spec().width > 3 * 90 and sheet.spec().height > 3 * 60  # 3 rows of 3 sub-frames
    import av

    with av.open(str(tmp_path / "o" / "shot.preview.mp4")) as c:
        n = sum(1 for _ in c.decode(video=0))
    assert n == 18
    assert "preview:" in p.stdout


@pytest.mark.slow
def test_demo(tmp_path: Path) -> None:
    p = _run("demo", "-o", str(tmp_path / "demo"), "--quiet")
    assert p.returncode == 0, p.stderr
    assert "slow-motion result:" in p.stdout and "preview:" in p.stdout
    assert len(list((tmp_path / "demo").glob("sunset_pan.*.exr"))) == 84
