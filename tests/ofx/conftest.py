"""Fixtures for the OpenFX bridge: the built bundle, the test host, a tiny EXR clip.

The bundle and the harness host are built with ``make ofx`` (once per
session). :class:`Host` drives ``build/ofx/harness/ofx_harness`` through its
line protocol (see ofx_bridge/harness/host.cpp): each command answers with
fact lines and a final ``done STATUS``.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import textured_photo
from tests.limits import HANG
from unshutter.io.image_file import read_image
from unshutter.sample import render_clip, write_exr_sequence

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "build" / "ofx" / "Unshutter.ofx.bundle"
BINARY = BUNDLE / "Contents" / "Linux-x86-64" / "Unshutter.ofx"
HARNESS = ROOT / "build" / "ofx" / "harness" / "ofx_harness"
W, H, FIRST, FRAMES = 64, 48, 1001, 4


def unshutter_executable() -> str:
    exe = Path(sys.executable).parent / "unshutter"
    if exe.is_file():
        return str(exe)
    found = shutil.which("unshutter")
    if not found:
        pytest.skip("no unshutter executable")
    return found


@pytest.fixture(scope="session")
def built() -> Path:
    """``make ofx`` from the repository root: the bundle and the harness host."""
    if shutil.which(os.environ.get("CXX", "g++")) is None or shutil.which("make") is None:
        pytest.skip("no C++ compiler or make")
    res = subprocess.run(["make", "ofx"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    assert BINARY.is_file() and HARNESS.is_file()
    return BINARY


@dataclass
class Clip:
    folder: Path
    exr: str  # the EXR pattern for `unshutter run`
    raw: str  # the harness's raw RGBA pattern (printf %d)
    frames: np.ndarray  # [T, H, W, 3] float32 as stored in the EXR files


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    """4 frames of 64x48 float EXR from 1001 (values below 1, so 8/16-bit hosts do not clip), panning right."""
    folder = tmp_path_factory.mktemp("ofx_clip")
    frames = render_clip(textured_photo(), FRAMES, W, H, speed=5.0, curve=0.3, samples=12, gain=0.9)
    pattern = write_exr_sequence(folder / "src", "shot", frames, FIRST, pixel_type="float")
    stored = []
    for i in range(FRAMES):
        px, meta = read_image(folder / "src" / f"shot.{FIRST + i:04d}.exr")
        rgb = px[..., meta.rgb_indices].astype(np.float32)
        stored.append(rgb)
        rgba = np.concatenate([rgb, np.ones((H, W, 1), np.float32)], axis=-1)
        rgba.tofile(folder / "src" / f"shot.{FIRST + i}.raw")
    return Clip(folder, pattern, str(folder / "src" / "shot.%d.raw"), np.stack(stored))


_cli_cache: dict[tuple, Path] = {}


@pytest.fixture(scope="session")
def cli_render(clip: Clip, tmp_path_factory: pytest.TempPathFactory):
    """``unshutter run`` on the clip with the given arguments -> {output frame: RGB}."""

    def render(*args: str) -> dict[int, np.ndarray]:
        key = tuple(args)
        if key not in _cli_cache:
            out = tmp_path_factory.mktemp("cli")
            res = subprocess.run(
                [unshutter_executable(), "run", clip.exr, "-o", str(out / "shot.####.exr"), "-q", *args],
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert res.returncode == 0, res.stderr
            _cli_cache[key] = out
        out = _cli_cache[key]
        frames = {}
        for p in sorted(out.glob("shot.*.exr")):
            px, meta = read_image(p)
            frames[int(p.name.split(".")[1])] = px[..., meta.rgb_indices]
        return frames

    return render


class Host:
    """The harness host as a subprocess, one command at a time."""

    def __init__(self, env: dict[str, str] | None = None, timeout: float = HANG) -> None:
        full_env = dict(os.environ)
        full_env.setdefault("UNSHUTTER_EXECUTABLE", unshutter_executable())
        full_env["UNSHUTTER_THREADS"] = "1"
        full_env.update(env or {})
        self.timeout = timeout
        self.proc = subprocess.Popen(
            [str(HARNESS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=full_env,
            bufsize=1,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._read, args=(self.proc.stdout, self._lines), daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    @staticmethod
    def _read(stream, q) -> None:
        for line in stream:
            q.put(line.rstrip("\n"))
        q.put(None)

    def _read_err(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip("\n"))

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def cmd(self, line: str, timeout: float | None = None) -> tuple[int, list[str]]:
        """Send one command; returns (status, fact lines)."""
        self.send(line)
        return self.collect(line, timeout)

    def collect(self, line: str, timeout: float | None = None) -> tuple[int, list[str]]:
        """The answer to the command sent last: (status, fact lines)."""
        facts: list[str] = []
        while True:
            try:
                got = self._lines.get(timeout=timeout or self.timeout)
            except queue.Empty:
                raise AssertionError(f"harness did not answer {line!r} in time; stderr: {self.stderr[-20:]}") from None
            if got is None:
                raise AssertionError(
                    f"harness exited ({self.proc.wait()}) during {line!r}; stderr: {self.stderr[-20:]}"
                )
            if got.startswith("done "):
                return int(got.split()[1]), facts
            facts.append(got)

    def ok(self, line: str, *allowed: int) -> list[str]:
        status, facts = self.cmd(line)
        assert status in (allowed or (0,)), f"{line!r} -> {status}: {facts}"
        return facts

    def start(
        self,
        context: str,
        clip: Clip | None = None,
        frames: tuple[int, int] | None = None,
        depth: str = "float",
        components: str = "RGBA",
        binary: Path = BINARY,
        size: tuple[int, int] = (W, H),
        **params,
    ) -> None:
        """load, describe, describe in context, source, create, set params, clip preferences."""
        self.ok(f"load {binary}")
        self.ok("describe")
        self.ok(f"describe_in_context {context}")
        a, b = frames or (FIRST, FIRST + FRAMES - 1)
        pattern = clip.raw if clip else "/nonexistent.%d.raw"
        self.ok(f"source {pattern} {a} {b} {size[0]} {size[1]}")
        self.ok(f"depth {depth}")
        self.ok(f"components {components}")
        self.ok(f"create {context}")
        for k, v in params.items():
            self.ok(f"set {k} {v}", 0, 14)
        self.ok("clip_prefs")

    def render(self, t: float, out: Path | None = None, scale: float = 1.0) -> tuple[int, list[str]]:
        return self.cmd(f"render {t} {out or ''} {scale}" if out else f"render {t} - {scale}")

    def wait_stderr(self, text: str, timeout: float = 10.0) -> bool:
        """Whether a stderr line containing ``text`` arrives within ``timeout`` s (stderr is read by a thread,
        so a line the plugin wrote before answering may show up here a little after the answer)."""
        deadline = time.monotonic() + timeout
        while True:
            if any(text in line for line in list(self.stderr)):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)

    def children(self) -> list[int]:
        """Process ids of the harness's children (the worker)."""
        pids: list[int] = []
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            try:
                pids += [int(p) for p in (task / "children").read_text().split()]
            except OSError:
                pass
        return pids

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=HANG)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


@pytest.fixture()
def host(built: Path):
    hosts: list[Host] = []

    def make(**env: str) -> Host:
        h = Host(env=env)
        hosts.append(h)
        return h

    yield make
    for h in hosts:
        h.close()


def read_raw(path: Path, w: int = W, h: int = H) -> np.ndarray:
    """A harness output: float32 RGBA, top-down. Shape: -> [h, w, 4]."""
    return np.fromfile(path, np.float32).reshape(h, w, 4)


def guide_left_half(h: Host, folder: Path) -> np.ndarray:
    """Give the host a Guide matte over the left half of every frame (float32 RGBA files in ``folder``).

    Shape: -> the matte [H, W]
    """
    matte = np.zeros((H, W), np.float32)
    matte[:, : W // 2] = 1.0
    for i in range(FRAMES):
        rgba = np.zeros((H, W, 4), np.float32)
        rgba[..., 3] = matte
        rgba.tofile(folder / f"guide.{FIRST + i}.raw")
    h.ok(f"guide {folder}/guide.%d.raw {FIRST} {FIRST + FRAMES - 1} {W} {H}")
    return matte
