"""Find the shipped model files, installed or in a source checkout."""
from __future__ import annotations

import importlib.util
from pathlib import Path

DEFAULT_MODEL = "decomposer.onnx"


def models_dir() -> Path:
    """The folder holding the shipped models (``unshutter.models`` or ``models/``)."""
    spec = importlib.util.find_spec("unshutter.models")
    if spec is not None and spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0])
    # editable install / source checkout: <repo>/plugin/unshutter -> <repo>/models
    return Path(__file__).resolve().parents[3] / "models"


def default_model_path() -> Path:
    return models_dir() / DEFAULT_MODEL
