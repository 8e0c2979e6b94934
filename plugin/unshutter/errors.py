"""One root exception for everything a user can get wrong.

Hosts (CLI, Blender, OFX worker, farm) catch :class:`UnshutterError` and show
its one-line message; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class UnshutterError(Exception):
    """Base class: the message is one line that names the file, frame or field."""

    exit_code = 1

    def __str__(self) -> str:
        # a name or value quoted from the user's input may hold line breaks: the message stays one line
        return super().__str__().replace("\r", "\\r").replace("\n", "\\n")


class InputError(UnshutterError):
    """A clip, frame or image that cannot be read or is not usable."""

    exit_code = 3


class ParameterError(UnshutterError, ValueError):
    """An impossible parameter (factor, shutter, tile size, frame range...)."""

    exit_code = 2


class OverrideError(UnshutterError):
    """A per-shot override file that does not validate."""

    exit_code = 4


class ModelError(UnshutterError):
    """The decomposer model is missing, corrupt or has the wrong interface."""

    exit_code = 5


class OutputError(UnshutterError):
    """An output cannot be written (permissions, disk, format)."""

    exit_code = 6
