"""Helpers for the farm tests: tiny blurred clips, batch specs, byte-for-byte output comparison."""

from __future__ import annotations

import filecmp
import sys
from pathlib import Path

import numpy as np
import yaml

from unshutter import kernels
from unshutter.sample import render_clip, write_exr_sequence

VENV_BIN = Path(sys.executable).parent
UNSHUTTER = str(VENV_BIN / "unshutter")
OPENJD = str(VENV_BIN / "openjd")

# the two shots of the test spec: 64x48 px, 6 frames from 1001
SHOTS = {
    "pan": {"factor": 3, "speed": 4.0, "seed": 1},
    "tilt-b": {"factor": 2, "speed": 5.5, "seed": 2},
}


def _photo(seed: int, h: int = 120, w: int = 200) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.full((h, w, 3), 0.2, np.float32)
    for _ in range(30):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(4, 18)
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.uniform(0.05, 1.0, 3)
    img += 0.1 * (np.sin(xx / 3.0) * np.cos(yy / 4.0))[..., None]
    return kernels.srgb_decode(np.clip(img, 0.0, 1.0).astype(np.float32))


def make_clip(folder: Path, seed: int, speed: float, n: int = 6) -> str:
    frames = render_clip(_photo(seed), n, 64, 48, speed=speed, curve=0.5, samples=8, gain=2.0)
    return write_exr_sequence(folder, "plate", frames, 1001)


def one_shot_spec(folder: Path, **keys: object) -> Path:
    """``folder/reel.yaml``: one shot "car" (factor 4, relative input and output) with ``keys`` added."""
    p = folder / "reel.yaml"
    shot = {"name": "car", "input": "in/a.####.exr", "output": "out/a.####.exr", "factor": 4, **keys}
    p.write_text(yaml.safe_dump({"shots": [shot]}))
    return p


def write_spec(
    path: Path, clips: dict[str, str], out_root: Path, model: str, chunks: dict[str, int] | None = None, **extra: object
) -> Path:
    """A two-shot batch spec rendering into ``out_root/<shot>/``."""
    shots = []
    for name, s in SHOTS.items():
        shots.append(
            {
                "name": name,
                "input": clips[name],
                "output": str(out_root / name / f"{name}.####.exr"),
                "factor": s["factor"],
                "chunk": (chunks or {}).get(name, 2),
            }
        )
    doc = {"name": "farmtest", "model": model, "shots": shots, **extra}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def images(folder: Path) -> list[str]:
    """Output image names (not the hidden temporaries of a killed run)."""
    return sorted(p.name for p in folder.glob("*.exr") if not p.name.startswith("."))


def assert_same_images(got: Path, want: Path) -> None:
    """Same EXR file names and identical bytes; no temporaries left."""
    names = images(want)
    assert images(got) == names
    _, mismatch, errors = filecmp.cmpfiles(got, want, names, shallow=False)
    assert not mismatch and not errors, f"differ: {mismatch[:5]} missing: {errors[:5]}"
    assert not [p.name for p in got.iterdir() if ".unshutter-tmp" in p.name]
