"""The wheel: `python -m build` puts the native layer, the OpenFX bundle, the model and the sample
clip inside, and the installed wheel runs `unshutter demo` without the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def build_wheel(out: Path) -> Path:
    """``python -m build --wheel`` of this tree into ``out``; the wheel's path."""
    res = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--wheel", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    (whl,) = out.glob("unshutter-*.whl")
    return whl


def install_wheel(whl: Path, site: Path) -> None:
    """The wheel's files alone in ``site`` (its requirements come from this venv)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(site), str(whl)],
        check=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("dist"))


@pytest.mark.slow
def test_wheel_holds_what_runs_without_the_source_tree(wheel: Path):
    names = zipfile.ZipFile(wheel).namelist()
    bundle = "unshutter/ofx/Unshutter.ofx.bundle/Contents/"
    for want in (
        "unshutter/models/decomposer.onnx",
        "unshutter/models/decomposer_int8.onnx",
        "unshutter/models/decomposer.yaml",
        "unshutter/py.typed",
        "unshutter/schemas/overrides.schema.json",
        bundle + "Info.plist",
        bundle + "Linux-x86-64/Unshutter.ofx",
    ):
        assert want in names, f"{wheel.name} lacks {want}"
    assert any(n.startswith("unshutter/_native.") and n.endswith(".so") for n in names)
    assert sum(n.startswith("unshutter/data/sample/") and n.endswith(".exr") for n in names) == 12
    # the worker path recorded at build time is this machine's; checkpoints and tests are not shipped
    assert not [n for n in names if n.endswith(("unshutter-executable.txt", ".pt")) or n.startswith("tests/")]


@pytest.mark.slow
def test_installed_wheel_runs_the_demo(wheel: Path, tmp_path: Path):
    site = tmp_path / "site"
    install_wheel(wheel, site)
    env = {**os.environ, "PYTHONPATH": str(site)}  # the wheel's files first; its requirements from this venv
    code = (
        "import sys, unshutter, unshutter.kernels as k; print(unshutter.__file__, k.BACKEND);"
        "from unshutter.cli.main import main; sys.exit(main(['demo', '-q', '-o', 'out']))"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1200
    )
    assert res.returncode == 0, res.stderr[-3000:]
    where, backend = res.stdout.splitlines()[0].split()
    assert Path(where).is_relative_to(site) and backend == "native", res.stdout
    assert len(list((tmp_path / "out").glob("sunset_pan.*.exr"))) == 84


def test_every_package_folder_is_declared_in_pyproject():
    """A new subpackage missing from pyproject.toml's list would be left out of the wheel (found only by the slow demo test)."""
    import tomllib

    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    src = ROOT / "plugin"
    found = {
        ".".join(p.parent.relative_to(src).parts)
        for p in (src / "unshutter").rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert found - declared == set(), f"add to [tool.setuptools] packages: {sorted(found - declared)}"
