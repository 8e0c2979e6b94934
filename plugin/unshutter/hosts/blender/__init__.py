"""Blender host: the ``unshutter_blender`` add-on shipped inside this package, and its installers.

The add-on itself (``unshutter_blender/``) runs in Blender's interpreter and
never imports ``unshutter``; this module runs in ours and copies or zips it,
recording which ``unshutter`` executable installed it (``engine.json``) so
the add-on finds the engine without configuration.

One package serves every Blender: a zip whose single folder holds the add-on
and a ``blender_manifest.toml``. Blender 4.2+ installs it as an extension
(Get Extensions > Install from Disk); Blender 3.x and 4.0-4.1 install the
same zip as a legacy add-on (Add-ons > Install), ignoring the manifest.
``install`` copies the legacy add-on into a scripts folder, for 3.x.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import zipfile
from pathlib import Path

from unshutter import __version__
from unshutter.errors import OutputError

ADDON = "unshutter_blender"
SOURCE = Path(__file__).resolve().parent / ADDON
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "engine.json")


def engine_executable() -> str | None:
    """The ``unshutter`` command of the running interpreter's environment, if it exists."""
    bindir = Path(sys.executable).parent
    for name in ("unshutter", "unshutter.exe"):
        if (bindir / name).is_file():
            return str(bindir / name)
    found = shutil.which("unshutter")
    return str(Path(found).resolve()) if found else None


def engine_record() -> str:
    return json.dumps({"executable": engine_executable()}, indent=2) + "\n"


def user_scripts_dir() -> Path:
    """Blender's user scripts folder: ``BLENDER_USER_SCRIPTS``, else the newest ~/.config/blender/X.Y/scripts."""
    env = os.environ.get("BLENDER_USER_SCRIPTS")
    if env:
        return Path(env).expanduser()
    config = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "blender"
    versions = sorted(
        (p for p in config.glob("[0-9]*.[0-9]*") if p.is_dir()),
        key=lambda p: tuple(int(x) for x in p.name.split(".") if x.isdigit()),
    )
    if versions:
        return versions[-1] / "scripts"
    raise OutputError(
        "no Blender user scripts folder found: give --scripts-dir or set BLENDER_USER_SCRIPTS "
        "(or start Blender once so ~/.config/blender/<version> exists)"
    )


def install(scripts_dir: Path | None = None) -> Path:
    """Copy the add-on to ``<scripts>/addons/unshutter_blender``, replacing an older copy. Returns it."""
    scripts = Path(scripts_dir).expanduser() if scripts_dir else user_scripts_dir()
    dest = scripts / "addons" / ADDON
    try:
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(SOURCE, dest, ignore=_IGNORE)
        (dest / "engine.json").write_text(engine_record(), encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"{dest}: cannot install the add-on ({exc.strerror or exc})") from None
    return dest


MANIFEST = "blender_manifest.toml"
EXTENSION_MIN = "4.2.0"  # the first Blender with extensions


def manifest() -> str:
    """The extension manifest of this version (Blender's schema 1.0.0); Blender before 4.2 ignores it.

    The licence is the one Blender requires of code that uses its Python API.
    """
    return f"""schema_version = "1.0.0"

id = "{ADDON}"
version = "{__version__}"
name = "Unshutter"
tagline = "Turn a motion-blurred strip into sharp slow motion"
maintainer = "Unshutter"
type = "add-on"
tags = ["Sequencer"]
blender_version_min = "{EXTENSION_MIN}"
license = ["SPDX:GPL-3.0-or-later"]

[permissions]
files = "Reads the strip's footage and writes the slow-motion frames to disk"
"""


def make_zip(path: Path) -> Path:
    """The add-on package: Install from Disk (Blender 4.2+, an extension) or Add-ons > Install (3.x)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for f in sorted(SOURCE.rglob("*")):
                rel = f.relative_to(SOURCE)
                if f.is_file() and "__pycache__" not in rel.parts and f.suffix != ".pyc" and f.name != "engine.json":
                    zf.write(f, f"{ADDON}/{rel.as_posix()}")
            zf.writestr(f"{ADDON}/engine.json", engine_record())
            zf.writestr(f"{ADDON}/{MANIFEST}", manifest())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write the zip ({exc.strerror or exc})") from None
    return path
