"""The photo pool: Debian wallpaper photos, split into training and held-out sets,
preprocessed once into a cache of 8-bit sRGB arrays (``data/photos``, gitignored).

A photo's cache holds two levels: short side ``cache_height`` and 2/3 of it,
so crops drawn at smaller scales do not alias.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOTS = ("/usr/share/backgrounds", "/usr/share/wallpapers")
EXTS = (".jpg", ".jpeg", ".png")


def _wallpaper_key(p: Path) -> str:
    s = str(p)
    return s.split("/contents/")[0] if "/contents/images/" in s else s


def discover(roots: tuple[str, ...] = ROOTS) -> list[Path]:
    """Every wallpaper image, one (the largest) per Plasma wallpaper package, sorted."""
    best: dict[str, Path] = {}
    for root in roots:
        for p in sorted(Path(root).rglob("*")):
            if p.suffix.lower() not in EXTS or "screenshot" in p.name.lower() or not p.is_file():
                continue
            key = _wallpaper_key(p)
            if key not in best or p.stat().st_size > best[key].stat().st_size:
                best[key] = p
    return sorted(best.values(), key=str)


def _matches(p: Path, patterns: list[str]) -> bool:
    s = str(p)
    return any(pat in s or s.startswith(pat) for pat in patterns)


def split(data_cfg: dict) -> tuple[list[Path], list[Path]]:
    """(training photos, held-out photos) from the config's ``holdout`` and ``exclude``."""
    exclude = list(data_cfg.get("exclude", []))
    holdout = list(data_cfg.get("holdout", []))
    train: list[Path] = []
    held: list[Path] = []
    for p in discover():
        if _matches(p, exclude):
            continue
        (held if _matches(p, holdout) else train).append(p)
    return train, held


@dataclass
class Photo:
    """A cached photo: 8-bit sRGB levels, largest first. Shape: levels[i] [H, W, 3] uint8 (RGB)."""

    name: str
    levels: list[np.ndarray]
    heights: list[int]


def load_photo(path: Path, cache_dir: Path, height: int = 720) -> Photo:
    """Read ``path`` via the cache (creating it on first use)."""
    key = hashlib.sha1(f"{path}:{height}".encode()).hexdigest()[:12]
    f = cache_dir / f"{path.stem}_{key}.npz"
    if f.exists():
        z = np.load(f)
        levels = [z["l0"], z["l1"]]
    else:
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise OSError(f"{path}: cannot read image")
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        levels = []
        for hh in (height, (height * 2) // 3):
            s = hh / min(img.shape[:2])
            size = (max(1, round(img.shape[1] * s)), max(1, round(img.shape[0] * s)))
            levels.append(cv2.resize(img, size, interpolation=cv2.INTER_AREA))
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = f.with_name(f.stem + ".tmp.npz")
        np.savez(tmp, l0=levels[0], l1=levels[1])
        tmp.replace(f)
    return Photo(path.name, levels, [min(l.shape[:2]) for l in levels])


def load_pool(paths: list[Path], cache_dir: Path, height: int = 720) -> list[Photo]:
    return [load_photo(p, cache_dir, height) for p in paths]


def load_split(data_cfg: dict, held_out: bool) -> list[Photo]:
    """The training (or, with ``held_out``, the held-out) photos of the config, loaded from its cache."""
    from unshutter.train.config import repo_path

    train, held = split(data_cfg)
    cache = repo_path(data_cfg.get("cache", "data/photos"))
    return load_pool(held if held_out else train, cache, int(data_cfg.get("cache_height", 720)))
