"""Farm fixtures: two tiny blurred shots, a frozen copy of the model, reference whole-clip renders.

The model is copied once per test session: models/decomposer.onnx is being
retrained while tests run, and byte-for-byte comparisons need one model.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from tests.farm.helpers import SHOTS, make_clip, write_spec
from unshutter.node import NodeParams
from unshutter.pipeline import RunConfig, run


@pytest.fixture(scope="session")
def farm_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A private copy of the shipped decomposer that loads (retried if caught mid-rewrite)."""
    from unshutter.decomposer.locate import default_model_path
    from unshutter.decomposer.runtime import Decomposer
    from unshutter.errors import ModelError

    dst = tmp_path_factory.mktemp("model") / "decomposer.onnx"
    for attempt in range(10):
        shutil.copyfile(default_model_path(), dst)
        try:
            Decomposer(dst, device="cpu")
            return str(dst)
        except ModelError:
            time.sleep(1.0 + attempt)
    pytest.fail("models/decomposer.onnx did not load")


@pytest.fixture(scope="session")
def farm_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("plates")
    return {name: make_clip(root / name, s["seed"], s["speed"]) for name, s in SHOTS.items()}


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory, farm_clips: dict[str, str], farm_model: str) -> dict[str, Path]:
    """Each shot rendered by one whole-clip run (what ``unshutter run`` does), by shot name -> output folder."""
    root = tmp_path_factory.mktemp("reference")
    out = {}
    for name, s in SHOTS.items():
        folder = root / name
        run(
            RunConfig(
                farm_clips[name], str(folder / f"{name}.####.exr"), NodeParams(factor=s["factor"]), model=farm_model
            )
        )
        out[name] = folder
    return out


@pytest.fixture()
def spec_path(tmp_path: Path, farm_clips: dict[str, str], farm_model: str) -> Path:
    return write_spec(tmp_path / "reel.yaml", farm_clips, tmp_path / "out", farm_model)
