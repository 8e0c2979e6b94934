"""Growing a checkpoint into a wider/deeper network keeps its output."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from unshutter.decomposer import contract  # noqa: E402
from unshutter.train.flowunet_arch import FlowUNet  # noqa: E402
from unshutter.train.grow import load_grown, widen_tensor  # noqa: E402


def _trained(net: torch.nn.Module) -> torch.nn.Module:
    for p in net.parameters():  # a "trained" checkpoint: no zero heads
        torch.nn.init.normal_(p, std=0.05)
    return net.eval()


def _inputs(h: int = 24, w: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.rand(1, 3, h, w)
    g = torch.zeros(1, contract.GUIDANCE_CHANNELS, h, w)
    g[:, contract.MX], g[:, contract.MY], g[:, contract.MVALID] = 0.4, -0.1, 1.0
    return x, g


def test_wider_and_deeper_network_computes_what_the_checkpoint_did_then_learns():
    torch.manual_seed(3)
    small = _trained(FlowUNet(widths=[8, 16, 16, 24], blocks=[1, 1, 1, 2], mid_blocks=2, sharp_base=True))
    big = FlowUNet(widths=[12, 24, 20, 32], blocks=[1, 1, 2, 2], mid_blocks=2, sharp_base=True).eval()
    rep = load_grown(big, small.state_dict())
    assert rep["added_blocks"] == ["enc.2.1"]
    assert "merge.0.weight" in rep["widened"] and "stem.weight" in rep["widened"]
    assert not rep["unused"]
    x, g = _inputs()
    with torch.no_grad():
        torch.testing.assert_close(big(x, g), small(x, g), atol=1e-5, rtol=0)
    # the new channels are live: one gradient step on the head's new columns changes the output
    y = big(x, g)
    (y - 0.5).pow(2).mean().backward()
    grad = big.head.weight.grad
    assert float(grad[:, 8:].abs().max()) > 0.0  # new features reach the loss
    with torch.no_grad():
        big.head.weight -= 10.0 * grad
        assert float((big(x, g) - small(x, g)).abs().max()) > 1e-4


def test_merge_columns_are_remapped_block_by_block():
    old = torch.arange(2 * 4, dtype=torch.float32).reshape(2, 4, 1, 1)  # 2 outputs, cat([2 up, 2 skip])
    fresh = torch.full((3, 6, 1, 1), 9.0)
    out = widen_tensor("merge.0.weight", old, fresh)[..., 0, 0]
    assert out[:2].tolist() == [[0, 1, 0, 2, 3, 0], [4, 5, 0, 6, 7, 0]]
    assert out[2].tolist() == [9.0] * 6  # a new output channel keeps its fresh init


def test_a_narrower_target_is_refused_with_the_tensor_named():
    with pytest.raises(ValueError, match="stem.weight"):
        widen_tensor("stem.weight", torch.zeros(8, 4, 3, 3), torch.zeros(6, 4, 3, 3))
