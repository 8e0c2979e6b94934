"""Export the decomposer to a single-file ONNX model and check it against torch.

    python -m unshutter.train.export --checkpoint models/train_state/stage9.pt
        [--config models/decomposer.yaml] [--out models/decomposer.onnx] [--whole-graph] [--int8]

Re-exporting new weights of the architecture in the config is this one command.
Without a checkpoint the network is exported as initialised (its zero head
makes it the exact identity). By default the model follows the split contract
of :mod:`unshutter.decomposer.contract` (the flow warps and the final blend run
outside the graph, in the native kernels); ``--whole-graph`` writes the older
contract with everything in the graph (needed for ``estimate_motion``, whose
warps depend on the network). The model has dynamic batch, height and width,
and carries its contract in the metadata. The check runs the exported model
through the node's own runtime and compares with torch. ``--int8`` also writes
the int8 model CPUs run by default (``<out>_int8.onnx``, calibrated on training
photos, :mod:`unshutter.train.quantize`).
"""

from __future__ import annotations

import argparse
import io
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from unshutter.decomposer import contract
from unshutter.io.atomic import atomic_path
from unshutter.train.config import load_config, repo_path
from unshutter.train.flowunet_arch import build_network


def load_weights(net: torch.nn.Module, checkpoint: Path, use_ema: bool = True) -> dict:
    """Load a training checkpoint's (EMA) weights into ``net``; returns the checkpoint's info."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    weights = state.get("ema") if use_ema and state.get("ema") is not None else state["model"]
    net.load_state_dict(weights)
    return {"step": int(state.get("step", 0)), "ema": use_ema and state.get("ema") is not None}


class SplitGraph(torch.nn.Module):
    """What a split-contract model computes: the network between the warps (``forward_core``).

    Shape:
        blurred [B, 3, Hp, Wp], guidance [B, 6, Hp, Wp], warps [B, K, 3, Hp, Wp] ->
        sharp [B, 3, Hp, Wp], gate [B, K, 1, Hp, Wp], residual [B, K, 3, Hp, Wp]
    """

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(
        self, blurred: torch.Tensor, guidance: torch.Tensor, warps: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.net.forward_core(blurred, guidance, warps)


def can_split(net: torch.nn.Module) -> str | None:
    """None when ``net`` can be exported under the split contract, else why not."""
    if not hasattr(net, "forward_core"):
        return f"{type(net).__name__} has no forward_core"
    if not getattr(net, "use_warp", False):
        return "the network does not use warps (use_warp: false)"
    if getattr(net, "motion_net", None) is not None:
        return "the network estimates its own motion (estimate_motion: true), so its warps depend on the graph"
    return None


def export_onnx(
    net: torch.nn.Module, out: Path, opset: int = 17, metadata: dict | None = None, split: bool = False
) -> None:
    """Write ``net`` as ONNX with dynamic B/H/W and contract metadata (``split``: the split contract)."""
    import onnx

    net = net.eval()
    k = int(getattr(net, "k", contract.K))
    hw = {2: "height", 3: "width"}
    if split:
        why = can_split(net)
        if why:
            raise ValueError(f"cannot export the split contract: {why} (use --whole-graph)")
        module: torch.nn.Module = SplitGraph(net)
        args: tuple[torch.Tensor, ...] = (
            torch.rand(1, 3, 48, 64),
            torch.zeros(1, contract.GUIDANCE_CHANNELS, 48, 64),
            torch.rand(1, k, 3, 48, 64),
        )
        inputs, outputs = list(contract.SPLIT_INPUTS), list(contract.SPLIT_OUTPUTS)
        axes = {
            contract.INPUT_BLURRED: {0: "batch", **hw},
            contract.INPUT_GUIDANCE: {0: "batch", **hw},
            contract.INPUT_WARPS: {0: "batch", 3: "height", 4: "width"},
            contract.OUTPUT_SHARP: {0: "batch", **hw},
            contract.OUTPUT_GATE: {0: "batch", 3: "height", 4: "width"},
            contract.OUTPUT_RESIDUAL: {0: "batch", 3: "height", 4: "width"},
        }
    else:
        module = net
        args = (torch.rand(1, 3, 48, 64), torch.zeros(1, contract.GUIDANCE_CHANNELS, 48, 64))
        inputs, outputs = [contract.INPUT_BLURRED, contract.INPUT_GUIDANCE], [contract.OUTPUT_SUBFRAMES]
        axes = {
            contract.INPUT_BLURRED: {0: "batch", **hw},
            contract.INPUT_GUIDANCE: {0: "batch", **hw},
            contract.OUTPUT_SUBFRAMES: {0: "batch", 3: "height", 4: "width"},
        }
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter handles dynamic H/W padding
        torch.onnx.export(
            module,
            args,
            buf,
            input_names=inputs,
            output_names=outputs,
            dynamic_axes=axes,
            opset_version=opset,
            dynamo=False,
        )
    model = onnx.load_from_string(buf.getvalue())
    meta = {
        "unshutter.contract": "split" if split else "whole-graph",
        "unshutter.k": str(k),
        "unshutter.motion_scale": str(contract.MOTION_SCALE),
        "unshutter.pad_multiple": str(contract.PAD_MULTIPLE),
        "unshutter.encoding": "srgb_encode(linear / scale)",
        **{k: str(v) for k, v in (metadata or {}).items()},
    }
    save_onnx(model, meta, out)


def save_onnx(model: Any, meta: dict[str, str], out: Path) -> None:
    """Stamp ``meta`` as the model's metadata (replacing what it had), check the graph, write it atomically."""
    import onnx

    del model.metadata_props[:]
    for k, v in meta.items():
        p = model.metadata_props.add()
        p.key, p.value = k, v
    onnx.checker.check_model(model)
    with atomic_path(out) as tmp:
        onnx.save(model, str(tmp))


def check_against_torch(net: torch.nn.Module, onnx_path: Path, seed: int = 0) -> float:
    """Max |onnx - torch| over random inputs of several sizes (incl. odd and 1x1).

    The model runs through the node's runtime (:class:`Decomposer`, CPU), so a
    split-contract model is checked together with the warps and the blend around it.
    """
    from unshutter.decomposer.runtime import Decomposer

    dec = Decomposer(onnx_path, device="cpu", threads=2)
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
        got = np.stack([dec.infer_planar(x[i], g[i]) for i in range(b)])
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
    ap.add_argument(
        "--whole-graph",
        action="store_true",
        help="keep the warps in the graph (the contract of models before the split; estimate_motion needs it)",
    )
    ap.add_argument(
        "--int8",
        action="store_true",
        help="also write the int8 model for CPUs beside it (<out stem>_int8.onnx; split contract only)",
    )
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    torch.manual_seed(int(cfg.get("seed", 0)))
    net = build_network(cfg["network"])
    info = {"step": 0, "ema": False}
    if args.checkpoint:
        info = load_weights(net, Path(args.checkpoint), use_ema=not args.no_ema)
    exp = cfg.get("export", {})
    out = repo_path(args.out or exp.get("out", "models/decomposer.onnx"))
    meta = {
        "unshutter.arch": cfg["network"]["type"],
        "unshutter.train_step": info["step"],
        "unshutter.ema": info["ema"],
    }
    split = not args.whole_graph
    if split and can_split(net):
        print(f"error: {can_split(net)}: export it with --whole-graph", file=sys.stderr)
        return 2
    if args.int8 and not split:
        print("error: --int8 needs the split contract (drop --whole-graph)", file=sys.stderr)
        return 2
    export_onnx(net, out, int(exp.get("opset", 17)), meta, split=split)
    err = check_against_torch(net, out)
    size_mb = out.stat().st_size / 1e6
    kind = "split" if split else "whole-graph"
    print(f"exported {out} ({size_mb:.2f} MB, step {info['step']}, {kind} contract), max |onnx - torch| = {err:.2e}")
    if err > args.tol:
        print(f"error: ONNX differs from torch by {err:.2e} > {args.tol}", file=sys.stderr)
        return 1
    if args.int8:
        from unshutter.train.quantize import calibration_feeds, quantize

        q = out.with_name(out.stem + "_int8.onnx")
        quantize(out, q, calibration_feeds(config=args.config))
        print(f"quantised {q} ({q.stat().st_size / 1e6:.2f} MB, int8, for CPUs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
