"""The training loop runs, checkpoints and resumes (tiny config)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.limits import HANG
from unshutter.train.config import load_config


def test_config_starts_from_a_checkpoint_git_keeps():
    from unshutter.train.loop import init_checkpoint

    init = load_config()["train"].get("init_from")
    assert init is None or init_checkpoint(init).is_file()


def test_missing_init_checkpoint_is_named_before_anything_is_written(tmp_path: Path):
    from unshutter.train.loop import train

    cfg = load_config()
    cfg["train"].update(
        init_from=str(tmp_path / "stage2.pt"), out=str(tmp_path / "run"), state=str(tmp_path / "last.pt")
    )
    with pytest.raises(ValueError, match=r"init_from .*stage2\.pt: no such checkpoint"):
        train(cfg, max_steps=1)
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_train_saves_and_resumes(tmp_path: Path):
    from unshutter.train.loop import train

    cfg = load_config()
    cfg["data"].update(crop=32, max_motion=12, layers_max=1)
    cfg["train"].update(
        batch=2,
        workers=0,
        val_samples=2,
        val_every=2,
        log_every=1,
        out=str(tmp_path / "run"),
        state=str(tmp_path / "last.pt"),
    )
    assert train(cfg, max_steps=2) == 0
    st = torch.load(tmp_path / "last.pt", weights_only=False)
    assert st["step"] == 2 and set(st) >= {"model", "ema", "opt", "best"}
    assert train(cfg, max_steps=3) == 0
    assert torch.load(tmp_path / "last.pt", weights_only=False)["step"] == 3
    assert (tmp_path / "run" / "train.log").read_text().count("resumed from") == 1
    assert (tmp_path / "run" / "best.pt").exists()


@pytest.mark.slow
def test_sigterm_to_the_process_group_saves(tmp_path: Path):
    """A farm or ``kill -TERM -PGID`` signals the data worker too; the run must still save and exit 0."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import yaml

    cfg = load_config()
    cfg.pop("_path")
    cfg["train"].pop("init_from", None)
    cfg["data"].update(crop=32, max_motion=12, layers_max=1)
    cfg["train"].update(
        batch=2,
        workers=1,
        val_samples=2,
        val_every=1000,
        log_every=1,
        total_steps=100000,
        out=str(tmp_path / "run"),
        state=str(tmp_path / "last.pt"),
    )
    conf = tmp_path / "tiny.yaml"
    conf.write_text(yaml.safe_dump(cfg))
    proc = subprocess.Popen(
        [sys.executable, "-m", "unshutter.train", "--config", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    log = tmp_path / "run" / "train.log"
    deadline = time.time() + HANG
    while time.time() < deadline and not (log.exists() and " step 2 loss" in log.read_text()):
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=HANG)
    assert proc.returncode == 0, err.decode()[-2000:]
    text = log.read_text()
    assert "signal 15: stopping at step" in text and "(end)" in text
    assert torch.load(tmp_path / "last.pt", weights_only=False)["step"] >= 2
