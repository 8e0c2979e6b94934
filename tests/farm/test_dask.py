"""The Dask runner on a real LocalCluster: same output as ``unshutter run``, retries, failures, summary."""

from __future__ import annotations

import io
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable

import cv2
import pytest
import yaml

from tests.farm.helpers import UNSHUTTER, assert_same_images, images, make_clip, write_spec
from tests.limits import HANG
from unshutter import kernels
from unshutter import threads as process_threads
from unshutter.errors import OutputError
from unshutter.farm import task
from unshutter.farm.dask_runner import run_dask
from unshutter.farm.spec import load_spec
from unshutter.node import NodeParams
from unshutter.pipeline import RunConfig, run


def test_local_cluster_threads_two_shots_equal_unshutter_run(
    spec_path: Path, tmp_path: Path, reference: dict[str, Path]
) -> None:
    out = io.StringIO()
    env_before = os.environ.get(process_threads.ENV)
    try:
        summary = run_dask(
            load_spec(spec_path), workers=1, threads_per_worker=2, processes=False, progress=False, out=out
        )
        # each chunk's share of the cores bounds OpenCV and the native kernels too (here: the test's process,
        # whose environment the threaded worker leaves alone)
        share = max(1, (os.cpu_count() or 1) // 2)
        assert cv2.getNumThreads() == share and (kernels.BACKEND == "numpy" or kernels.max_threads() == share)
        assert os.environ.get(process_threads.ENV) == env_before
    finally:
        cv2.setNumThreads(-1)  # OpenCV's default again
        kernels.set_max_threads(0)
    assert summary.exit_code == 0
    for shot in ("pan", "tilt-b"):
        assert_same_images(tmp_path / "out" / shot, reference[shot])
        s = summary.shots[shot]
        assert (s.frames, s.chunks, s.done, s.failures, s.retries) == (6, 3, 3, 0, 0)
    assert summary.shots["pan"].written == 18 and summary.shots["tilt-b"].written == 12
    table = out.getvalue()
    assert table.splitlines()[0].split() == [
        "shot",
        "frames",
        "chunks",
        "done",
        "written",
        "skipped",
        "failures",
        "retries",
        "rescheduled",
        "task",
        "s",
    ]
    assert summary.shots["pan"].rescheduled == 0
    assert "total" in table and "wall time" in table

    # a second run finds everything complete
    again = run_dask(load_spec(spec_path), processes=False, progress=False, out=io.StringIO())
    assert again.exit_code == 0 and again.shots["pan"].skipped == 18 and again.shots["pan"].written == 0


def test_transient_failure_is_retried_and_resumes(
    spec_path: Path, tmp_path: Path, reference: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
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


def test_bad_input_fails_at_once_and_other_shots_finish(
    tmp_path: Path, farm_clips: dict[str, str], farm_model: str, reference: dict[str, Path]
) -> None:
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
    # frames 1001-1002 (outputs 1001-1006) do not need frame 1005 and are done; 1003's outputs blend toward
    # 1004's decomposition, which reads it
    assert images(tmp_path / "out" / "pan") == [f"pan.{f}.exr" for f in range(1001, 1007)]


@pytest.mark.slow
def test_cli_dask_with_worker_processes(spec_path: Path, tmp_path: Path, reference: dict[str, Path]) -> None:
    p = subprocess.run(
        [UNSHUTTER, "farm", "dask", str(spec_path), "--workers", "2", "-q"], capture_output=True, text=True, timeout=600
    )
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

    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, protocol="tcp", dashboard_address=None
    ) as cluster:
        p = subprocess.run(
            [UNSHUTTER, "farm", "dask", str(spec_path), "--scheduler", cluster.scheduler_address],
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert p.returncode == 0, p.stderr[-3000:]
    assert "total" in p.stdout
    # the progress bar counts source frames of both shots
    assert "unshutter farm: 100%" in p.stderr and "12/12" in p.stderr
    for shot in ("pan", "tilt-b"):
        assert_same_images(tmp_path / "out" / shot, reference[shot])


def test_cli_dask_unreachable_scheduler_is_one_line(spec_path: Path) -> None:
    env = {**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"}
    p = subprocess.run(
        [UNSHUTTER, "farm", "dask", str(spec_path), "--scheduler", "tcp://127.0.0.1:9", "-q"],
        capture_output=True,
        text=True,
        timeout=HANG,
        env=env,
    )
    assert p.returncode == 1
    assert p.stderr.strip().count("\n") == 0 and "--scheduler tcp://127.0.0.1:9: cannot connect" in p.stderr


LONG_FACTOR = 3


@pytest.fixture(scope="module")
def long_shot(tmp_path_factory: pytest.TempPathFactory, farm_model: str) -> tuple[str, Path]:
    """A 24-frame clip (long enough to be killed mid-job) and its one-run render."""
    root = tmp_path_factory.mktemp("long")
    clip = make_clip(root / "plates", 3, 4.5, n=24)
    run(RunConfig(clip, str(root / "ref" / "long.####.exr"), NodeParams(factor=LONG_FACTOR), model=farm_model))
    return clip, root / "ref"


def _long_spec(tmp_path: Path, clip: str, model: str) -> Path:
    doc = {
        "name": "long",
        "model": model,
        "chunk": 4,
        "shots": [
            {"name": "long", "input": clip, "output": str(tmp_path / "out" / "long.####.exr"), "factor": LONG_FACTOR}
        ],
    }
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _wait_for_outputs(folder: Path, n: int, alive: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 300
    while len(images(folder)) < n and time.monotonic() < deadline and alive():
        time.sleep(0.005)


def _session_processes(sid: int) -> dict[int, str]:
    """Processes of session ``sid`` not yet dead: pid -> state (R, S, D...; a zombie has released its files)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # gone meanwhile
            continue
        fields = text[text.rindex(")") + 2 :].split()  # state ppid pgrp session ...
        if int(fields[3]) == sid and fields[0] not in "ZX":
            found[int(stat.parent.name)] = fields[0]
    return found


def _wait_until_session_ends(sid: int, timeout: float = HANG) -> None:
    """Wait for every process of session ``sid`` to end (SIGKILLed, a big process still unmaps its memory before its
    files close, and holds its locks until then)."""
    deadline = time.monotonic() + timeout
    while _session_processes(sid) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _session_processes(sid), _session_processes(sid)


@pytest.mark.slow
def test_killed_dask_job_resumes_with_nothing_lost(
    tmp_path: Path, long_shot: tuple[str, Path], farm_model: str
) -> None:
    """The machine running ``unshutter farm dask`` dies (client, scheduler, workers: SIGKILL); a re-run resumes."""
    clip, ref = long_shot
    cmd = [UNSHUTTER, "farm", "dask", str(_long_spec(tmp_path, clip, farm_model)), "--workers", "2", "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    out = tmp_path / "out"
    _wait_for_outputs(out, 9, lambda: proc.poll() is None)
    assert proc.poll() is None, "the job finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=HANG)
    # the machine is gone only once all of it is: a worker still exiting holds its chunk's claim (the re-run's
    # first attempt of that chunk would be refused and retried)
    _wait_until_session_ends(proc.pid)
    partial = images(out)
    assert 0 < len(partial) < 24 * LONG_FACTOR
    for name in partial:  # nothing half-written under an output name
        assert (out / name).read_bytes() == (ref / name).read_bytes(), name
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    done = {int(n.split(".")[1]) for n in partial}
    whole = sum(all(1001 + i * LONG_FACTOR + k in done for k in range(LONG_FACTOR)) for i in range(24))
    row = next(line.split() for line in p.stdout.splitlines() if line.startswith("long "))
    assert row[:8] == ["long", "24", "6", "6", str((24 - whole) * LONG_FACTOR), str(whole * LONG_FACTOR), "0", "0"]
    assert_same_images(out, ref)


@pytest.mark.slow
def test_worker_killed_mid_chunk_is_rescheduled_and_resumes(
    tmp_path: Path, long_shot: tuple[str, Path], farm_model: str
) -> None:
    """A Dask worker process dies mid-chunk (its nanny restarts it): Dask runs the chunk again, the job
    completes, and the summary counts the rerun (not as a failure or a retry: Dask made it, not the runner)."""
    from distributed import Client, LocalCluster

    clip, ref = long_shot
    spec = load_spec(_long_spec(tmp_path, clip, farm_model))
    out = tmp_path / "out"
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR
    ) as cluster:
        with Client(cluster) as client:
            (worker_pid,) = client.run(os.getpid).values()
        result: dict[str, Any] = {}
        table = io.StringIO()
        runner = threading.Thread(
            target=lambda: result.update(
                summary=run_dask(spec, scheduler=cluster.scheduler_address, progress=False, out=table)
            )
        )
        runner.start()
        _wait_for_outputs(out, 9, runner.is_alive)
        assert runner.is_alive(), "the job finished before the worker could be killed"
        os.kill(worker_pid, signal.SIGKILL)
        runner.join(timeout=600)
    summary = result["summary"]
    long = summary.shots["long"]
    assert summary.exit_code == 0 and long.done == 6
    assert (long.rescheduled, long.failures, long.retries) == (1, 0, 0)
    row = next(line.split() for line in table.getvalue().splitlines() if line.startswith("long "))
    assert row[6:9] == ["0", "0", "1"]  # failures, retries, rescheduled
    assert_same_images(out, ref)


def test_two_runs_on_one_scheduler_keep_their_own_tasks(
    tmp_path: Path,
    farm_clips: dict[str, str],
    farm_model: str,
    reference: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two reels with the same shot names (so the same chunk keys) submitted at once to one long-lived
    scheduler: each run renders its own chunks and counts only its own tasks."""
    from distributed import Client, LocalCluster

    specs = {
        name: load_spec(write_spec(tmp_path / f"{name}.yaml", farm_clips, tmp_path / name, farm_model))
        for name in ("reel1", "reel2")
    }
    n_chunks = 6  # per reel: 3 chunks of each of its 2 shots
    gate = threading.Event()  # chunks wait until both runs have submitted everything
    real = task.run_config

    def gated(cfg, progress=None, **kw):  # type: ignore[no-untyped-def]
        assert gate.wait(300), "the two runs never had all their chunks submitted"
        return real(cfg, progress, **kw)

    monkeypatch.setattr(task, "run_config", gated)
    results: dict[str, Any] = {}
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None, silence_logs=logging.ERROR
        ) as cluster,
        Client(cluster) as watcher,
    ):
        runners = [
            threading.Thread(
                target=lambda n=name, s=spec: results.update(
                    {n: run_dask(s, scheduler=cluster.scheduler_address, progress=False, out=io.StringIO(), retries=0)}
                )
            )
            for name, spec in specs.items()
        ]
        for r in runners:
            r.start()
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                wanted = watcher.run_on_scheduler(
                    lambda dask_scheduler: sorted(
                        len(c.wants_what) for c in dask_scheduler.clients.values() if c.wants_what
                    )
                )
                if wanted == [n_chunks, n_chunks]:
                    break
                time.sleep(0.05)
            keys = watcher.run_on_scheduler(
                lambda dask_scheduler: sorted(str(k) for k in dask_scheduler.tasks if str(k).startswith("unshutter-"))
            )
        finally:  # never leave the chunks (and the cluster) blocked on a failed assertion
            gate.set()
            for r in runners:
                r.join(timeout=600)
    assert wanted == [n_chunks, n_chunks] and sorted(results) == ["reel1", "reel2"]
    for name, summary in results.items():
        assert summary.exit_code == 0
        for shot in ("pan", "tilt-b"):
            assert_same_images(tmp_path / name / shot, reference[shot])
            s = summary.shots[shot]
            assert (s.done, s.failures, s.rescheduled) == (3, 0, 0)
        assert summary.shots["pan"].written == 18 and summary.shots["tilt-b"].written == 12
    # no task shared between the runs; each key still names its shot, frames and attempt
    assert len(keys) == 2 * n_chunks
    assert {k.split("-", 2)[2] for k in keys} == {
        f"{shot}:{c}-0" for shot in ("pan", "tilt-b") for c in ("1001-1002", "1003-1004", "1005-1006")
    }


def test_a_client_made_during_a_run_does_not_take_its_completions(
    spec_path: Path, tmp_path: Path, reference: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another client made in the same process after the run's own (another reel in a thread, a
    pipeline tool's) becomes distributed's default client, then closes: the run must still see its
    chunks finish instead of waiting forever."""
    import distributed
    from distributed import Client

    real = distributed.as_completed
    made: list[Any] = []

    def with_intruder(futures, *args, **kw):  # type: ignore[no-untyped-def]
        intruder = Client(futures[0].client.scheduler.address)  # now the process's default client
        made.append(intruder)
        try:
            return real(futures, *args, **kw)
        finally:
            intruder.close()

    monkeypatch.setattr(distributed, "as_completed", with_intruder)
    result: dict[str, Any] = {}
    runner = threading.Thread(
        target=lambda: result.update(
            summary=run_dask(load_spec(spec_path), processes=False, progress=False, out=io.StringIO(), retries=0)
        ),
        daemon=True,
    )
    runner.start()
    runner.join(timeout=240)
    assert made, "the run never asked for its completions"
    assert not runner.is_alive(), "the run hung after another client of the process closed"
    summary = result["summary"]
    assert summary.exit_code == 0
    for shot in ("pan", "tilt-b"):
        assert summary.shots[shot].done == 3
        assert_same_images(tmp_path / "out" / shot, reference[shot])


def test_cli_dask_with_no_worker_gives_up_in_one_line(spec_path: Path, tmp_path: Path) -> None:
    """Dask waits forever for workers; a farm job must not: a cluster no worker joins is a one-line error."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=0, processes=False, protocol="tcp", dashboard_address=None) as cluster:
        t0 = time.monotonic()
        p = subprocess.run(
            [
                UNSHUTTER,
                "farm",
                "dask",
                str(spec_path),
                "--scheduler",
                cluster.scheduler_address,
                "--no-workers-timeout",
                "2",
                "-q",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        took = time.monotonic() - t0
    assert p.returncode == 1, p.stderr[-3000:]
    assert p.stderr.strip().count("\n") == 0, p.stderr
    assert f"--scheduler {cluster.scheduler_address}: no Dask worker joined in 2 s" in p.stderr
    assert took < 120
    assert not (tmp_path / "out").exists() or images(tmp_path / "out" / "pan") == []
    bad = subprocess.run(
        [UNSHUTTER, "farm", "dask", str(spec_path), "--no-workers-timeout", "-1"],
        capture_output=True,
        text=True,
        timeout=HANG,
    )
    assert bad.returncode == 2 and "--no-workers-timeout -1" in bad.stderr


@pytest.mark.slow
def test_workers_gone_mid_run_fail_the_rest_and_keep_what_was_written(
    tmp_path: Path, long_shot: tuple[str, Path], farm_model: str
) -> None:
    """Every worker leaves mid-job: after the timeout the unfinished chunks fail (exit 1, not retried),
    the run returns, and the frames already written stay complete."""
    from distributed import LocalCluster

    clip, ref = long_shot
    spec = load_spec(_long_spec(tmp_path, clip, farm_model))
    out = tmp_path / "out"
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.CRITICAL
    ) as cluster:
        result: dict[str, Any] = {}
        table = io.StringIO()
        runner = threading.Thread(
            target=lambda: result.update(
                summary=run_dask(
                    spec,
                    scheduler=cluster.scheduler_address,
                    progress=False,
                    out=table,
                    retries=3,
                    no_workers_timeout=2,
                )
            )
        )
        runner.start()
        _wait_for_outputs(out, 4 * LONG_FACTOR + 1, runner.is_alive)  # one chunk done, the next one started
        assert runner.is_alive(), "the job finished before its worker could leave"
        cluster.scale(0)
        runner.join(timeout=300)
        assert not runner.is_alive(), "the run went on waiting with no worker"
    summary = result["summary"]
    long = summary.shots["long"]
    assert summary.exit_code == 1
    assert 0 < long.done < 6 and long.retries == 0 and long.failures == 6 - long.done
    assert all("no Dask worker on the scheduler for 2 s" in e for e in long.errors)
    assert "FAILED long: frames" in table.getvalue()
    written = images(out)
    assert len(written) >= long.done * 4 * LONG_FACTOR
    for name in written:  # complete, and the same as a one-run render
        assert (out / name).read_bytes() == (ref / name).read_bytes(), name
