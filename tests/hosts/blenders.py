"""The real Blenders the add-on's tests run in, headless.

Debian's ``blender`` (3.4) runs every add-on test; Blender 4.2 LTS, 4.5 LTS
and 5.0 run as PyPI's ``bpy`` module, each installed in its own venv by
``make blender-bpy`` (``$UNSHUTTER_BPY_VENVS/<version>``, default
``~/.cache/unshutter/bpy/<version>``), and run the tests that cover the
add-on's behaviour once per version (see ``test_blender_versions.py``).
A version that is not installed is skipped, not failed, so a developer
without the 3 GB of wheels still runs the rest.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.limits import HANG

BPY_VERSIONS = ("4.2.0", "4.5.4", "5.0.1")
"""The PyPI ``bpy`` releases tested: the 4.2 and 4.5 LTS lines and 5.0 (Makefile: BPY_VERSIONS)."""


def bpy_venvs() -> Path:
    return Path(os.environ.get("UNSHUTTER_BPY_VENVS") or Path.home() / ".cache" / "unshutter" / "bpy")


@dataclass(frozen=True)
class Blender:
    """One Blender: the ``blender`` binary, or a Python whose ``bpy`` module is Blender."""

    name: str
    executable: str
    module: bool  # True: ``python script.py`` with ``import bpy``; False: ``blender -b --python script.py``
    version: tuple[int, ...]

    def command(self, script: Path, *args: str) -> list[str]:
        if self.module:
            return [self.executable, str(script), "--", *args]
        return [
            self.executable,
            "-b",
            "--factory-startup",
            "--python-exit-code",
            "1",
            "--python",
            str(script),
            "--",
            *args,
        ]

    def env(self, scripts: Path, home: Path) -> dict[str, str]:
        """The environment of one run: the add-on from ``scripts``, preferences and extensions under ``home``
        (nothing read from or written to the user's own Blender folders)."""
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("UNSHUTTER_EXECUTABLE", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
        }
        env["BLENDER_USER_SCRIPTS"] = str(scripts)
        env["BLENDER_USER_CONFIG"] = str(home / "config")
        env["BLENDER_USER_EXTENSIONS"] = str(home / "extensions")
        return env

    @property
    def has_extensions(self) -> bool:
        """Blender 4.2+ installs add-ons as extensions (``blender_manifest.toml``)."""
        return self.version >= (4, 2)


def _binary_version(exe: str) -> tuple[int, ...]:
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=HANG).stdout
    m = re.search(r"Blender (\d+)\.(\d+)(?:\.(\d+))?", out)
    return tuple(int(g) for g in m.groups() if g is not None) if m else (0,)


@functools.lru_cache(maxsize=1)
def debian() -> Blender | None:
    """Debian's ``blender`` on PATH (``make test-deps`` installs it), or None."""
    exe = shutil.which("blender")
    if exe is None:
        return None
    version = _binary_version(exe)
    return Blender(".".join(map(str, version)), exe, False, version)


def bpy_module(version: str) -> Blender | None:
    """The ``bpy`` ``version`` venv, or None when ``make blender-bpy`` has not made it."""
    python = bpy_venvs() / version / "bin" / "python"
    if not (python.is_file() and (bpy_venvs() / version / ".installed").is_file()):
        return None
    return Blender(f"bpy-{version}", str(python), True, tuple(int(x) for x in version.split(".")))
