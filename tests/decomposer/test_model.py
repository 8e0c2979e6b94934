"""The decomposer network: shapes for any size, zero-init identity, flow warp, ONNX export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from unshutter.decomposer import contract
from unshutter.train.config import load_config
from unshutter.train.flowunet_arch import FlowUNet, build_network, flow_warp_stack
from unshutter.train.losses import recon_loss
from unshutter.train.registry import ARCH_REGISTRY


def _net(seed: int = 0, trained_like: bool = False) -> FlowUNet:
    torch.manual_seed(seed)
    net = build_network(load_config()["network"]).eval()
    if trained_like:  # give the zero head some weights so the output is not the identity
        torch.nn.init.normal_(net.head.weight, std=0.02)
        net.gate_bias.data.fill_(0.8)
        if net.sharp_head is not None:
            torch.nn.init.normal_(net.sharp_head.weight, std=0.02)
    return net


@pytest.mark.parametrize("h,w", [(1, 1), (5, 7), (17, 33), (16, 16)])
def test_output_shape_for_any_size(h, w):
    net = _net(trained_like=True)
    with torch.no_grad():
        y = net(torch.rand(2, 3, h, w), torch.randn(2, contract.GUIDANCE_CHANNELS, h, w))
    assert y.shape == (2, contract.K, 3, h, w)
    assert torch.isfinite(y).all()


def test_untrained_network_is_exact_identity():
    net = _net()
    x = torch.rand(1, 3, 21, 30)
    g = torch.randn(1, contract.GUIDANCE_CHANNELS, 21, 30)
    with torch.no_grad():
        y = net(x, g)
    assert torch.equal(y, x[:, None].expand_as(y))


def test_flow_warp_zero_motion_is_identity_and_shifts_by_motion():
    x = torch.rand(1, 3, 20, 24)
    w0 = flow_warp_stack(x, torch.zeros(1, 2, 20, 24))
    torch.testing.assert_close(w0, x[:, None].expand_as(w0), atol=1e-6, rtol=0)
    # motion of 7 px in x: sub-frame 0 is at t = -3/7 -> shifted by -3 px (content moves left)
    m = torch.zeros(1, 2, 20, 24)
    m[:, 0] = 7.0
    w = flow_warp_stack(x, m)
    # sub_0(p) = x(p + 3): interior columns
    torch.testing.assert_close(w[0, 0, :, :, 0:18], x[0, :, :, 3:21], atol=1e-5, rtol=0)
    torch.testing.assert_close(w[0, 6, :, :, 3:21], x[0, :, :, 0:18], atol=1e-5, rtol=0)


def test_registry_builds_and_rejects_bad_specs():
    assert "FlowUNet" in ARCH_REGISTRY.names()
    with pytest.raises(ValueError, match="unknown arch"):
        ARCH_REGISTRY.build({"type": "NoSuchNet"})
    with pytest.raises(ValueError, match="bad options"):
        ARCH_REGISTRY.build({"type": "FlowUNet", "no_such_option": 1})
    with pytest.raises(ValueError):
        FlowUNet(widths=[8, 16], blocks=[1])


def test_recon_loss_takes_best_order_only_without_guidance():
    gt = torch.rand(2, contract.K, 3, 4, 4)
    out = gt.flip(1)
    both = recon_loss(out, gt, torch.tensor([1.0, 1.0]))
    ordered = recon_loss(out, gt, torch.tensor([0.0, 0.0]))
    assert float(both) < 2e-3 < float(ordered)


@pytest.mark.parametrize("split", [True, False])
def test_onnx_export_matches_torch(tmp_path: Path, split: bool):
    from unshutter.train.export import check_against_torch, export_onnx

    net = _net(trained_like=True)
    out = tmp_path / "m.onnx"
    export_onnx(net, out, metadata={"unshutter.test": 1}, split=split)
    assert check_against_torch(net, out) < 1e-4


def test_split_export_refuses_a_network_that_estimates_its_motion(tmp_path: Path):
    from unshutter.train.export import export_onnx

    net = build_network({**load_config()["network"], "estimate_motion": True})
    with pytest.raises(ValueError, match="estimate_motion"):
        export_onnx(net, tmp_path / "m.onnx", split=True)
    export_onnx(net, tmp_path / "m.onnx", split=False)  # the whole graph still exports


def test_forward_core_is_the_network_between_the_warps():
    """The split contract's five steps, done in torch around forward_core, are the network."""
    net = _net(trained_like=True)
    x = torch.rand(1, 3, 32, 48)
    g = torch.zeros(1, contract.GUIDANCE_CHANNELS, 32, 48)
    g[:, contract.MX], g[:, contract.MY], g[:, contract.MVALID] = 0.3, -0.1, 1.0
    motion = g[:, contract.MX : contract.MY + 1] * g[:, contract.MVALID : contract.MVALID + 1] * contract.MOTION_SCALE
    with torch.no_grad():
        sharp, gate, res = net.forward_core(x, g, flow_warp_stack(x, motion))
        y = x[:, None] + gate * (flow_warp_stack(sharp, motion) - x[:, None]) + res
        torch.testing.assert_close(y, net(x, g), atol=1e-6, rtol=0)


def test_shipped_model_follows_the_contract():
    import onnxruntime as ort

    from unshutter.decomposer.locate import default_model_path

    path = default_model_path()
    assert path.is_file() and path.stat().st_size <= 20e6
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    meta = sess.get_modelmeta().custom_metadata_map
    assert int(meta["unshutter.k"]) == contract.K
    k, h, w = contract.K, 16, 32
    x = np.random.default_rng(0).random((1, 3, h, w), dtype=np.float32)
    feeds = {"blurred": x, "guidance": np.zeros((1, 6, h, w), np.float32)}
    assert meta.get("unshutter.contract") == "split"  # the one contract, CPU and GPU
    assert [i.name for i in sess.get_inputs()] == list(contract.SPLIT_INPUTS)
    assert [o.name for o in sess.get_outputs()] == list(contract.SPLIT_OUTPUTS)
    outs = sess.run(None, {**feeds, "warps": np.repeat(x[:, None], k, axis=1)})
    assert [a.shape for a in outs] == [(1, 3, h, w), (1, k, 1, h, w), (1, k, 3, h, w)]
    assert all(np.isfinite(a).all() for a in outs)


def test_axis_code_and_motion_loss_ignore_the_sign():
    from unshutter.train.flowunet_arch import axis_code
    from unshutter.train.losses import motion_loss

    v = torch.randn(2, 2, 9, 11)
    torch.testing.assert_close(axis_code(v), axis_code(-v))
    # same length, and a 90-degree turn of the motion flips the code
    torch.testing.assert_close(axis_code(v).norm(dim=1), v.norm(dim=1), atol=1e-3, rtol=0)
    turned = torch.stack([-v[:, 1], v[:, 0]], dim=1)
    torch.testing.assert_close(axis_code(turned), -axis_code(v), atol=1e-5, rtol=0)
    assert float(motion_loss(-v, v)) < 1e-5 < float(motion_loss(turned, v))


def test_fill_motion_keeps_guided_motion_and_signs_the_estimate():
    from unshutter.train.flowunet_arch import fill_motion

    g = torch.zeros(1, contract.GUIDANCE_CHANNELS, 1, 3)
    est = torch.tensor([-0.5, 0.25]).reshape(1, 2, 1, 1).expand(1, 2, 1, 3).clone()
    # pixel 0: guided motion; pixel 1: no guidance; pixel 2: a direction (left) without magnitude
    g[0, contract.MX, 0, 0], g[0, contract.MY, 0, 0] = 0.1, -0.2
    g[0, contract.MVALID, 0, 0] = g[0, contract.GVALID, 0, 0] = 1.0
    g[0, contract.GX, 0, 2], g[0, contract.GVALID, 0, 2] = -1.0, 1.0
    m = fill_motion(g, est) / contract.MOTION_SCALE
    torch.testing.assert_close(m[0, :, 0, 0], torch.tensor([0.1, -0.2]))
    torch.testing.assert_close(m[0, :, 0, 1], torch.tensor([0.5, -0.25]))  # canonical: points right
    torch.testing.assert_close(m[0, :, 0, 2], torch.tensor([-0.5, 0.25]))  # follows the left quadrant


def test_motion_estimator_only_acts_without_guided_motion():
    torch.manual_seed(0)
    net = build_network({**load_config()["network"], "estimate_motion": True}).eval()
    torch.nn.init.normal_(net.head.weight, std=0.02)
    net.gate_bias.data.fill_(0.8)
    assert net.motion_net is not None
    x = torch.rand(1, 3, 32, 48)
    g = torch.zeros(1, contract.GUIDANCE_CHANNELS, 32, 48)
    g[:, contract.MX] = 0.3
    g[:, contract.MVALID] = 1.0
    with torch.no_grad():
        y1 = net(x, g)
        torch.nn.init.normal_(net.motion_net.body[-1].weight, std=0.5)  # a different estimate
        y2 = net(x, g)
        g0 = torch.zeros_like(g)
        y3 = net(x, g0)
        torch.nn.init.normal_(net.motion_net.body[-1].weight, std=0.5)
        y4 = net(x, g0)
    torch.testing.assert_close(y1, y2)  # full guidance: the estimate is not used
    assert float((y3 - y4).abs().max()) > 1e-4  # no guidance: the estimate drives the warps


def test_network_grown_with_sharp_base_and_blocks_computes_what_the_checkpoint_did():
    from unshutter.train.grow import zero_new_residuals

    torch.manual_seed(1)
    small = FlowUNet(widths=[8, 16, 16, 16], blocks=[1, 1, 1, 1], mid_blocks=1).eval()
    for p in small.parameters():  # a "trained" checkpoint: no zero heads
        torch.nn.init.normal_(p, std=0.05)
    big = FlowUNet(widths=[8, 16, 16, 16], blocks=[1, 1, 1, 1], mid_blocks=3, sharp_base=True).eval()
    missing, unexpected = big.load_state_dict(small.state_dict(), strict=False)
    assert not unexpected
    assert zero_new_residuals(big, missing) == ["mid.1", "mid.2"]
    x = torch.rand(1, 3, 24, 40)
    g = torch.zeros(1, contract.GUIDANCE_CHANNELS, 24, 40)
    g[:, contract.MX], g[:, contract.MY], g[:, contract.MVALID] = 0.4, -0.1, 1.0
    with torch.no_grad():
        torch.testing.assert_close(big(x, g), small(x, g), atol=1e-6, rtol=0)
        torch.nn.init.normal_(big.sharp_head.weight, std=0.05)  # once it deblurs, the output moves
        assert float((big(x, g) - small(x, g)).abs().max()) > 1e-3


def test_sharp_base_warps_the_deblurred_frame_into_every_subframe():
    net = FlowUNet(widths=[8, 16], blocks=[1, 1], sharp_base=True).eval()
    net.gate_bias.data.fill_(1.0)  # out_k = warp_k(s), residual 0
    net.sharp_head.bias.data.fill_(0.1)  # s = blurred + 0.1
    x = torch.rand(1, 3, 20, 24)
    m = torch.zeros(1, contract.GUIDANCE_CHANNELS, 20, 24)
    m[:, contract.MX], m[:, contract.MVALID] = 7.0 / contract.MOTION_SCALE, 1.0
    with torch.no_grad():
        y, _, sharp = net.forward_parts(x, m)
    torch.testing.assert_close(sharp, x + 0.1)
    torch.testing.assert_close(y, flow_warp_stack(x + 0.1, m[:, contract.MX : contract.MY + 1] * contract.MOTION_SCALE))
    assert float((y[:, 0] - y[:, -1]).abs().max()) > 0.1  # the warps differ across time


def test_mse_and_sharp_losses():
    from unshutter.train.losses import mse_loss, sharp_loss

    gt = torch.rand(2, contract.K, 3, 4, 4)
    out = gt.flip(1)
    assert (
        float(mse_loss(out, gt, torch.tensor([1.0, 1.0]))) < 1e-12 < float(mse_loss(out, gt, torch.tensor([0.0, 0.0])))
    )
    torch.testing.assert_close(mse_loss(gt + 0.1, gt, torch.zeros(2)), torch.tensor(0.01))
    assert float(sharp_loss(gt[:, contract.K // 2], gt)) < 2e-3 < float(sharp_loss(gt[:, 0], gt))
