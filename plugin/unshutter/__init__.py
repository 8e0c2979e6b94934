"""Unshutter: decompose motion-blurred frames into sharp slow motion."""

from __future__ import annotations

from unshutter.errors import (
    InputError,
    ModelError,
    OutputError,
    OverrideError,
    ParameterError,
    UnshutterError,
)
from unshutter.threads import quiet_opencv_pool

quiet_opencv_pool()  # before any module of the package imports cv2 (unshutter.threads.OPENCV_WAIT)

__version__ = "0.1.0"

__all__ = [
    "InputError",
    "ModelError",
    "OutputError",
    "OverrideError",
    "ParameterError",
    "UnshutterError",
    "__version__",
]
