"""Find the shipped model files, installed or in a source checkout."""

from __future__ import annotations

import importlib.util
from pathlib import Path

DEFAULT_MODEL = "decomposer.onnx"
"""The float32 model: the reference, and the one GPUs run."""
INT8_MODEL = "decomposer_int8.onnx"
"""The same weights quantised to int8 (``python -m unshutter.train.quantize``): what CPUs run by default."""


def models_dir() -> Path:
    """The folder holding the shipped models (``unshutter.models`` or ``models/``)."""
    spec = importlib.util.find_spec("unshutter.models")
    if spec is not None and spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0])
    # editable install / source checkout: <repo>/plugin/unshutter -> <repo>/models
    return Path(__file__).resolve().parents[3] / "models"


def default_model_path() -> Path:
    return models_dir() / DEFAULT_MODEL


def int8_model_path() -> Path:
    return models_dir() / INT8_MODEL


def shipped_model_path(cpu: bool = True) -> Path:
    """The model a run uses when none is given: on a CPU the int8 model when it is shipped
    (about half the time, same quality within 0.05 dB: docs/speed.md), else the float32 one."""
    if cpu and int8_model_path().is_file():
        return int8_model_path()
    return default_model_path()
