"""The run loop writes a frame's sub-frames side by side, and a failed write still ends the run cleanly."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from unshutter import threads
from unshutter.render import sink
from unshutter.errors import OutputError
from unshutter.node import NodeParams
from unshutter.pipeline import RunConfig, run


def test_sub_frames_are_written_by_writer_threads_frame_after_frame(
    hdr_clip: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = sink.write_image
    seen: list[tuple[str, str]] = []
    lock = threading.Lock()

    def slow_write(path: Path, *args: object, **kwargs: object) -> None:
        time.sleep(0.05)  # long enough that two writers overlap
        real(path, *args, **kwargs)  # type: ignore[arg-type]
        with lock:
            seen.append((threading.current_thread().name, path.name))

    monkeypatch.setattr(sink, "write_image", slow_write)
    monkeypatch.setattr(sink, "write_threads", lambda: 2)
    events: list[dict] = []
    res = run(RunConfig(hdr_clip, str(tmp_path / "o"), NodeParams(factor=3), frames=(1002, 1003)), events.append)
    assert res.written == 6 and all((tmp_path / "o" / name).is_file() for _, name in seen)
    assert {name for name, _ in seen} == {"unshutter-write_0", "unshutter-write_1"}
    # a frame is reported only once all its sub-frames are written, frames in order
    frames = [e["frame"] for e in events if e["event"] == "frame"]
    assert frames == [1002, 1003]
    assert sorted(n for _, n in seen[:3]) == sorted(n for _, n in seen)[:3]


def test_a_failed_write_ends_the_run_with_no_writer_left(
    hdr_clip: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = sink.write_image
    calls = []

    def failing(path: Path, *args: object, **kwargs: object) -> None:
        calls.append(path.name)
        if len(calls) == 2:
            raise OutputError(f"{path}: disk full")
        time.sleep(0.05)
        real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sink, "write_image", failing)
    with pytest.raises(OutputError, match="disk full"):
        run(RunConfig(hdr_clip, str(tmp_path / "o"), NodeParams(factor=3), frames=(1002, 1003)))
    assert not [t for t in threading.enumerate() if t.name.startswith("unshutter-write")]
    assert len(calls) == 3  # the first frame's writes only: the run stopped there
    assert not list((tmp_path / "o").glob("*.tmp*"))


def test_writer_threads_follow_the_thread_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "configured", lambda: 1)
    assert sink.write_threads() == 1
    monkeypatch.setattr(threads, "configured", lambda: None)
    monkeypatch.setattr(threads, "cores", lambda: 8)
    assert sink.write_threads() == sink.WRITE_THREADS
