"""Build Unshutter's native parts: the pybind11 kernels from native/ (``unshutter._native``)
and the OpenFX bundle from ofx_bridge/. Everything declarative is in pyproject.toml."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup

try:
    from pybind11.setup_helpers import Pybind11Extension, build_ext
except ImportError:  # pragma: no cover - pybind11 is a build requirement
    sys.exit("setup.py: pybind11 is required to build unshutter._native (pip install pybind11)")

ROOT = Path(__file__).resolve().parent
NATIVE_SOURCES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "native").glob("*.cpp"))

compile_args = ["-O3", "-fopenmp", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math"]
link_args = ["-fopenmp"]
if os.environ.get("UNSHUTTER_NATIVE_DEBUG"):
    compile_args = ["-O0", "-g", "-fopenmp"]

ext_modules = [
    Pybind11Extension(
        "unshutter._native",
        NATIVE_SOURCES,
        include_dirs=["native"],
        cxx_std=17,
        extra_compile_args=compile_args,
        extra_link_args=link_args,
    )
]


OFX_BUNDLE = ROOT / "build" / "ofx" / "Unshutter.ofx.bundle"
# The worker path a build records (ofx_bridge/Makefile) means nothing on the machine a wheel goes to:
# there the plugin finds `unshutter` through UNSHUTTER_EXECUTABLE or PATH, or `unshutter ofx --install`
# records it.
OFX_BUILD_ONLY = ("unshutter-executable.txt",)


class build_ext_and_ofx(build_ext):
    """Also build the OpenFX bundle (``make -C ofx_bridge bundle``) when make and a C++
    compiler are present, and put it in the package (``unshutter/ofx/``) when building a wheel;
    a failure only warns (``make ofx`` builds it later)."""

    def run(self) -> None:
        super().run()
        if os.environ.get("UNSHUTTER_SKIP_OFX") or not (
            shutil.which("make") and shutil.which(os.environ.get("CXX", "g++"))
        ):
            return
        try:
            subprocess.run(["make", "-s", "-C", str(ROOT / "ofx_bridge"), "bundle"], check=True, timeout=600)
        except (OSError, subprocess.SubprocessError) as exc:
            print(f"setup.py: OpenFX bundle not built ({exc}); run `make ofx` later", file=sys.stderr)
            return
        if not self.inplace:
            dest = Path(self.build_lib) / "unshutter" / "ofx" / OFX_BUNDLE.name
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(OFX_BUNDLE, dest, ignore=shutil.ignore_patterns(*OFX_BUILD_ONLY))


# Metadata, requirements, packages and package data: pyproject.toml.
setup(
    ext_modules=ext_modules,
    cmdclass={"build_ext": build_ext_and_ofx},
)
