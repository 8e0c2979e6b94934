"""int8 quantisation of the split-contract decomposer: the graph rewrites are exact, the int8
model loads through the runtime, stays close to float32, and is what a CPU run picks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from unshutter.decomposer import contract


def _exported(tmp_path: Path) -> Path:
    """A split-contract model of the configured network with small random heads (not the identity)."""
    from unshutter.train.config import load_config
    from unshutter.train.export import export_onnx
    from unshutter.train.flowunet_arch import build_network

    torch.manual_seed(0)
    net = build_network(load_config()["network"]).eval()
    torch.nn.init.normal_(net.head.weight, std=0.02)
    net.gate_bias.data.fill_(0.8)
    torch.nn.init.normal_(net.sharp_head.weight, std=0.02)
    out = tmp_path / "m.onnx"
    export_onnx(net, out, split=True)
    return out


def _feeds(n: int, h: int = 48, w: int = 64, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """Inputs shaped like the runtime's: a smooth image, signs and motion, its warps."""
    from unshutter.decomposer.runtime import split_feed

    rng = np.random.default_rng(seed)
    feeds = []
    for _ in range(n):
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        x = np.stack(
            [0.5 + 0.4 * np.sin(xx / rng.uniform(3, 9) + c) * np.cos(yy / rng.uniform(3, 9)) for c in range(3)]
        )
        g = np.zeros((contract.GUIDANCE_CHANNELS, h, w), np.float32)
        m = rng.normal(0, 0.4, 2).astype(np.float32)
        g[contract.GX], g[contract.GY] = np.sign(m[0]), np.sign(m[1])
        g[contract.GVALID] = g[contract.MVALID] = 1.0
        g[contract.MX], g[contract.MY] = m[0], m[1]
        xp, gp, _, warps = split_feed(x.astype(np.float32), g, contract.K)
        feeds.append(
            {contract.INPUT_BLURRED: xp[None], contract.INPUT_GUIDANCE: gp[None], contract.INPUT_WARPS: warps[None]}
        )
    return feeds


def _run(path: Path, feed: dict) -> list[np.ndarray]:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(list(contract.SPLIT_OUTPUTS), feed)


def test_stem_split_and_head_merge_compute_the_same_graph(tmp_path: Path):
    import onnx

    from unshutter.train.quantize import GUIDANCE_STEM, MERGED_HEAD, merge_heads, split_stem

    src = _exported(tmp_path)
    model = onnx.load(str(src))
    split_stem(model)
    merge_heads(model)
    names = {n.name for n in model.graph.node}
    assert {GUIDANCE_STEM, MERGED_HEAD} <= names and "/stem/Conv" not in names and "/head/Conv" not in names
    rewritten = tmp_path / "r.onnx"
    onnx.save(model, str(rewritten))
    feed = _feeds(1)[0]
    for a, b in zip(_run(src, feed), _run(rewritten, feed)):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, atol=2e-5, rtol=0)


def test_rewrite_refuses_a_graph_it_does_not_know(tmp_path: Path):
    import onnx

    from unshutter.train.quantize import merge_heads, split_stem

    model = onnx.load(str(_exported(tmp_path)))
    split_stem(model)
    with pytest.raises(ValueError, match="/stem/Conv"):
        split_stem(model)  # already rewritten: no stem convolution left
    merge_heads(model)
    with pytest.raises(ValueError, match="/head/Conv"):
        merge_heads(model)


def test_int8_model_loads_in_the_runtime_and_stays_close_to_float32(tmp_path: Path):
    import onnx

    from unshutter.decomposer.runtime import Decomposer
    from unshutter.train.quantize import KEEP_FLOAT, LAYOUT, quantize

    src = _exported(tmp_path)
    q = tmp_path / "m_int8.onnx"
    quantize(src, q, _feeds(4))
    model = onnx.load(str(q))
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["unshutter.precision"] == "int8" and meta["unshutter.contract"] == "split"
    assert meta["unshutter.int8_of"] == "m.onnx" and meta["unshutter.k"] == str(contract.K)
    assert meta["unshutter.layout"] == LAYOUT
    # every convolution is an int8 one (fused, channels-last) except the ones kept in float32
    convs = [n for n in model.graph.node if n.op_type in ("Conv", "QLinearConv")]
    assert len(convs) == 40
    assert {n.name for n in convs if n.op_type == "Conv"} == set(KEEP_FLOAT)
    assert all(a.i == 1 for n in convs if n.op_type == "QLinearConv" for a in n.attribute if a.name == "channels_last")
    assert q.stat().st_size < 0.4 * src.stat().st_size

    x = _feeds(1, 40, 56, seed=5)[0]
    ref = Decomposer(src, device="cpu", threads=1).infer_planar(
        x[contract.INPUT_BLURRED][0, :, :37, :53], x[contract.INPUT_GUIDANCE][0, :, :37, :53]
    )
    dec = Decomposer(q, device="cpu", threads=1)
    assert dec.split and dec.info.model_id == "m_int8"
    got = dec.infer_planar(x[contract.INPUT_BLURRED][0, :, :37, :53], x[contract.INPUT_GUIDANCE][0, :, :37, :53])
    assert got.shape == ref.shape == (contract.K, 3, 37, 53)
    psnr = 10 * np.log10(1.0 / float(np.mean((got - ref) ** 2)))
    assert 30.0 < psnr < 120.0  # close, and really quantised (not the float32 graph again)


def test_quantize_refuses_a_whole_graph_model(tmp_path: Path):
    from unshutter.train.export import export_onnx
    from unshutter.train.flowunet_arch import build_network
    from unshutter.train.config import load_config
    from unshutter.train.quantize import quantize

    out = tmp_path / "whole.onnx"
    export_onnx(build_network(load_config()["network"]), out, split=False)
    with pytest.raises(ValueError, match="split-contract"):
        quantize(out, tmp_path / "q.onnx", [])
    assert not (tmp_path / "q.onnx").exists()


def test_a_cpu_run_without_a_model_picks_the_int8_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from unshutter.decomposer import locate
    from unshutter.decomposer.runtime import Decomposer

    src = _exported(tmp_path)
    monkeypatch.setattr(locate, "models_dir", lambda: tmp_path)
    src.rename(tmp_path / locate.DEFAULT_MODEL)
    assert locate.shipped_model_path(cpu=True) == tmp_path / locate.DEFAULT_MODEL  # no int8 model: float32
    (tmp_path / locate.INT8_MODEL).write_bytes((tmp_path / locate.DEFAULT_MODEL).read_bytes())
    assert locate.shipped_model_path(cpu=True) == tmp_path / locate.INT8_MODEL
    assert locate.shipped_model_path(cpu=False) == tmp_path / locate.DEFAULT_MODEL
    assert Decomposer(device="cpu", threads=1).info.path == str(tmp_path / locate.INT8_MODEL)
    assert Decomposer(tmp_path / locate.DEFAULT_MODEL, device="cpu", threads=1).info.path.endswith(
        locate.DEFAULT_MODEL
    )  # an explicit model wins


def test_export_refuses_int8_of_the_whole_graph(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from unshutter.train.export import main

    assert main(["--whole-graph", "--int8", "--out", str(tmp_path / "m.onnx")]) == 2
    assert "--int8 needs the split contract" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_shipped_int8_model_is_the_shipped_float32_model_quantised():
    """The two shipped files agree: same contract and K, the int8 one names the float32 one and
    gives nearly its sub-frames on a smooth frame with motion (the quality gate is bench quality)."""
    import onnxruntime as ort

    from unshutter.decomposer import locate
    from unshutter.decomposer.runtime import Decomposer

    models = Path(__file__).resolve().parents[2] / "models"
    fp32, int8 = models / locate.DEFAULT_MODEL, models / locate.INT8_MODEL
    assert int8.is_file() and int8.stat().st_size <= 5e6
    meta = ort.InferenceSession(str(int8), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
    assert meta["unshutter.precision"] == "int8" and meta["unshutter.int8_of"] == fp32.name
    assert meta["unshutter.contract"] == "split" and int(meta["unshutter.k"]) == contract.K
    feed = _feeds(1, 64, 96, seed=3)[0]
    x, g = feed[contract.INPUT_BLURRED][0], feed[contract.INPUT_GUIDANCE][0]
    ref = Decomposer(fp32, device="cpu", threads=1).infer_planar(x, g)
    got = Decomposer(int8, device="cpu", threads=1).infer_planar(x, g)
    psnr = 10 * np.log10(1.0 / float(np.mean((got - ref) ** 2)))
    assert psnr > 30.0, psnr  # 33.9 dB as shipped on this input


def _shuffles_on_dequantized(path: Path) -> int:
    import onnx

    g = onnx.load(str(path)).graph
    dq_out = {n.output[0] for n in g.node if n.op_type == "DequantizeLinear"}
    return sum(n.op_type == "DepthToSpace" and n.input[0] in dq_out for n in g.node)


def _runtime_ops(path: Path, tmp_path: Path) -> list[str]:
    """The operators ONNX Runtime's CPU provider runs for the model at ``path`` (its optimised graph)."""
    import onnx
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    opts.log_severity_level = 3
    ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return [n.op_type for n in onnx.load(opts.optimized_model_filepath).graph.node]


def test_layout_for_the_cpu_computes_the_same_bits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """quantize() lays the model out for ONNX Runtime's CPU provider; --rewrite does the same to a model
    quantised without it (pixel shuffles on dequantised floats, NCHW), and the two compute identical
    outputs. What ONNX Runtime then runs: int8 operators, the skip concats fused on uint8, no
    DepthToSpace, and one transpose into the first int8 convolution besides the shuffles' three."""
    from unshutter.train import quantize as qz

    src = _exported(tmp_path)
    feeds = _feeds(4)
    laid = tmp_path / "laid.onnx"
    qz.quantize(src, laid, feeds)
    monkeypatch.setattr(qz, "lay_out_for_cpu", lambda model, meta: (model, (0, 0)))
    plain = tmp_path / "plain.onnx"
    qz.quantize(src, plain, feeds)
    monkeypatch.undo()
    assert _shuffles_on_dequantized(plain) == 3
    rewritten = tmp_path / "rewritten.onnx"
    assert qz.main(["--rewrite", str(plain), "--out", str(rewritten)]) == 0
    assert rewritten.read_bytes() == laid.read_bytes()
    assert qz.main(["--rewrite", str(rewritten)]) == 2  # laid out already
    for seed, (h, w) in ((1, (80, 112)), (2, (48, 64))):
        feed = _feeds(1, h, w, seed=seed)[0]
        for a, b in zip(_run(plain, feed), _run(rewritten, feed)):
            assert a.tobytes() == b.tobytes()
    ops = _runtime_ops(rewritten, tmp_path)
    assert ops.count("QLinearConcat") == 3 and ops.count("QLinearConv") == 38 and "DepthToSpace" not in ops
    assert ops.count("Transpose") == 4, ops
    assert _runtime_ops(plain, tmp_path).count("Transpose") > 10  # what ONNX Runtime makes of the plain graph


def test_shipped_int8_model_is_laid_out_for_the_cpu(tmp_path: Path):
    from unshutter.decomposer import locate
    from unshutter.train.quantize import LAYOUT

    path = Path(__file__).resolve().parents[2] / "models" / locate.INT8_MODEL
    import onnxruntime as ort

    meta = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
    assert meta["unshutter.layout"] == LAYOUT
    ops = _runtime_ops(path, tmp_path)
    assert "DepthToSpace" not in ops and ops.count("Transpose") == 4
