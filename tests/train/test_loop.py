"""The training loop runs, checkpoints and resumes (tiny config)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from unshutter.train.config import load_config


@pytest.mark.slow
def test_train_saves_and_resumes(tmp_path: Path):
    from unshutter.train.loop import train

    cfg = load_config()
    cfg["data"].update(crop=32, max_motion=12, layers_max=1)
    cfg["train"].update(batch=2, workers=0, val_samples=2, val_every=2, log_every=1,
                        out=str(tmp_path / "run"), state=str(tmp_path / "last.pt"))
    assert train(cfg, max_steps=2) == 0
    st = torch.load(tmp_path / "last.pt", weights_only=False)
    assert st["step"] == 2 and set(st) >= {"model", "ema", "opt", "best"}
    assert train(cfg, max_steps=3) == 0
    assert torch.load(tmp_path / "last.pt", weights_only=False)["step"] == 3
    assert (tmp_path / "run" / "train.log").read_text().count("resumed from") == 1
    assert (tmp_path / "run" / "best.pt").exists()
