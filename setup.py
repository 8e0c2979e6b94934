"""Build and install Unshutter: the ``unshutter`` package from plugin/, its
pybind11 kernels from native/, and the shipped models from models/."""
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


class build_ext_and_ofx(build_ext):
    """Also build the OpenFX bundle (``make -C ofx_bridge bundle``) when make and a C++
    compiler are present; a failure only warns (``make ofx`` builds it later)."""

    def run(self) -> None:
        super().run()
        if os.environ.get("UNSHUTTER_SKIP_OFX") or not (shutil.which("make") and shutil.which(os.environ.get("CXX", "g++"))):
            return
        try:
            subprocess.run(["make", "-s", "-C", str(ROOT / "ofx_bridge"), "bundle"], check=True, timeout=600)
        except (OSError, subprocess.SubprocessError) as exc:
            print(f"setup.py: OpenFX bundle not built ({exc}); run `make ofx` later", file=sys.stderr)


TORCH = "torch==2.13.0"  # the CPU wheel on this project's machines; others pull GBs

setup(
    name="unshutter",
    version="0.1.0",
    description="Decompose motion-blurred footage into sharp slow motion (editor/compositor plugin)",
    long_description=(ROOT / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    package_dir={"": "plugin", "unshutter.models": "models"},
    packages=[
        "unshutter",
        "unshutter.cli",
        "unshutter.bench",
        "unshutter.decomposer",
        "unshutter.farm",
        "unshutter.guidance",
        "unshutter.hosts",
        "unshutter.hosts.blender",
        "unshutter.hosts.blender.unshutter_blender",
        "unshutter.io",
        "unshutter.kernels",
        "unshutter.models",
        "unshutter.timeline",
        "unshutter.train",
    ],
    package_data={
        "unshutter": ["py.typed", "schemas/*.json", "data/sample/*.exr"],
        "unshutter.models": ["*.onnx", "*.md", "*.yaml", "*.json"],
    },
    include_package_data=False,
    ext_modules=ext_modules,
    cmdclass={"build_ext": build_ext_and_ofx},
    install_requires=[
        "numpy>=1.26",
        "openimageio>=3.0",
        "opencolorio>=2.3",
        "opencv-python-headless>=4.8",
        "av>=12",
        "fileseq>=2.0",
        "opentimelineio>=0.17",
        "otio-cmx3600-adapter>=1.0",  # EDL input for `unshutter timeline`
        "pyyaml>=6",
        "jsonschema>=4",
        "tqdm>=4.60",
    ],
    extras_require={
        "cpu": ["onnxruntime>=1.17"],
        "gpu": ["onnxruntime-gpu>=1.17", "cupy-cuda12x>=13"],
        "train": [TORCH, "onnx>=1.15"],
        "farm": ["openjd-cli>=0.8", "dask[distributed]>=2024.1"],
        "test": ["pytest>=8", TORCH, "onnx>=1.15", "openjd-cli>=0.8", "dask[distributed]>=2024.1", "scikit-video>=1.1"],
    },
    entry_points={"console_scripts": ["unshutter=unshutter.cli.main:main"]},
    zip_safe=False,
)
