"""Export the decomposer to a single-file ONNX model and check it against torch.

    python -m unshutter.train.export [--config models/decomposer.yaml]
        [--checkpoint models/train_state/stage9.pt] [--out models/decomposer.onnx]

Without a checkpoint the network is exported as initialised (its zero head
makes it the exact identity). The ONNX model has dynamic batch, height and
width, and carries its contract in the metadata.
"""
from __future__ import annotations

import argparse
import io
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

from unshutter.decomposer import contract
from unshutter.train.config import load_config, repo_path
from unshutter.train.flowunet_arch import build_network


def load_weights(net: torch.nn.Module, checkpoint: Path, use_ema: bool = True) -> dict:
    """Load a training checkpoint's (EMA) weights into ``net``; returns the checkpoint's info."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    weights = state.get("ema") if use_ema and state.get("ema") is not None else state["model"]
    net.load_state_dict(weights)
    return {"step": int(state.get("step", 0)), "ema": use_ema and state.get("ema") is not None}


def export_onnx(net: torch.nn.Module, out: Path, opset: int = 17, metadata: dict | None = None) -> None:
    """Write ``net`` as ONNX with dynamic B/H/W and contract metadata."""
    import onnx

    net = net.eval()
    x = torch.rand(1, 3, 48, 64)
    g = torch.zeros(1, contract.GUIDANCE_CHANNELS, 48, 64)
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter handles dynamic H/W padding
        torch.onnx.export(
            net,
            (x, g),
            buf,
            input_names=[contract.INPUT_BLURRED, contract.INPUT_GUIDANCE],
            output_names=[contract.OUTPUT_SUBFRAMES],
            dynamic_axes={
                contract.INPUT_BLURRED: {0: "batch", 2: "height", 3: "width"},
                contract.INPUT_GUIDANCE: {0: "batch", 2: "height", 3: "width"},
                contract.OUTPUT_SUBFRAMES: {0: "batch", 3: "height", 4: "width"},
            },
            opset_version=opset,
            dynamo=False,
        )
    model = onnx.load_from_string(buf.getvalue())
    meta = {
        "unshutter.k": str(contract.K),
        "unshutter.motion_scale": str(contract.MOTION_SCALE),
        "unshutter.pad_multiple": str(contract.PAD_MULTIPLE),
        "unshutter.encoding": "srgb_encode(linear / scale)",
        **{k: str(v) for k, v in (metadata or {}).items()},
    }
    del model.metadata_props[:]
    for k, v in meta.items():
        p = model.metadata_props.add()
        p.key, p.value = k, v
    onnx.checker.check_model(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    onnx.save(model, str(tmp))
    tmp.replace(out)


def check_against_torch(net: torch.nn.Module, onnx_path: Path, seed: int = 0) -> float:
    """Max |onnx - torch| over random inputs of several sizes (incl. odd and 1x1)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    worst = 0.0
    for b, h, w in [(1, 1, 1), (1, 37, 53), (2, 64, 96), (1, 120, 77)]:
        x = rng.random((b, 3, h, w), dtype=np.float32)
        g = np.zeros((b, contract.GUIDANCE_CHANNELS, h, w), np.float32)
        g[:, contract.GX] = rng.choice([-1.0, 0.0, 1.0], (b, h, w))
        g[:, contract.GY] = rng.choice([-1.0, 0.0, 1.0], (b, h, w))
        g[:, contract.GVALID] = 1.0
        g[:, contract.MX : contract.MY + 1] = rng.normal(0, 0.5, (b, 2, h, w))
        g[:, contract.MVALID] = 1.0
        with torch.no_grad():
            ref = net.eval()(torch.from_numpy(x), torch.from_numpy(g)).numpy()
        got = sess.run([contract.OUTPUT_SUBFRAMES], {contract.INPUT_BLURRED: x, contract.INPUT_GUIDANCE: g})[0]
        if got.shape != ref.shape:
            raise RuntimeError(f"ONNX output shape {got.shape} != torch {ref.shape}")
        worst = max(worst, float(np.abs(got - ref).max()))
    return worst


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m unshutter.train.export", description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=None, help="training config (default models/decomposer.yaml)")
    ap.add_argument("--checkpoint", default=None, help="checkpoint .pt (default: untrained identity network)")
    ap.add_argument("--no-ema", action="store_true", help="export the raw weights, not the EMA")
    ap.add_argument("--out", default=None, help="output .onnx (default from config)")
    ap.add_argument("--tol", type=float, default=1e-4, help="max allowed |onnx - torch|")
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    torch.manual_seed(int(cfg.get("seed", 0)))
    net = build_network(cfg["network"])
    info = {"step": 0, "ema": False}
    if args.checkpoint:
        info = load_weights(net, Path(args.checkpoint), use_ema=not args.no_ema)
    exp = cfg.get("export", {})
    out = repo_path(args.out or exp.get("out", "models/decomposer.onnx"))
    meta = {"unshutter.arch": cfg["network"]["type"], "unshutter.train_step": info["step"], "unshutter.ema": info["ema"]}
    export_onnx(net, out, int(exp.get("opset", 17)), meta)
    err = check_against_torch(net, out)
    size_mb = out.stat().st_size / 1e6
    print(f"exported {out} ({size_mb:.2f} MB, step {info['step']}), max |onnx - torch| = {err:.2e}")
    if err > args.tol:
        print(f"error: ONNX differs from torch by {err:.2e} > {args.tol}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
