"""Quantise a split-contract decomposer to int8 for CPUs (static, calibrated on training photos).

    python -m unshutter.train.quantize [--model models/decomposer.onnx] [--out models/decomposer_int8.onnx]
    python -m unshutter.train.quantize --rewrite models/decomposer_int8.onnx   (layout only, same bits)

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

After quantisation the graph is laid out the way ONNX Runtime's CPU provider
runs it (:func:`lay_out_for_cpu`), every step exact (the same outputs bit for
bit): the decoder's pixel shuffles move onto the uint8 tensors
(:func:`shuffle_quantized`, 0.865 times the CPU time), ONNX Runtime's own
fusion into int8 operators is saved (:func:`fused_by_runtime`), and the
activations stay channels-last between them (:func:`channels_last`: no
transposes around the adds, concatenations and shuffles; 0.83-0.89 times the
CPU time again). The file then holds ONNX Runtime's contrib operators
(``com.microsoft`` ``QLinearConv`` and friends): it is a CPU model.

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


LAYOUT_FREE = {"QLinearAdd": (0, 3), "QLinearLeakyRelu": (0,), "QuantizeLinear": (0,), "DequantizeLinear": (0,)}
"""Operators that compute each element on its own, by the indices of their activation inputs: they run in
either layout (Add and LeakyRelu too, when both inputs are activations; see :func:`channels_last`)."""
TO_NCHW, TO_NHWC = [0, 3, 1, 2], [0, 2, 3, 1]
LAYOUT = "onnxruntime-cpu-nhwc"
"""``unshutter.layout`` of a model laid out by :func:`lay_out_for_cpu` (fused int8 operators, NHWC)."""


def fused_by_runtime(model: Any) -> Any:
    """``model`` as ONNX Runtime's CPU provider runs it, fused and laid out, but portable.

    ONNX Runtime fuses each ``DequantizeLinear -> Conv -> QuantizeLinear`` into a ``QLinearConv``
    reading and writing channels-last (NHWC) uint8, and puts a ``Transpose`` wherever the
    graph's NCHW order meets it. Its blocked float layout (NCHWc) is left out: its block
    size is the processor's vector width, and ONNX Runtime adds it again at load.
    """
    import onnx
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.onnx", Path(tmp) / "fused.onnx"
        onnx.save(model, str(src))
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.optimized_model_filepath = str(out)
        opts.log_severity_level = 3
        ort.InferenceSession(
            str(src), opts, providers=["CPUExecutionProvider"], disabled_optimizers=["NchwcTransformer"]
        )
        return onnx.load(str(out))


def channels_last(model: Any) -> int:
    """Keep what a channels-last ``QLinearConv`` writes in NHWC until a layer needs NCHW.

    ONNX Runtime lays out its int8 convolutions in NHWC but the rest of the graph in NCHW, so
    the full-resolution activations were transposed back and forth around the residual adds,
    the skip concatenations, the pixel shuffles and the float32 stem and heads (a sixth of the
    network's CPU time at 1280x720). Here the element-wise operators (:data:`LAYOUT_FREE`)
    and the skip ``Concat`` run on NHWC tensors, each ``DepthToSpace`` becomes its NHWC form
    (a reshape, a transpose of contiguous blocks, a reshape), a ``QuantizeLinear`` of its own
    ``DequantizeLinear`` goes, and a tensor is transposed only where an NCHW layer reads it
    (the float32 convolutions, where ONNX Runtime folds the transpose into its reordering).
    Exact: the same operators on the same values. Returns how many transposes went.
    """
    import onnx
    from onnx import helper, numpy_helper

    g = model.graph
    inits = {t.name: t for t in g.initializer}
    # each tensor of the graph -> (the tensor that holds it now, whether that is its NHWC transpose)
    rep: dict[str, tuple[str, bool]] = {}
    made: dict[str, Any] = {}  # tensor written by the new graph -> its node
    back: dict[str, str] = {}  # NHWC transpose -> its NCHW tensor, once computed
    readers: dict[str, int] = {}
    for n in g.node:
        for i in n.input:
            readers[i] = readers.get(i, 0) + 1
    out: list[Any] = []

    def attr(n: Any, name: str, default: Any = None) -> Any:
        return next((helper.get_attribute_value(a) for a in n.attribute if a.name == name), default)

    def scalar(name: str) -> bool:
        return name in inits and numpy_helper.to_array(inits[name]).size == 1

    def emit(n: Any, transposed: bool = False) -> None:
        out.append(n)
        for o in n.output:
            made[o] = n
            rep[o] = (o, transposed)

    def plain(t: str) -> str:
        """Tensor ``t`` as the graph had it (an NHWC transpose is transposed back here, once)."""
        x, transposed = rep.get(t, (t, False))
        if not transposed:
            return x
        if x not in back:
            back[x] = x + "_nchw"
            emit(helper.make_node("Transpose", [x], [back[x]], back[x], perm=TO_NCHW))
        return back[x]

    def nhwc(t: str) -> str:
        """NCHW tensor ``t`` as its NHWC transpose."""
        x, transposed = rep.get(t, (t, False))
        if transposed:
            return x
        emit(helper.make_node("Transpose", [x], [x + "_nhwc"], x + "_nhwc", perm=TO_NHWC))
        return x + "_nhwc"

    def pixel_shuffle(n: Any, x: str) -> None:
        """``DepthToSpace`` of the NHWC ``x`` ([1, H, W, 4C] -> [1, 2H, 2W, C]), written by a 1x1 QLinearConv
        whose output channels are put in DCR order first, so the shuffle moves whole pixels."""
        b, conv = attr(n, "blocksize"), made.get(x)
        if conv is None or conv.op_type != "QLinearConv" or readers.get(x, 0) != 1 or attr(n, "mode") != b"CRD":
            raise ValueError(f"{n.name}: not a pixel shuffle of a QLinearConv's own output")
        c4 = numpy_helper.to_array(inits[conv.input[3]]).shape[0]
        c = c4 // (b * b)
        order = np.array([k * b * b + i for i in range(b * b) for k in range(c)])  # DCR channel -> CRD channel
        for name in (conv.input[3], conv.input[4], conv.input[5], *conv.input[8:9]):
            a = numpy_helper.to_array(inits[name])
            if a.ndim and a.shape[0] == c4:
                inits[name].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(a[order]), name))
        key = n.output[0] + "_nhwc"
        g.initializer.extend(
            [
                numpy_helper.from_array(np.array([0, 0, 0, b, b, c], np.int64), key + "_split"),
                numpy_helper.from_array(np.array([1, b, b, 0], np.int64), key + "_grow"),
                numpy_helper.from_array(np.array([0, 0, 0, c], np.int64), key + "_channels"),
            ]
        )
        for node in (
            helper.make_node("Shape", [x], [key + "_in_shape"], key + "_in_shape"),
            helper.make_node("Mul", [key + "_in_shape", key + "_grow"], [key + "_grown"], key + "_grown"),
            helper.make_node("Add", [key + "_grown", key + "_channels"], [key + "_shape"], key + "_shape"),
            helper.make_node("Reshape", [x, key + "_split"], [key + "_blocks"], key + "_blocks"),
            helper.make_node("Transpose", [key + "_blocks"], [key + "_moved"], key + "_moved", perm=[0, 1, 3, 2, 4, 5]),
            helper.make_node("Reshape", [key + "_moved", key + "_shape"], [key], key),
        ):
            emit(node)
        rep[n.output[0]] = (key, True)

    channels_last_of: set[str] = set()  # tensors of the graph that are NHWC in the graph itself
    before = sum(n.op_type == "Transpose" for n in g.node)
    for n in list(g.node):
        op, ins = n.op_type, list(n.input)
        perm = list(attr(n, "perm") or []) if op == "Transpose" else None
        if perm == TO_NCHW and ins[0] in channels_last_of:
            rep[n.output[0]] = (rep[ins[0]][0], True)  # an NHWC tensor seen as NCHW: no copy
            continue
        if perm == TO_NHWC:
            channels_last_of.add(n.output[0])
            if rep.get(ins[0], (ins[0], False))[1]:
                rep[n.output[0]] = (rep[ins[0]][0], False)  # back to NHWC: the tensor held already
                continue
        src = made.get(rep.get(ins[0], (ins[0], False))[0]) if ins else None
        if op == "QuantizeLinear" and src is not None and src.op_type == "DequantizeLinear" and len(src.input) == 3:
            if len(ins) == 3 and all(
                scalar(a) and scalar(b) and numpy_helper.to_array(inits[a]) == numpy_helper.to_array(inits[b])
                for a, b in zip(src.input[1:3], ins[1:3])
            ):  # Q(DQ(q)) = q, to the bit, in the layout the DQ read
                rep[n.output[0]] = (src.input[0], rep[ins[0]][1])
                continue
        free: tuple[int, ...] | None = LAYOUT_FREE.get(op)
        if op in ("Add", "LeakyRelu") and not any(i in inits for i in ins):
            free = tuple(range(len(ins)))
        if op in ("QuantizeLinear", "DequantizeLinear") and not scalar(ins[1]):
            free = None  # per channel: the channel axis would move
        if op == "QLinearConcat" and attr(n, "axis") == 1:
            free = tuple(range(2, len(ins), 3))
        if free is not None and any(rep.get(ins[i], ("", False))[1] for i in free):
            for i in range(len(ins)):
                n.input[i] = nhwc(ins[i]) if i in free else plain(ins[i])
            for a in n.attribute:
                if op == "QLinearConcat" and a.name == "axis":
                    a.i = 3
            emit(n, transposed=True)
            continue
        if op == "DepthToSpace" and rep.get(ins[0], ("", False))[1]:
            pixel_shuffle(n, rep[ins[0]][0])
            continue
        if (op == "QLinearConv" and attr(n, "channels_last") == 1) or (
            free is not None and any(ins[i] in channels_last_of for i in free)
        ):
            channels_last_of.update(n.output)  # an NHWC convolution's output, or element-wise on NHWC tensors
        for i, t in enumerate(ins):
            n.input[i] = plain(t)
        emit(n)
    for o in g.output:
        if rep.get(o.name, (o.name, False)) != (o.name, False):
            raise ValueError(f"graph output {o.name} would change layout")
    needed = {o.name for o in g.output}
    kept: list[Any] = []
    for n in reversed(out):  # drop what nothing reads any more (a dequantisation whose Q(DQ(q)) went)
        if any(o in needed for o in n.output):
            kept.append(n)
            needed.update(n.input)
    del g.node[:]
    g.node.extend(reversed(kept))
    del g.value_info[:]
    for t in [t for t in g.initializer if t.name not in needed]:
        g.initializer.remove(t)
    onnx.checker.check_model(model)
    return before - sum(n.op_type == "Transpose" and list(attr(n, "perm")) in (TO_NCHW, TO_NHWC) for n in g.node)


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
    meta.update(
        {
            "unshutter.precision": "int8",
            "unshutter.int8_of": src.name,
            "unshutter.calibration": f"{len(feeds)} training-photo samples, percentile {percentile}",
        }
    )
    q, _ = lay_out_for_cpu(q, meta)
    save_onnx(q, meta, out)


def lay_out_for_cpu(model: Any, meta: dict[str, str]) -> tuple[Any, tuple[int, int]]:
    """The quantised (QDQ) ``model`` in the form ONNX Runtime's CPU provider runs fastest, the same bits:
    :func:`shuffle_quantized`, :func:`fused_by_runtime`, :func:`channels_last`. Notes the layout in ``meta``.
    Returns the model and (shuffles moved, transposes gone)."""
    moved = shuffle_quantized(model)
    model = fused_by_runtime(model)
    gone = channels_last(model)
    meta["unshutter.layout"] = LAYOUT
    return model, (moved, gone)


def rewrite_int8(src: Path, out: Path) -> tuple[int, int]:
    """Write ``src`` (an int8 model already quantised) laid out by :func:`lay_out_for_cpu` to ``out``.

    Weights, ranges and metadata are kept: the model computes what it did, faster.
    Returns (shuffles moved, transposes gone); ValueError when ``src`` is not an int8 model
    or is laid out already.
    """
    import onnx

    from unshutter.train.export import save_onnx  # here, not at the top: export imports torch

    model = onnx.load(str(src))
    meta = {p.key: p.value for p in model.metadata_props}
    if meta.get("unshutter.precision") != "int8":
        raise ValueError(f"{src}: not an int8 model (quantise it instead)")
    if any(n.op_type == "QLinearConv" for n in model.graph.node):
        raise ValueError(f"{src}: laid out for ONNX Runtime's CPU provider already (rewritten already?)")
    model, done = lay_out_for_cpu(model, meta)
    save_onnx(model, meta, out)
    return done


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
            moved, gone = rewrite_int8(src, out)
            print(f"rewrote {src} -> {out}: {moved} DepthToSpace on uint8, {gone} layout transposes gone")
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
