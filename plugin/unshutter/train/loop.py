"""The training loop: data stream, optimiser, EMA, logs, resumable checkpoints.

Checkpoints (``train.state`` in the config, default
``models/train_state/last.pt``) hold the model, its EMA, the optimiser, the
step and the best validation score; a run with the same config resumes from
it. The best EMA weights by validation PSNR also go to
``<out>/best.pt``. Logs: ``<out>/train.log`` (text) and ``<out>/log.jsonl``.
"""

from __future__ import annotations

import copy
import json
import math
import os
import signal
import time
from pathlib import Path

import numpy as np
import torch

from unshutter.train.config import repo_path
from unshutter.train.data import DataSpec, SyntheticStream, make_guidance, render_sample
from unshutter.train.flowunet_arch import build_network
from unshutter.train.grow import load_grown
from unshutter.train.losses import motion_loss, mse_loss, reblur_loss, recon_loss, sharp_loss
from unshutter.train.photos import load_pool, split


class _Stream(torch.utils.data.IterableDataset):
    def __init__(self, stream: SyntheticStream, start_step: int) -> None:
        self.stream = stream
        self.start_step = start_step

    def __iter__(self):
        import cv2

        cv2.setNumThreads(1)
        info = torch.utils.data.get_worker_info()
        wid = info.id if info is not None else 0
        if info is not None:
            torch.set_num_threads(1)
            # A stop (kill -TERM of the process group, Ctrl-C) is the main process's to handle: it
            # finishes the step and saves. A worker that died of it first would crash the loop unsaved.
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        rng = np.random.default_rng([self.stream.seed, wid, self.start_step])
        while True:
            yield self.stream.generate(rng)


def _lr(step: int, cfg: dict) -> float:
    base, lo = float(cfg["lr"]), float(cfg.get("lr_min", 0.0))
    warm, total = int(cfg.get("warmup", 0)), int(cfg["total_steps"])
    if step < warm:
        return base * (step + 1) / warm
    p = min(1.0, (step - warm) / max(1, total - warm))
    return lo + 0.5 * (base - lo) * (1 + math.cos(math.pi * p))


def psnr(mse: float) -> float:
    return 10 * math.log10(1.0 / max(mse, 1e-12))


def make_val_set(photos, spec: DataSpec, n: int, seed: int, mode: str = "neighbors") -> list[dict]:
    """A fixed validation set (neighbour guidance) for picking the best checkpoint.

    It is drawn from the *training* photos with its own seed: the held-out
    photos are kept for ``unshutter bench quality`` only, so model selection
    never sees them.
    """
    rng = np.random.default_rng(seed)
    vspec = copy.copy(spec)
    out = []
    for _ in range(n):
        s = render_sample(rng, photos, vspec)
        g = make_guidance(None, s, mode)
        out.append(
            {
                "blurred": torch.from_numpy(s.blurred.transpose(2, 0, 1).copy())[None],
                "guidance": torch.from_numpy(g.transpose(2, 0, 1).copy())[None],
                "gt": torch.from_numpy(s.gt.transpose(0, 3, 1, 2).copy())[None],
            }
        )
    return out


@torch.no_grad()
def validate(net: torch.nn.Module, val: list[dict]) -> dict:
    net.eval()
    se = se_id = n = 0.0
    for v in val:
        y = net(v["blurred"], v["guidance"]).clamp(0, 1)
        fwd = float(((y - v["gt"]) ** 2).sum())
        # unguided: the order is unknowable, score the better one
        se += min(fwd, float(((y - v["gt"].flip(1)) ** 2).sum())) if not bool(v["guidance"].abs().any()) else fwd
        se_id += float(((v["blurred"][:, None] - v["gt"]) ** 2).sum())
        n += v["gt"].numel()
    net.train()
    return {"val_psnr": psnr(se / n), "val_identity_psnr": psnr(se_id / n)}


class Logger:
    def __init__(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        self.txt = open(out / "train.log", "a", buffering=1, encoding="utf-8")
        self.js = open(out / "log.jsonl", "a", buffering=1, encoding="utf-8")

    def __call__(self, msg: str, record: dict | None = None) -> None:
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())} {msg}"
        print(line, flush=True)
        self.txt.write(line + "\n")
        if record is not None:
            self.js.write(json.dumps(record) + "\n")


def save_state(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def init_checkpoint(init: str | Path) -> Path:
    """The weights ``train.init_from`` names. Git keeps only the one checkpoint a next stage starts
    from (intermediate ones are not committed), so a config naming an older one fails here, early and
    naming the ones there are, rather than deep in torch.load."""
    path = repo_path(init)
    if not path.is_file():
        there = sorted(p.name for p in path.parent.glob("*.pt")) if path.parent.is_dir() else []
        raise ValueError(
            f"train.init_from {init}: no such checkpoint (intermediate checkpoints are not kept in git); "
            f"{path.parent} holds: {', '.join(there) or 'none'}"
        )
    return path


def _runtime(cfg: dict) -> torch.device:
    """Seeds and thread counts (before the network is built: its initial weights draw from the seed)."""
    seed = int(cfg.get("seed", 0))
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.set_num_threads(int(cfg["train"].get("threads", 2)))
    import cv2

    cv2.setNumThreads(1)  # cv2 thread pools do not survive the fork into data workers
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _optimiser(net: torch.nn.Module, tcfg: dict) -> torch.optim.Optimizer:
    """AdamW with per-module learning-rate scales (a newly added module may learn faster than a fine-tuned one);
    each group's ``scale`` multiplies the scheduled rate."""
    scales = {str(k): float(v) for k, v in (tcfg.get("lr_scale") or {}).items()}
    groups: dict[float, list] = {}
    for name, prm in net.named_parameters():
        sc = next((v for k, v in scales.items() if name.startswith(k + ".")), 1.0)
        groups.setdefault(sc, []).append(prm)
    return torch.optim.AdamW(
        [{"params": ps, "scale": sc} for sc, ps in groups.items()],
        lr=float(tcfg["lr"]),
        weight_decay=float(tcfg.get("weight_decay", 0.0)),
    )


def _init_from(
    net: torch.nn.Module, ema: torch.nn.Module, path: Path, init: str, device: torch.device, log: Logger
) -> None:
    """Start from an earlier stage's weights (its EMA), grown to this network (``train.grow``)."""
    st = torch.load(path, map_location=device, weights_only=False)
    rep = load_grown(net, st.get("ema") or st["model"])
    ema.load_state_dict(net.state_dict())
    if rep["added_blocks"]:
        log(f"new residual blocks start as the identity: {', '.join(rep['added_blocks'])}")
    if rep["widened"]:
        log(f"widened (old channels compute what they did): {len(rep['widened'])} tensors")
    log(
        f"initialised from {init} (step {st.get('step', '?')}); new: {sorted({k.split('.')[0] for k in rep['new']})}"
        + (f"; unused: {rep['unused']}" if rep["unused"] else "")
    )


def _resume(
    path: Path,
    net: torch.nn.Module,
    ema: torch.nn.Module,
    opt: torch.optim.Optimizer,
    device: torch.device,
    log: Logger,
) -> tuple[int, float]:
    """Model, EMA and optimiser from the run's checkpoint; returns (step, best validation score)."""
    st = torch.load(path, map_location=device, weights_only=False)
    net.load_state_dict(st["model"])
    ema.load_state_dict(st["ema"])
    opt.load_state_dict(st["opt"])
    step, best = int(st["step"]), float(st.get("best", -1.0))
    log(f"resumed from {path} at step {step} (best val {best:.2f} dB)")
    return step, best


def _data(cfg: dict, step: int, log: Logger) -> tuple[torch.utils.data.DataLoader, list[dict], list[dict]]:
    """The training stream (resumed at ``step``) and the two validation sets (guided, unguided)."""
    dcfg, tcfg, seed = cfg["data"], cfg["train"], int(cfg.get("seed", 0))
    train_paths, held_paths = split(dcfg)
    cache = repo_path(dcfg.get("cache", "data/photos"))
    height = int(dcfg.get("cache_height", 720))
    photos = load_pool(train_paths, cache, height)
    held = load_pool(held_paths, cache, height)
    log(f"photos: {len(photos)} training, {len(held)} held out ({', '.join(p.name for p in held)})")
    spec = DataSpec.from_config(dcfg)
    stream = SyntheticStream(photos, spec, dict(dcfg.get("guidance_probs", {"neighbors": 1.0})), seed)
    val = make_val_set(photos, spec, int(tcfg.get("val_samples", 16)), seed + 999)
    val_none = make_val_set(photos, spec, int(tcfg.get("val_samples", 16)), seed + 999, "none")
    workers = int(tcfg.get("workers", 1))
    loader = torch.utils.data.DataLoader(
        _Stream(stream, step),
        batch_size=int(tcfg["batch"]),
        num_workers=workers,
        persistent_workers=workers > 0,
        prefetch_factor=4 if workers > 0 else None,
    )
    return loader, val, val_none


class _Losses:
    """The weighted training loss of one batch (weights from ``train.loss``)."""

    def __init__(self, w: dict) -> None:
        self.rec, self.reb = float(w.get("recon", 1.0)), float(w.get("reblur", 0.5))
        self.mot = float(w.get("motion", 0.05))
        self.mse = float(w.get("mse", 0.0))
        self.sharp = float(w.get("sharp", 0.0))

    def __call__(self, net: torch.nn.Module, batch: dict, device: torch.device) -> dict[str, torch.Tensor]:
        """-> the total ``loss`` and its ``recon``, ``reblur``, ``motion`` parts, and the identity's ``ident``."""
        x = batch["blurred"].to(device)
        gd = batch["guidance"].to(device)
        gt = batch["gt"].to(device)
        clean = batch["clean"].to(device)
        ung = batch["unguided"].to(device)
        y, est, sharp = net.forward_parts(x, gd)
        l_rec = recon_loss(y, gt, ung)
        l_reb = reblur_loss(y, clean)
        loss = self.rec * l_rec + self.reb * l_reb
        if self.mse > 0:
            loss = loss + self.mse * mse_loss(y, gt, ung)
        if sharp is not None and self.sharp > 0:
            loss = loss + self.sharp * sharp_loss(sharp, gt)
        l_mot = torch.zeros(())
        if est is not None:
            l_mot = motion_loss(est[..., : x.shape[-2], : x.shape[-1]], batch["motion"].to(device))
            loss = loss + self.mot * l_mot
        return {"loss": loss, "recon": l_rec, "reblur": l_reb, "motion": l_mot, "x": x, "gt": gt, "ung": ung}


def _ema_update(ema: torch.nn.Module, net: torch.nn.Module, step: int, decay: float) -> None:
    """EMA of the weights, with a shorter memory in the first steps."""
    with torch.no_grad():
        d = min(decay, (1 + step) / (10 + step))
        for pe, pn in zip(ema.parameters(), net.parameters()):
            pe.mul_(d).add_(pn.detach(), alpha=1 - d)


def _optimise(
    net: torch.nn.Module, opt: torch.optim.Optimizer, parts: dict[str, torch.Tensor], lr: float
) -> dict[str, torch.Tensor]:
    """One optimiser step on ``parts["loss"]`` at the scheduled rate ``lr`` (gradients clipped to norm 1)."""
    for g in opt.param_groups:
        g["lr"] = lr * g.get("scale", 1.0)
    opt.zero_grad(set_to_none=True)
    parts["loss"].backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
    opt.step()
    return parts


class _Meter:
    """Loss averages over the steps since the last log line."""

    KEYS = ("loss", "recon", "reblur", "motion", "ident")

    def __init__(self) -> None:
        self.t0 = time.time()
        self.sums = dict.fromkeys(self.KEYS, 0.0)
        self.n = 0

    def add(self, parts: dict[str, torch.Tensor], ident: float) -> None:
        self.sums["loss"] += float(parts["loss"].detach())
        self.sums["recon"] += float(parts["recon"].detach())
        self.sums["reblur"] += float(parts["reblur"].detach())
        self.sums["ident"] += ident
        self.n += 1
        self.sums["motion"] += float(parts["motion"].detach())

    def record(self, step: int, lr: float) -> dict:
        return {
            "step": step,
            "lr": lr,
            "s_per_step": (time.time() - self.t0) / self.n,
            **{k: self.sums[k] / self.n for k in self.KEYS},
        }


def _validate(ema: torch.nn.Module, val: list[dict], val_none: list[dict]) -> tuple[dict, float]:
    """Validation PSNRs of the EMA weights and the score the best checkpoint is chosen by."""
    v = validate(ema, val)
    vn = validate(ema, val_none)
    v["val_none_psnr"] = vn["val_psnr"]
    return v, 0.75 * v["val_psnr"] + 0.25 * vn["val_psnr"]  # the mix users run: mostly guided


def train(cfg: dict, max_minutes: float | None = None, max_steps: int | None = None, fresh: bool = False) -> int:
    """Train (or resume) the decomposer as ``cfg`` says, until ``total_steps``, a limit here, or SIGTERM/SIGINT."""
    tcfg = cfg["train"]
    device = _runtime(cfg)
    state_path = repo_path(tcfg.get("state", "models/train_state/last.pt"))
    init = tcfg.get("init_from")
    init_path = init_checkpoint(init) if init and not (state_path.exists() and not fresh) else None
    out = repo_path(tcfg.get("out", "runs/decomposer"))
    log = Logger(out)

    net = build_network(cfg["network"]).to(device)
    ema = copy.deepcopy(net).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    opt = _optimiser(net, tcfg)
    step, best = 0, -1.0
    if init_path is not None:
        _init_from(net, ema, init_path, init, device, log)
    if state_path.exists() and not fresh:
        step, best = _resume(state_path, net, ema, opt, device, log)
    nparam = sum(p.numel() for p in net.parameters())
    log(
        f"config {cfg['_path']}; network {cfg['network']['type']} {nparam} params; device {device}; threads {torch.get_num_threads()}"
    )

    loader, val, val_none = _data(cfg, step, log)
    losses = _Losses(tcfg.get("loss", {}))
    ema_decay = float(tcfg.get("ema", 0.998))
    save_every = float(tcfg.get("save_every_s", 240))
    val_every = int(tcfg.get("val_every", 250))
    log_every = int(tcfg.get("log_every", 20))
    t_start = t_save = time.time()
    meter = _Meter()

    def checkpoint(tag: str) -> None:
        save_state(
            state_path,
            {
                "model": net.state_dict(),
                "ema": ema.state_dict(),
                "opt": opt.state_dict(),
                "step": step,
                "best": best,
                "config": {k: v for k, v in cfg.items() if k != "_path"},
            },
        )
        log(f"saved {state_path} at step {step} ({tag})")

    stop = {"signal": None}

    def _on_signal(signum, frame):  # noqa: ANN001
        stop["signal"] = signum  # finish the step, save, exit

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    net.train()
    for batch in loader:
        if stop["signal"] is not None:
            log(f"signal {stop['signal']}: stopping at step {step}")
            break
        if (max_steps is not None and step >= max_steps) or step >= int(tcfg["total_steps"]):
            break
        if max_minutes is not None and time.time() - t_start > max_minutes * 60:
            break
        parts = _optimise(net, opt, losses(net, batch, device), _lr(step, tcfg))
        step += 1
        _ema_update(ema, net, step, ema_decay)
        with torch.no_grad():
            x, gt = parts["x"], parts["gt"]
            ident = float(recon_loss(x[:, None].expand_as(gt), gt, parts["ung"]))
        meter.add(parts, ident)
        if step % log_every == 0:
            rec = meter.record(step, _lr(step, tcfg))
            log(
                f"step {step} loss {rec['loss']:.5f} recon {rec['recon']:.5f} (identity {rec['ident']:.5f}) "
                f"reblur {rec['reblur']:.5f} motion {rec['motion']:.4f} lr {rec['lr']:.2e} {rec['s_per_step']:.2f}s/step",
                rec,
            )
            meter = _Meter()
        if step % val_every == 0:
            v, score = _validate(ema, val, val_none)
            if score > best:
                best = score
                save_state(
                    out / "best.pt", {"model": ema.state_dict(), "ema": ema.state_dict(), "step": step, "best": best}
                )
            log(
                f"val step {step}: EMA {v['val_psnr']:.2f} dB, unguided {v['val_none_psnr']:.2f} dB, "
                f"identity {v['val_identity_psnr']:.2f} dB (best score {best:.2f})",
                {"step": step, **v},
            )
        if time.time() - t_save > save_every:
            checkpoint("periodic")
            t_save = time.time()
    checkpoint("end")
    return 0
