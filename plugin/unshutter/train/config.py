"""Load and check a training config (YAML)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from unshutter.decomposer.locate import models_dir

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_CONFIG = models_dir() / "decomposer.yaml"


def load_config(path: str | Path | None = None) -> dict[str, Any]:
    """Read a YAML config; relative paths inside it are resolved against the repo root."""
    p = Path(path) if path is not None else DEFAULT_CONFIG
    try:
        cfg = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"config {p}: {exc.strerror}") from None
    for key in ("network", "data", "train"):
        if not isinstance(cfg.get(key), dict):
            raise ValueError(f"config {p}: missing section {key!r}")
    cfg["_path"] = str(p)
    return cfg


def repo_path(p: str | Path) -> Path:
    """A config path: absolute as given, else relative to the repo root."""
    q = Path(p)
    return q if q.is_absolute() else REPO_ROOT / q
