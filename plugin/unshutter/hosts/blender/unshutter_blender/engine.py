"""The Unshutter engine as a subprocess: find it, run it, follow its JSON lines.

Pure Python (no ``bpy``, no numpy): Blender's interpreter has neither our
dependencies nor numpy, so the add-on never imports ``unshutter`` and talks to
``unshutter run --json`` instead. This module is also importable outside
Blender, which is how the tests exercise it.

Engine discovery, first match wins:

1. the add-on preference "Engine executable" (passed in as ``preferred``);
2. the environment variable ``UNSHUTTER_EXECUTABLE``;
3. ``engine.json`` beside this file, written by ``unshutter blender install``
   / ``zip`` with the path of the ``unshutter`` that installed the add-on;
4. ``unshutter`` on ``PATH``;
5. a project virtual environment: ``.venv/bin/unshutter`` in the current
   directory, beside the saved .blend file or in one of their parents, or
   above this file when the add-on is loaded from a source checkout.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

ENV_VAR = "UNSHUTTER_EXECUTABLE"
RECORD = Path(__file__).with_name("engine.json")
TMP_MARK = ".unshutter-tmp"  # unshutter.io.atomic.TMP_MARK: the engine's temporaries
CLAIM_DIR = ".unshutter-claims"  # unshutter.io.claim.CLAIM_DIR: which run writes which frames
GUIDANCE = ("neighbors", "none", "left", "right", "up", "down", "reverse")
TIMINGS = ("even", "exposure")  # unshutter.timing.TIMINGS
# unshutter.params.LEGACY_DEFAULTS by property name (tests/test_params.py checks): settings added after
# strips were rendered -> the value those renders had; at it a setting stays out of the folder key
LEGACY_DEFAULTS = {"motion_pass_units": "px"}
_BIN = "Scripts" if os.name == "nt" else "bin"
_EXE = "unshutter.exe" if os.name == "nt" else "unshutter"


class EngineError(Exception):
    """A one-line message for the user (engine missing, bad strip, engine failure)."""


# ------------------------------------------------------------------ discovery
def _usable(path: str | os.PathLike | None) -> str | None:
    if not path:
        return None
    p = Path(os.path.expanduser(str(path)))
    if p.is_dir():
        p = p / _BIN / _EXE if (p / _BIN / _EXE).is_file() else p / _EXE
    return str(p) if p.is_file() and os.access(p, os.X_OK) else None


def _venv_candidates(blend_dir: str | None) -> list[Path]:
    roots: list[Path] = []
    for start in (Path.cwd(), Path(blend_dir) if blend_dir else None, Path(__file__).resolve().parent):
        if start is None:
            continue
        roots.extend([start, *start.parents])
    seen: list[Path] = []
    for r in roots:
        cand = r / ".venv" / _BIN / _EXE
        if cand not in seen:
            seen.append(cand)
    return seen


def find_executable(preferred: str = "", blend_dir: str | None = None) -> tuple[str | None, str]:
    """(path or None, where it came from). See the module docstring for the order."""
    if preferred:
        exe = _usable(preferred)
        return (exe, "preference") if exe else (None, f"the preference path {preferred} is not an executable")
    exe = _usable(os.environ.get(ENV_VAR))
    if exe:
        return exe, ENV_VAR
    if RECORD.is_file():
        with contextlib.suppress(OSError, ValueError, TypeError):
            exe = _usable(json.loads(RECORD.read_text(encoding="utf-8")).get("executable"))
            if exe:
                return exe, "recorded at install"
    exe = shutil.which(_EXE)
    if exe:
        return exe, "PATH"
    for cand in _venv_candidates(blend_dir):
        exe = _usable(cand)
        if exe:
            return exe, ".venv"
    return None, "not found"


def not_found_message() -> str:
    return (
        "Unshutter engine not found: set Preferences > Add-ons > Unshutter > Engine executable, "
        f"or {ENV_VAR}, or put 'unshutter' on PATH"
    )


# ------------------------------------------------------------------ inputs
_NUM = re.compile(r"^(.*?)(\d+)(\.[A-Za-z0-9]+)$")  # a "-" before the digits is a separator


@dataclass(frozen=True)
class SequenceInput:
    """An image sequence as the engine names it: ``directory/prefix%0Nd suffix``."""

    directory: str
    prefix: str
    padding: int
    suffix: str
    first: int
    last: int

    def path(self, frame: int) -> str:
        return os.path.join(self.directory, f"{self.prefix}{frame:0{self.padding}d}{self.suffix}")

    @property
    def spec(self) -> str:
        return os.path.join(self.directory, f"{self.prefix}%0{self.padding}d{self.suffix}")

    def output_spec(self, folder: str, suffix: str | None = None) -> str:
        return os.path.join(folder, f"{self.prefix}{'#' * max(4, self.padding)}{suffix or self.suffix}")


def sequence_from_files(directory: str, filenames: list[str]) -> SequenceInput:
    """The sequence behind a Blender image strip's element file names (consecutive frames)."""
    if not filenames:
        raise EngineError("the image strip has no images")
    parts = []
    for name in filenames:
        m = _NUM.match(name)
        if not m:
            raise EngineError(f"{name}: no frame number in the file name (expected e.g. shot.1001.exr)")
        parts.append((m.group(1), m.group(2), m.group(3)))
    prefix, digits, suffix = parts[0]
    frames = []
    for (p, d, s), name in zip(parts, filenames):
        if p != prefix or s != suffix:
            raise EngineError(f"{name}: not part of the sequence {prefix}#{suffix}")
        frames.append(int(d))
    expected = list(range(frames[0], frames[0] + len(frames)))
    if frames != expected:
        bad = next(f for f, e in zip(frames, expected) if f != e)
        raise EngineError(f"{prefix}{bad}{suffix}: the strip's frames are not consecutive")
    padding = len(digits) if digits.startswith("0") or len(digits) >= 4 else 1
    return SequenceInput(directory, prefix, padding, suffix, frames[0], frames[-1])


def settings_key(settings: dict) -> str:
    """Six hex digits naming an output folder for one set of node settings; those at their
    :data:`LEGACY_DEFAULTS` left out, so strips run before such a setting existed find their folders."""
    kept = {k: v for k, v in settings.items() if k not in LEGACY_DEFAULTS or v != LEGACY_DEFAULTS[k]}
    blob = json.dumps(kept, sort_keys=True, default=str).encode()
    return hashlib.sha1(blob).hexdigest()[:6]


def build_command(
    exe: str,
    input_spec: str,
    output_spec: str,
    *,
    factor: int,
    guidance: str = "neighbors",
    reverse: bool = False,
    overrides: str = "",
    shutter: float = 360.0,
    timing: str = "even",
    follow: float = 1.25,
    frames: tuple[int, int] | None = None,
    threads: int = 0,
    motion: tuple[float, float] | None = None,
    motion_pass: str = "",
    motion_pass_channels: str = "",
    motion_pass_y: str = "up",
    motion_pass_points: str = "auto",
    motion_pass_units: str = "px",
) -> list[str]:
    """The ``unshutter run --json`` command line for one strip (``threads`` 0: all cores; ``motion``:
    a whole-frame vector in px per exposure, ``--motion``; ``motion_pass``: a motion-vector pass pattern,
    ``--motion-pass``, with its channels and conventions).

    ``follow`` is rounded to 6 digits: Blender keeps it in single precision (0.3 is 0.30000001192...).
    """
    if guidance not in GUIDANCE:
        raise EngineError(f"guidance {guidance!r}: choose one of {', '.join(GUIDANCE)}")
    if timing not in TIMINGS:
        raise EngineError(f"timing {timing!r}: choose one of {', '.join(TIMINGS)}")
    cmd = [
        exe,
        "run",
        input_spec,
        "-o",
        output_spec,
        "--factor",
        str(int(factor)),
        "--guidance",
        guidance,
        "--shutter",
        repr(float(shutter)),
        "--timing",
        timing,
        "--follow",
        repr(round(float(follow), 6)),
        "--json",
        "--quiet",
    ]
    if frames is not None:
        cmd += ["--frames", f"{frames[0]}-{frames[1]}"]
    if reverse:
        cmd.append("--reverse")
    if overrides:
        cmd += ["--overrides", overrides]
    if motion is not None:
        cmd += ["--motion", f"{float(motion[0])!r},{float(motion[1])!r}"]
    if motion_pass:
        cmd += [
            "--motion-pass",
            motion_pass,
            "--motion-pass-y",
            motion_pass_y,
            "--motion-pass-points",
            motion_pass_points,
            "--motion-pass-units",
            motion_pass_units,
        ]
        if motion_pass_channels:
            cmd += ["--motion-pass-channels", motion_pass_channels]
    if threads > 0:
        cmd += ["--threads", str(int(threads))]
    return cmd


# ------------------------------------------------------------------ running
@dataclass
class EngineRun:
    """One ``unshutter run --json`` subprocess, polled without blocking.

    Output folder bookkeeping makes a cancel clean: files that appear in the
    folder during the run (and the engine's temporaries) are deleted, so a
    cancelled run leaves exactly what was there before.
    """

    command: list[str]
    output_folder: str
    proc: subprocess.Popen | None = None
    events: list[dict] = field(default_factory=list)
    total: int = 0
    index: int = 0
    done: dict | None = None
    error: str | None = None
    stderr_lines: list[str] = field(default_factory=list)
    frame_outputs: dict[int, list[int]] = field(default_factory=dict)
    _queue: queue.Queue = field(default_factory=queue.Queue)
    _before: set[str] = field(default_factory=set)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        os.makedirs(self.output_folder, exist_ok=True)
        self._before = set(os.listdir(self.output_folder))
        env = dict(os.environ)
        for var in ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONNOUSERSITE"):
            env.pop(var, None)  # Blender's interpreter settings must not leak into the engine's
        try:
            self.proc = subprocess.Popen(
                self.command,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                env=env,
                text=True,
                bufsize=1,
                start_new_session=True,
            )
        except OSError as exc:
            raise EngineError(f"cannot start the engine {self.command[0]}: {exc.strerror or exc}") from None
        for stream, tag in ((self.proc.stdout, "out"), (self.proc.stderr, "err")):
            t = threading.Thread(target=self._pump, args=(stream, tag), daemon=True)
            t.start()
            self._threads.append(t)

    def _pump(self, stream, tag: str) -> None:
        for line in stream:
            self._queue.put((tag, line.rstrip("\n")))
        self._queue.put((tag, None))

    def poll(self, timeout: float = 0.0) -> list[dict]:
        """New events since the last call; waits up to ``timeout`` seconds for the first line."""
        new = []
        while True:
            try:
                if timeout > 0:
                    tag, line = self._queue.get(timeout=timeout)
                    timeout = 0.0
                else:
                    tag, line = self._queue.get_nowait()
            except queue.Empty:
                break
            if line is None:
                continue
            if tag == "err":
                if line.strip():
                    self.stderr_lines.append(line)
                continue
            try:
                ev = json.loads(line)
            except ValueError:
                continue  # a stray print from a library
            if not isinstance(ev, dict):
                continue
            self._handle(ev)
            new.append(ev)
        return new

    def _handle(self, ev: dict) -> None:
        self.events.append(ev)
        kind = ev.get("event")
        if kind == "start":
            self.total = int(ev.get("total", 0))
        elif kind == "frame":
            self.index = int(ev.get("index", self.index + 1))
            self.total = int(ev.get("total", self.total))
            self.frame_outputs[int(ev["frame"])] = [int(o) for o in ev.get("outputs", [])]
        elif kind == "done":
            self.done = ev
        elif kind == "error":
            self.error = str(ev.get("message") or "engine error")

    @property
    def finished(self) -> bool:
        return (
            self.proc is not None
            and self.proc.poll() is not None
            and not any(t.is_alive() for t in self._threads)
            and self._queue.empty()
        )

    @property
    def progress(self) -> float:
        return self.index / self.total if self.total else 0.0

    def wait(self, on_event=None) -> None:
        """Run to the end (background mode), calling ``on_event`` for each event."""
        assert self.proc is not None
        while True:
            finished = self.finished
            for ev in self.poll(timeout=0.0 if finished else 0.2):
                if on_event is not None:
                    on_event(ev)
            if finished:
                break

    def failure(self) -> str | None:
        """None on success, else the engine's one-line message."""
        if self.proc is None or self.proc.returncode is None:
            return None
        if self.proc.returncode == 0 and self.done is not None:
            return None
        if self.error:
            return self.error
        for line in reversed(self.stderr_lines):
            text = line.strip()
            if text:
                for lead in ("unshutter: error: ", "unshutter: "):
                    if text.startswith(lead):
                        text = text[len(lead) :]
                        break
                return text
        return f"the engine exited with code {self.proc.returncode}"

    @property
    def warnings(self) -> list[str]:
        """The engine's ``unshutter: warning:`` lines so far, without the prefix (an override range that misses
        the clip, a still without motion): the run succeeded, but the artist should know."""
        lead = "unshutter: warning: "
        return [line.strip()[len(lead) :] for line in self.stderr_lines if line.strip().startswith(lead)]

    def cancel(self) -> list[str]:
        """Kill the engine and delete what this run added to the output folder. Returns the removed names."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if hasattr(os, "killpg"):
                    os.killpg(self.proc.pid, signal.SIGKILL)  # the engine and anything it started
                else:
                    self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        for t in self._threads:
            t.join(timeout=5)
        self.poll()
        _remove_dead_claims(self.output_folder)  # bookkeeping, not the artist's files: not counted
        removed = []
        with contextlib.suppress(FileNotFoundError):
            for name in os.listdir(self.output_folder):
                if (name in self._before and TMP_MARK not in name) or name == CLAIM_DIR:
                    continue
                with contextlib.suppress(FileNotFoundError, IsADirectoryError, PermissionError):
                    os.remove(os.path.join(self.output_folder, name))
                    removed.append(name)
        with contextlib.suppress(OSError):
            if not os.listdir(self.output_folder):
                os.rmdir(self.output_folder)
        return sorted(removed)


def _remove_dead_claims(folder: str) -> None:
    """Remove the claims of killed engines (nobody holds their lock; see ``unshutter.io.claim``), and the
    claim folder when it is empty: a killed engine cannot withdraw its own."""
    try:
        import fcntl
    except ImportError:  # Windows: the next engine run removes them
        return
    cdir = os.path.join(folder, CLAIM_DIR)
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for name in os.listdir(cdir):
            with contextlib.suppress(OSError):
                fd = os.open(os.path.join(cdir, name), os.O_RDWR)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # OSError: a live run holds it
                    os.remove(os.path.join(cdir, name))
                finally:
                    os.close(fd)
    with contextlib.suppress(OSError):
        os.rmdir(cdir)


def output_files(output_spec: str, frame_outputs: dict[int, list[int]]) -> list[str]:
    """Absolute output file names in time order, from an ``out/shot.####.png`` spec and the frame events."""
    folder, name = os.path.split(output_spec)
    m = re.match(r"^(.*?)(#+)(\.[^.]+)$", name)
    if not m:
        raise EngineError(f"{output_spec}: not a #### output pattern")
    prefix, pad, suffix = m.group(1), len(m.group(2)), m.group(3)
    files = []
    for f in sorted(frame_outputs):
        for o in frame_outputs[f]:
            files.append(os.path.join(folder, f"{prefix}{o:0{pad}d}{suffix}"))
    return files
