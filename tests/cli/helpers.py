"""Helpers for the CLI tests."""

from __future__ import annotations

import subprocess
import sys


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """``unshutter ARGS`` in a fresh interpreter of this environment, its output captured."""
    return subprocess.run([sys.executable, "-m", "unshutter", *args], capture_output=True, text=True, timeout=300)
