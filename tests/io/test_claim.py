"""Claims on output frames: overlapping live runs are refused, killed runs do not block."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from unshutter.errors import OutputError
from unshutter.io.claim import CLAIM_DIR, OutputBusyError, claim

NAME = "shot.#.exr"


def test_overlap_in_another_process_is_refused_and_named(tmp_path: Path, claim_holder) -> None:
    p = claim_holder(tmp_path, NAME, (1001, 1010))
    with pytest.raises(
        OutputBusyError,
        match=rf"frames 1008-1020 of out/shot: another Unshutter run is writing "
        rf"them \(pid {p.pid} on .*frames 1001-1010",
    ):
        with claim(tmp_path, NAME, (1008, 1020), "out/shot"):
            pass
    with claim(tmp_path, NAME, (1011, 1020), "out/shot"):  # next to it: fine
        pass
    with claim(tmp_path, "other.#.exr", (1001, 1010), "out/other"):  # another output in the folder
        pass
    assert issubclass(OutputBusyError, OutputError)  # exit 6: a farm retries it later


def test_killed_run_does_not_block_and_its_claim_is_removed(tmp_path: Path, claim_holder) -> None:
    p = claim_holder(tmp_path, NAME, None)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    left = list((tmp_path / CLAIM_DIR).iterdir())
    assert len(left) == 1  # a killed run cannot clean up
    with claim(tmp_path, NAME, (1001, 1002), "out/shot") as mine:
        assert [q.name for q in (tmp_path / CLAIM_DIR).iterdir()] == [mine.name]
    assert not (tmp_path / CLAIM_DIR).exists()  # the last claim out removes the folder


def test_whole_file_claim_meets_every_span(tmp_path: Path) -> None:
    with claim(tmp_path, NAME, None, "out/clip.mov"):
        with pytest.raises(OutputBusyError, match=r"^frames 5-6 of x: .*the whole file"):
            with claim(tmp_path, NAME, (5, 6), "x"):
                pass
    with claim(tmp_path, NAME, (5, 6), "x"):
        with pytest.raises(OutputBusyError, match=r"^x: .*frames 5-6"):
            with claim(tmp_path, NAME, None, "x"):
                pass


def test_threads_of_one_process_are_told_apart(tmp_path: Path) -> None:
    held, release, errors = threading.Event(), threading.Event(), []

    def first() -> None:
        with claim(tmp_path, NAME, (1, 10), "o"):
            held.set()
            release.wait(10)

    t = threading.Thread(target=first)
    t.start()
    held.wait(10)
    try:
        with claim(tmp_path, NAME, (11, 20), "o"):  # a neighbouring chunk on another thread
            pass
        try:
            with claim(tmp_path, NAME, (10, 12), "o"):
                pass
        except OutputBusyError as exc:
            errors.append(str(exc))
    finally:
        release.set()
        t.join()
    assert len(errors) == 1 and f"pid {os.getpid()}" in errors[0]


def test_claim_is_released_when_the_block_fails(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        with claim(tmp_path, NAME, (1, 2), "o"):
            raise RuntimeError("the run failed")
    with claim(tmp_path, NAME, (1, 2), "o"):
        pass


def test_a_start_sweeps_only_dead_claims(tmp_path: Path, claim_holder) -> None:
    live = claim_holder(tmp_path, NAME, (3, 4))
    dead = claim_holder(tmp_path, NAME, (1, 2))  # started after: the live one's start cannot have swept it
    dead.kill()
    dead.wait()
    assert len(list((tmp_path / CLAIM_DIR).iterdir())) == 2
    with claim(tmp_path, NAME, (5, 6), "o") as mine:  # overlaps neither
        left = sorted(q.name for q in (tmp_path / CLAIM_DIR).iterdir())
        assert len(left) == 2 and mine.name in left  # the dead claim went, the live one stayed
    with pytest.raises(OutputBusyError):
        with claim(tmp_path, NAME, (4, 4), "o"):
            pass
    live.kill()
    live.wait()
    with claim(tmp_path, NAME, (4, 4), "o"):
        pass
    assert not (tmp_path / CLAIM_DIR).exists()


def test_both_of_two_simultaneous_starts_never_go_on(tmp_path: Path) -> None:
    """Announce, then look: whatever the interleaving, two overlapping starts never both proceed."""
    inside: list[int] = []
    errors: list[int] = []

    def start() -> None:
        go.wait()
        try:
            with claim(tmp_path, NAME, (1, 5), "o"):
                inside.append(1)
                done.wait()  # both attempts overlap in time: neither leaves before the other has tried
        except OutputBusyError:
            errors.append(1)
            done.wait()

    for _ in range(20):
        inside.clear()
        errors.clear()
        go, done = threading.Barrier(2), threading.Barrier(2)
        ts = [threading.Thread(target=start) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert len(inside) + len(errors) == 2 and len(inside) <= 1


def test_file_system_without_locks_runs_unguarded_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import fcntl

    def no_locks(fd: int, op: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with pytest.warns(RuntimeWarning, match="cannot lock files"):
        with claim(tmp_path, NAME, (1, 2), "o") as held:
            assert held is None
    assert not (tmp_path / CLAIM_DIR).exists()  # nothing left behind


def test_a_dead_claim_another_start_is_looking_at_does_not_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two starts look at the same dead claim at once (a killed farm job's re-run starts its chunks together):
    one's look at it must not pass for its owner's lock, or the other is refused and its chunk retried."""
    import json

    from unshutter.io import claim as claims

    cdir = tmp_path / CLAIM_DIR
    cdir.mkdir()
    dead = cdir / "0123abcd.claim"  # a killed run's: nobody holds its lock
    dead.write_text(json.dumps({"output": NAME, "frames": [1, 5], "pid": 1, "host": "h", "started": "t"}))
    looking, release = threading.Event(), threading.Event()
    real = claims._try_lock

    def held(fd: int, *args, **kwargs) -> bool:  # type: ignore[no-untyped-def]
        got = real(fd, *args, **kwargs)
        if threading.current_thread() is other:  # the other start, in the middle of its look
            looking.set()
            release.wait(10)
        return got

    monkeypatch.setattr(claims, "_try_lock", held)
    other = threading.Thread(target=claims._alive, args=(dead,))
    other.start()
    try:
        assert looking.wait(10)
        with claim(tmp_path, NAME, (3, 4), "o"):  # overlaps the dead claim
            pass
    finally:
        release.set()
        other.join()
    assert not dead.exists() and not cdir.exists()


def test_claims_folder_removed_while_a_start_makes_it_is_made_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last run of a folder removes the empty claims folder as it ends; a start making it at that moment sees
    it there, then gone (mkdir raises FileExistsError) and must make it again, not fail with exit 6."""
    real = Path.mkdir
    vanished: list[Path] = []

    def mkdir(self: Path, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        if self.name == CLAIM_DIR and not vanished:
            vanished.append(self)
            raise FileExistsError(17, "File exists", str(self))
        real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    with claim(tmp_path, NAME, (1, 2), "o") as mine:
        assert mine is not None and mine.parent == tmp_path / CLAIM_DIR
    assert vanished == [tmp_path / CLAIM_DIR]
