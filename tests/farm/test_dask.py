"""The Dask runner on a real LocalCluster: same output as ``unshutter run``, retries, failures, summary."""
from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.farm.helpers import UNSHUTTER, assert_same_images, images, write_spec
from unshutter.errors import OutputError
from unshutter.farm import task
from unshutter.farm.dask_runner import run_dask
from unshutter.farm.spec import load_spec


def test_local_cluster_threads_two_shots_equal_unshutter_run(spec_path: Path, tmp_path: Path,
                                                             reference: dict[str, Path]) -> None:
    out = io.StringIO()
    summary = run_dask(load_spec(spec_path), workers=1, threads_per_worker=2, processes=False, progress=False,
                       out=out)
    assert summary.exit_code == 0
    for shot in ("pan", "tilt-b"):
        assert_same_images(tmp_path / "out" / shot, reference[shot])
        s = summary.shots[shot]
        assert (s.frames, s.chunks, s.done, s.failures, s.retries) == (6, 3, 3, 0, 0)
    assert summary.shots["pan"].written == 18 and summary.shots["tilt-b"].written == 12
    table = out.getvalue()
    assert table.splitlines()[0].split() == ["shot", "frames", "chunks", "done", "written", "skipped", "failures",
                                             "retries", "task", "s"]
    assert "total" in table and "wall time" in table

    # a second run finds everything complete
    again = run_dask(load_spec(spec_path), processes=False, progress=False, out=io.StringIO())
    assert again.exit_code == 0 and again.shots["pan"].skipped == 18 and again.shots["pan"].written == 0


def test_transient_failure_is_retried_and_resumes(spec_path: Path, tmp_path: Path, reference: dict[str, Path],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    real = task.run_config
    failed: list[tuple[int, int]] = []

    def flaky(cfg, progress=None, **kw):  # type: ignore[no-untyped-def]
        if cfg.frames == (1003, 1004) and "pan" in cfg.output and not failed:
            failed.append(cfg.frames)
            real(cfg.__class__(**{**cfg.__dict__, "frames": (1003, 1003)}), progress, **kw)  # half the chunk done
            raise OutputError("/mnt/renders: disk full")
        return real(cfg, progress, **kw)

    monkeypatch.setattr(task, "run_config", flaky)
    out = io.StringIO()
    summary = run_dask(load_spec(spec_path), processes=False, progress=False, out=out, retries=2)
    assert failed and summary.exit_code == 0
    pan = summary.shots["pan"]
    assert (pan.done, pan.failures, pan.retries) == (3, 1, 1)
    assert pan.skipped == 3 and pan.written == 15  # the retry resumed after the frame the first attempt wrote
    for shot in ("pan", "tilt-b"):
        assert_same_images(tmp_path / "out" / shot, reference[shot])


def test_bad_input_fails_at_once_and_other_shots_finish(tmp_path: Path, farm_clips: dict[str, str],
                                                        farm_model: str, reference: dict[str, Path]) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(Path(farm_clips["pan"]).parent, broken)
    (broken / "plate.1005.exr").write_bytes(b"not an exr")
    clips = {**farm_clips, "pan": str(broken / "plate.####.exr")}
    spec = load_spec(write_spec(tmp_path / "reel.yaml", clips, tmp_path / "out", farm_model))
    out = io.StringIO()
    summary = run_dask(spec, processes=False, progress=False, out=out, retries=3)
    assert summary.exit_code == 3
    pan = summary.shots["pan"]
    # 1003-1004 needs 1005 as a neighbour, 1005-1006 renders it: both fail once, with no retry
    assert (pan.done, pan.failures, pan.retries) == (1, 2, 0)
    assert "FAILED pan: frames 1003-1004: exit 3" in out.getvalue() and "plate.1005.exr" in out.getvalue()
    assert_same_images(tmp_path / "out" / "tilt-b", reference["tilt-b"])
    # frames 1001-1003 (outputs 1001-1009) do not need frame 1005 and are done
    assert images(tmp_path / "out" / "pan") == [f"pan.{f}.exr" for f in range(1001, 1010)]


@pytest.mark.slow
def test_cli_dask_with_worker_processes(spec_path: Path, tmp_path: Path, reference: dict[str, Path]) -> None:
    p = subprocess.run([UNSHUTTER, "farm", "dask", str(spec_path), "--workers", "2", "-q"], capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    lines = p.stdout.splitlines()
    assert lines[0].split()[:3] == ["shot", "frames", "chunks"]
    row = next(line.split() for line in lines if line.startswith("pan "))
    assert row[:7] == ["pan", "6", "3", "3", "18", "0", "0"]
    assert "Nanny" not in p.stderr  # distributed's INFO chatter is silenced
    for shot in ("pan", "tilt-b"):
        assert_same_images(tmp_path / "out" / shot, reference[shot])


def test_cli_dask_on_a_running_scheduler(spec_path: Path, tmp_path: Path, reference: dict[str, Path]) -> None:
    """``--scheduler ADDRESS``: the client submits to a cluster it did not start."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp",
                      dashboard_address=None) as cluster:
        p = subprocess.run([UNSHUTTER, "farm", "dask", str(spec_path), "--scheduler", cluster.scheduler_address, "-q"],
                           capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "total" in p.stdout
    for shot in ("pan", "tilt-b"):
        assert_same_images(tmp_path / "out" / shot, reference[shot])
