"""A per-worker-session render server: the model is loaded once, every task of the session reuses it.

The Open Job Description job environment starts it in ``onEnter``
(``unshutter farm session start``) and stops it in ``onExit``; each task
(``unshutter farm chunk ... --session STATE``) sends its RunConfig to it and
relays its progress lines. The server listens on 127.0.0.1 with a random
authentication key; address, key and pid are in the state file in the
session's working directory (mode 0600). It serves one chunk at a time; a task
whose process is killed (farm cancel) aborts its chunk at the next frame,
because the progress message cannot be delivered.

A task that finds no server (no state file, connection refused, server died
mid-chunk) renders in its own process instead, so a job never depends on the
server to succeed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import traceback
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client, Listener
from pathlib import Path
from typing import Any, Callable

from unshutter import threads as process_threads
from unshutter.errors import UnshutterError
from unshutter.farm import task
from unshutter.farm.pathmap import Locator
from unshutter.io import atomic
from unshutter.pipeline import RunConfig

log = logging.getLogger("unshutter.farm.session")

Emit = Callable[[dict[str, Any]], None]


class SessionUnavailable(Exception):
    """No usable server for this state file (the caller renders in-process)."""


class _ClientGone(Exception):
    """The task process went away: stop rendering its chunk."""


# ------------------------------------------------------------------ server
def serve(state: Path, model: str | None = None, device: str = "auto", idle_timeout: float = 3600.0) -> int:
    """Load the model, publish the state file, serve chunks until ``stop`` (or idle for ``idle_timeout`` s)."""
    t0 = time.monotonic()
    decomposer = task.CACHE.get(model, device)  # the one model load of this session; ModelError -> exit 5
    load_seconds = round(time.monotonic() - t0, 3)
    key = secrets.token_bytes(32)
    listener = Listener(("127.0.0.1", 0), authkey=key)
    host, port = listener.address
    info = decomposer.info
    doc = {
        "address": [host, port],
        "authkey": key.hex(),
        "pid": os.getpid(),
        "model": info.path,
        "model_sha256": info.sha256,
        "provider": info.provider,
        "load_seconds": load_seconds,
        "threads": process_threads.in_force(decomposer),
    }
    state.parent.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(state) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f)
    log.warning(
        "session server pid %d on %s:%d, model %s (%s) loaded in %.2f s",
        os.getpid(),
        host,
        port,
        info.model_id,
        info.provider,
        load_seconds,
    )

    last = [time.monotonic()]
    busy = threading.Event()

    def watchdog() -> None:
        while True:
            time.sleep(min(5.0, max(idle_timeout / 4, 0.05)))
            if not busy.is_set() and time.monotonic() - last[0] > idle_timeout:
                log.warning("session server idle for %.0f s: exiting", idle_timeout)
                with contextlib.suppress(OSError):
                    state.unlink()
                os._exit(0)

    threading.Thread(target=watchdog, daemon=True, name="unshutter-session-idle").start()
    served = 0
    try:
        while True:
            try:
                conn = listener.accept()
            except (OSError, EOFError, AuthenticationError) as exc:  # failed authentication, or hung up early
                log.warning("session server: rejected a connection (%s)", exc)
                continue
            busy.set()
            try:
                with conn:
                    msg = conn.recv()
                    op = msg.get("op") if isinstance(msg, dict) else None
                    if op == "stop":
                        conn.send({"event": "stopped", "served": served})
                        return 0
                    if op == "ping":
                        conn.send({"event": "pong", "pid": os.getpid(), "served": served, **doc, "authkey": None})
                    elif op == "run":
                        served += 1
                        _serve_chunk(conn, msg["config"], msg.get("name", ""), msg.get("locate"))
                    else:
                        conn.send({"event": "result", "exit_code": 2, "message": f"unknown request {op!r}"})
            except (OSError, EOFError) as exc:
                log.warning("session server: task connection lost (%s)", exc)
            finally:
                last[0] = time.monotonic()
                busy.clear()
    finally:
        listener.close()
        with contextlib.suppress(OSError):
            state.unlink()


def _serve_chunk(conn: Any, cfg: RunConfig, name: str, locate: Locator | None = None) -> None:
    def emit(event: dict[str, Any]) -> None:
        try:
            conn.send(event)
        except OSError as exc:
            raise _ClientGone(str(exc)) from None

    try:
        res = task.run_config(cfg, emit, name=name, locate=locate)
    except _ClientGone as exc:
        log.warning("session server: task went away, chunk %s aborted (%s)", cfg.frames, exc)
        return
    except Exception as exc:  # reported to the task, which exits with its code; bugs keep their traceback
        err = task.error_dict(exc)
        if not isinstance(exc, UnshutterError):
            log.error("session server: chunk %s failed\n%s", cfg.frames, traceback.format_exc())
        conn.send({"event": "result", **err})
        return
    conn.send({"event": "result", "exit_code": 0, **res.to_dict()})


# ------------------------------------------------------------------ client
def _connect(state: Path) -> Any:
    try:
        doc = json.loads(state.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SessionUnavailable(f"{state}: no session server ({exc})") from None
    try:
        return Client(tuple(doc["address"]), authkey=bytes.fromhex(doc["authkey"]))
    except (OSError, EOFError, KeyError, ValueError) as exc:
        raise SessionUnavailable(f"{state}: session server not reachable ({exc})") from None


def request(
    state: Path, cfg: RunConfig, on_event: Emit, name: str = "", locate: Locator | None = None
) -> dict[str, Any]:
    """Render one chunk on the session server; returns its ``result`` event (with ``exit_code``).

    ``locate`` is :func:`unshutter.farm.task.run_config`'s. Raises
    SessionUnavailable when there is no server or it died before answering.
    """
    conn = _connect(state)
    with conn:
        try:
            conn.send({"op": "run", "config": cfg, "name": name, "locate": locate})
            while True:
                event = conn.recv()
                if event.get("event") == "result":
                    return event
                on_event(event)
        except (OSError, EOFError) as exc:
            raise SessionUnavailable(f"{state}: session server stopped during the chunk ({exc})") from None


def ping(state: Path) -> dict[str, Any]:
    conn = _connect(state)
    with conn:
        conn.send({"op": "ping"})
        return conn.recv()


def start(
    state: Path, model: str | None, device: str, timeout: float = 600.0, idle_timeout: float = 3600.0
) -> dict[str, Any]:
    """Launch the server detached from this process (it outlives the OpenJD onEnter action); wait until ready.

    Returns the state document. Raises the server's error when it exits first.
    """
    with contextlib.suppress(FileNotFoundError):
        state.unlink()
    state.parent.mkdir(parents=True, exist_ok=True)
    log_path = state.with_suffix(".log")
    cmd = [
        sys.executable,
        "-m",
        "unshutter",
        "farm",
        "session",
        "serve",
        "--state",
        str(state),
        "--device",
        device,
        "--idle-timeout",
        str(idle_timeout),
    ]
    if model:
        cmd += ["--model", model]
    with open(log_path, "ab") as logf:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if state.exists():
            return json.loads(state.read_text(encoding="utf-8"))
        code = proc.poll()
        if code is not None:
            tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise _ServerFailed(code, tail[0])
        time.sleep(0.05)
    proc.terminate()
    raise _ServerFailed(1, f"session server not ready after {timeout:.0f} s (log: {log_path})")


class _ServerFailed(UnshutterError):
    """The server exited before it was ready; carries its exit code (5 for a bad model)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"session server failed: {message}")
        self.exit_code = code if code > 0 else 1


def stop(state: Path, timeout: float = 30.0) -> bool:
    """Ask the server to exit (after its current chunk); terminate it if it does not. False when none ran."""
    try:
        doc = json.loads(state.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    pid = int(doc.get("pid", 0))
    try:
        conn = _connect(state)
        with conn:
            conn.send({"op": "stop"})
            conn.recv()
    except (SessionUnavailable, OSError, EOFError):
        pass
    deadline = time.monotonic() + timeout
    while pid and atomic.pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid and atomic.pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    with contextlib.suppress(FileNotFoundError):
        state.unlink()
    return True
