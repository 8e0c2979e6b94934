"""Quantise a split-contract decomposer to int8 for CPUs (static, calibrated on training photos).

    python -m unshutter.train.quantize [--model models/decomposer.onnx] [--out models/decomposer_int8.onnx]
    python -m unshutter.train.quantize --rewrite models/decomposer_int8.onnx   (graph rewrites only)

Why: on the development CPU (AMD Zen 4, AVX-512 VNNI) ONNX Runtime's int8
convolutions run about five times faster than its float32 ones. The quantised
model keeps the split contract (same inputs, outputs and metadata), so the
runtime loads it like the float32 model; the float32 model stays the one for
GPUs and the reference the quantised one is checked against.

What is quantised, and why not more (measured with ``unshutter bench quality``,
see docs/speed.md): the convolutions' weights per output channel (int8) and
their inputs per tensor (uint8), with activation ranges from the 99.999th
percentile of a calibration set. Two layers stay float32:

- the **stem** sees the blurred frame and the warps (image values in about
  [0, 1]) concatenated with the guidance (motion in units of 32 px, signs):
  one uint8 scale for all of them would give the images about 40 levels. The
  graph is rewritten so the image part (24 channels) is its own convolution,
  quantised with the images' own range, and the guidance part (6 channels) a
  second one, kept float32; their sum is the original stem.
- the **heads** write the gate and the residual (small corrections added to
  the sub-frames) and the sharp frame: a uint8 output would quantise them
  coarsely. ``head`` and ``sharp_head`` read the same features, so they are
  merged into one float32 convolution of 32 outputs (31 used), which ONNX
  Runtime runs more efficiently than a 28- and a 3-channel one.

After quantisation the decoder's pixel shuffles are moved onto the uint8
tensors (:func:`shuffle_quantized`): exact, and 0.865 times the CPU time.

Calibration: samples rendered from the *training* photos (never the held-out
ones that ``bench quality`` scores), with the training guidance mix, pushed
through the runtime's own padding and warps (:func:`runtime.split_feed`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from unshutter.decomposer import contract

STEM_CONV = "/stem/Conv"
HEAD_CONVS = ("/head/Conv", "/sharp_head/Conv")
GUIDANCE_STEM = "/stem/Conv_guidance"
MERGED_HEAD = "/heads/Conv"
KEEP_FLOAT = (GUIDANCE_STEM, MERGED_HEAD)
"""Convolutions left in float32 (see the module docstring)."""
CALIB_PERCENTILE = 99.999
CALIB_SAMPLES = 32
CALIB_CROP = 256
CALIB_SEED = 20261206


def _node(graph: Any, name: str) -> Any:
    for n in graph.node:
        if n.name == name:
            return n
    raise ValueError(f"the graph has no node {name!r}: not the FlowUNet the rewrite knows")


def _init(graph: Any, name: str) -> np.ndarray:
    from onnx import numpy_helper

    for t in graph.initializer:
        if t.name == name:
            return numpy_helper.to_array(t)
    raise ValueError(f"the graph has no initializer {name!r}")


def split_stem(model: Any) -> None:
    """Rewrite ``Conv(Concat(blurred, guidance, warps))`` as ``Conv(Concat(blurred, warps)) + Conv(guidance)``.

    Exact up to float rounding. The stem's input channels: 0-2 blurred, 3-8
    guidance, 9-29 the K warps (see :mod:`unshutter.decomposer.contract`).
    """
    import onnx
    from onnx import helper, numpy_helper

    g = model.graph
    stem = _node(g, STEM_CONV)
    cat = next(n for n in g.node if n.output[0] == stem.input[0])
    if cat.op_type != "Concat" or list(cat.input[:2]) != [contract.INPUT_BLURRED, contract.INPUT_GUIDANCE]:
        raise ValueError(f"{STEM_CONV} does not read concat(blurred, guidance, warps)")
    w, b = _init(g, stem.input[1]), _init(g, stem.input[2])  # [C, 30, 3, 3], [C]
    gc = contract.GUIDANCE_CHANNELS
    w_img = np.concatenate([w[:, :3], w[:, 3 + gc :]], axis=1)  # [C, 24, 3, 3]
    w_g = np.ascontiguousarray(w[:, 3 : 3 + gc])  # [C, 6, 3, 3]
    g.initializer.extend(
        [
            numpy_helper.from_array(w_img, "stem.weight.image"),
            numpy_helper.from_array(w_g, "stem.weight.guidance"),
            numpy_helper.from_array(b, "stem.bias.image"),
        ]
    )
    attrs = {a.name: helper.get_attribute_value(a) for a in stem.attribute}
    out = stem.output[0]
    new = [
        helper.make_node("Concat", [cat.input[0], cat.input[2]], ["/stem/image_input"], "/stem/Concat_image", axis=1),
        helper.make_node(
            "Conv",
            ["/stem/image_input", "stem.weight.image", "stem.bias.image"],
            ["/stem/image"],
            "/stem/Conv_image",
            **attrs,
        ),
        helper.make_node(
            "Conv", [contract.INPUT_GUIDANCE, "stem.weight.guidance"], ["/stem/guidance"], GUIDANCE_STEM, **attrs
        ),
        helper.make_node("Add", ["/stem/image", "/stem/guidance"], [out], "/stem/Add"),
    ]
    _replace(g, [cat, stem], new)
    onnx.checker.check_model(model)


def merge_heads(model: Any) -> None:
    """One convolution for ``head`` and ``sharp_head`` (same input), split again by ``Slice``."""
    import onnx
    from onnx import helper, numpy_helper

    g = model.graph
    heads = [_node(g, n) for n in HEAD_CONVS]
    if heads[0].input[0] != heads[1].input[0]:
        raise ValueError("head and sharp_head read different tensors")
    ws = [_init(g, n.input[1]) for n in heads]  # [28, C, 3, 3], [3, C, 3, 3]
    bs = [_init(g, n.input[2]) for n in heads]
    pad = -sum(w.shape[0] for w in ws) % 8  # output channels in whole blocks of 8
    w = np.concatenate([*ws, np.zeros((pad, *ws[0].shape[1:]), ws[0].dtype)])
    b = np.concatenate([*bs, np.zeros(pad, bs[0].dtype)])
    g.initializer.extend([numpy_helper.from_array(w, "heads.weight"), numpy_helper.from_array(b, "heads.bias")])
    attrs = {a.name: helper.get_attribute_value(a) for a in heads[0].attribute}
    new = [
        helper.make_node(
            "Conv", [heads[0].input[0], "heads.weight", "heads.bias"], ["/heads/out"], MERGED_HEAD, **attrs
        )
    ]
    start = 0
    for i, (node, wi) in enumerate(zip(heads, ws)):
        stop = start + wi.shape[0]
        bounds = [f"heads.slice{i}.start", f"heads.slice{i}.stop", "heads.slice.axis"]
        g.initializer.extend(
            [
                numpy_helper.from_array(np.array([start], np.int64), bounds[0]),
                numpy_helper.from_array(np.array([stop], np.int64), bounds[1]),
            ]
        )
        new.append(helper.make_node("Slice", ["/heads/out", *bounds], [node.output[0]], f"/heads/Slice{i}"))
        start = stop
    g.initializer.append(numpy_helper.from_array(np.array([1], np.int64), "heads.slice.axis"))
    _replace(g, heads, new)
    onnx.checker.check_model(model)


def shuffle_quantized(model: Any) -> int:
    """Run each ``DepthToSpace`` on its quantised input: ``DQ -> DepthToSpace`` becomes ``DepthToSpace -> DQ``.

    Exact (the shuffle moves values, the dequantisation is per tensor), and it
    takes the decoder's float32 islands out: ONNX Runtime then shuffles uint8
    (a quarter of the bytes) and, with every input of the skip ``Concat``
    dequantised and its output quantised, fuses that into one ``QLinearConcat``.
    One 1280x720 frame: 0.865 times the network's CPU time, the same outputs
    bit for bit (docs/speed.md). Returns how many shuffles moved (0 when the
    graph has none fed by a DequantizeLinear, e.g. rewritten already).
    """
    import onnx

    g = model.graph
    producer = {o: n for n in g.node for o in n.output}
    readers: dict[str, int] = {}
    for n in g.node:
        for i in n.input:
            readers[i] = readers.get(i, 0) + 1
    moved = 0
    for node in [n for n in g.node if n.op_type == "DepthToSpace"]:
        dq = producer.get(node.input[0])
        if dq is None or dq.op_type != "DequantizeLinear" or readers[dq.output[0]] != 1:
            continue
        quantised, shuffled = dq.input[0], node.output[0]
        node.input[0], node.output[0] = quantised, shuffled + "_quantized"
        dq.input[0], dq.output[0] = node.output[0], shuffled
        g.node.remove(dq)
        g.node.insert(list(g.node).index(node) + 1, dq)
        moved += 1
    onnx.checker.check_model(model)
    return moved


def _replace(graph: Any, old: list, new: list) -> None:
    """Swap nodes ``old`` for ``new`` at the first old node's place (keeps the topological order)."""
    at = min(list(graph.node).index(n) for n in old)
    for n in old:
        graph.node.remove(n)
    for i, n in enumerate(new):
        graph.node.insert(at + i, n)
    used = {i for n in graph.node for i in n.input}
    for t in [t for t in graph.initializer if t.name not in used]:
        graph.initializer.remove(t)


def calibration_feeds(
    n: int = CALIB_SAMPLES, crop: int = CALIB_CROP, seed: int = CALIB_SEED, config: str | None = None
) -> list[dict[str, np.ndarray]]:
    """``n`` model inputs rendered from the training photos, as the runtime feeds them.

    Shape: each {blurred [1, 3, Hp, Wp], guidance [1, 6, Hp, Wp], warps [1, K, 3, Hp, Wp]}
    """
    from unshutter.decomposer.runtime import split_feed
    from unshutter.train.config import load_config
    from unshutter.train.data import DataSpec, make_guidance, pick_mode, render_sample
    from unshutter.train.photos import load_split

    cfg = load_config(config)
    photos = load_split(cfg["data"], held_out=False)  # the held-out photos stay unseen: bench quality scores them
    spec = DataSpec.from_config(cfg["data"])
    spec.crop = crop
    probs = cfg["data"].get("guidance_probs", {"neighbors": 1.0})
    rng = np.random.default_rng(seed)
    feeds = []
    for _ in range(n):
        s = render_sample(rng, photos, spec)
        g = make_guidance(rng, s, pick_mode(rng, probs))
        x, gp, _, warps = split_feed(
            np.ascontiguousarray(s.blurred.transpose(2, 0, 1), np.float32),
            np.ascontiguousarray(g.transpose(2, 0, 1), np.float32),
            contract.K,
        )
        feeds.append(
            {contract.INPUT_BLURRED: x[None], contract.INPUT_GUIDANCE: gp[None], contract.INPUT_WARPS: warps[None]}
        )
    return feeds


def quantize(src: Path, out: Path, feeds: list[dict[str, np.ndarray]], percentile: float = CALIB_PERCENTILE) -> None:
    """Write the int8 model of the float32 split-contract model ``src`` to ``out`` (atomically)."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from unshutter.train.export import save_onnx  # here, not at the top: export imports torch

    model = onnx.load(str(src))
    meta = {p.key: p.value for p in model.metadata_props}
    if meta.get("unshutter.contract") != "split":
        raise ValueError(f"{src}: only split-contract models can be quantised")
    split_stem(model)
    merge_heads(model)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(feeds)

        def get_next(self) -> dict | None:
            return next(self._it, None)

    with tempfile.TemporaryDirectory() as tmp:
        rewritten, pre = Path(tmp) / "rewritten.onnx", Path(tmp) / "pre.onnx"
        onnx.save(model, str(rewritten))
        quant_pre_process(str(rewritten), str(pre), skip_symbolic_shape=True)
        qpath = Path(tmp) / "int8.onnx"
        quantize_static(
            str(pre),
            str(qpath),
            Reader(),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=["Conv"],
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.Percentile,
            nodes_to_exclude=list(KEEP_FLOAT),
            extra_options={"CalibPercentile": percentile},
        )
        q = onnx.load(str(qpath))
    shuffle_quantized(q)
    meta.update(
        {
            "unshutter.precision": "int8",
            "unshutter.int8_of": src.name,
            "unshutter.calibration": f"{len(feeds)} training-photo samples, percentile {percentile}",
        }
    )
    save_onnx(q, meta, out)


def rewrite_int8(src: Path, out: Path) -> int:
    """Write ``src`` (an int8 model already quantised) with :func:`shuffle_quantized` applied to ``out``.

    Weights, ranges and metadata are kept: the model computes what it did, faster.
    Returns the shuffles moved; ValueError when ``src`` is not an int8 model or has
    nothing to move (written already).
    """
    import onnx

    from unshutter.train.export import save_onnx  # here, not at the top: export imports torch

    model = onnx.load(str(src))
    meta = {p.key: p.value for p in model.metadata_props}
    if meta.get("unshutter.precision") != "int8":
        raise ValueError(f"{src}: not an int8 model (quantise it instead)")
    moved = shuffle_quantized(model)
    if moved == 0:
        raise ValueError(f"{src}: no DepthToSpace reads a DequantizeLinear (rewritten already?)")
    save_onnx(model, meta, out)
    return moved


def main(argv: list[str] | None = None) -> int:
    from unshutter.decomposer.locate import default_model_path, int8_model_path

    ap = argparse.ArgumentParser(prog="python -m unshutter.train.quantize", description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="float32 split-contract model (default: the shipped one)")
    ap.add_argument("--out", default=None, help="int8 model to write (default: beside the shipped model)")
    ap.add_argument("--config", default=None, help="training config naming the photos (default models/decomposer.yaml)")
    ap.add_argument("--samples", type=int, default=CALIB_SAMPLES, help=f"calibration samples (default {CALIB_SAMPLES})")
    ap.add_argument(
        "--rewrite",
        metavar="INT8_ONNX",
        help="no calibration: apply the graph rewrites that follow quantisation to this int8 model "
        "(its weights and ranges kept) and write it to --out (default: in place)",
    )
    args = ap.parse_args(argv)
    try:
        if args.rewrite:
            src = Path(args.rewrite)
            out = Path(args.out) if args.out else src
            moved = rewrite_int8(src, out)
            print(f"rewrote {src} -> {out}: {moved} DepthToSpace on uint8")
            return 0
        src = Path(args.model) if args.model else default_model_path()
        out = Path(args.out) if args.out else int8_model_path()
        quantize(src, out, calibration_feeds(args.samples, config=args.config))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"quantised {src} -> {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
