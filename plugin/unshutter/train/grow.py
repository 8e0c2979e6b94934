"""Grow a trained network into a bigger one that starts out computing the same thing.

Training on two CPU cores cannot afford to start a bigger network from
scratch. Growing keeps what the checkpoint learned:

- **More blocks:** residual blocks the checkpoint lacks get a zero last conv,
  so each starts as the identity.
- **More channels:** every old weight is copied into the top-left corner of
  its larger tensor. The new output channels keep their fresh random init so
  they compute features; the old output channels get zero weights from the
  new input channels. The old channels therefore see exactly their old
  inputs. Layers whose outputs are fixed (the heads) ignore the new
  features until training gives them weight. ``PixelShuffle`` groups input
  channels by output channel (``c * 4 + i``), so appending output channels
  keeps its mapping. The concatenating ``merge`` convs get their input
  columns remapped block by block.
"""

from __future__ import annotations

import torch
from torch import nn


def zero_new_residuals(net: nn.Module, missing: list[str]) -> list[str]:
    """Zero the last conv of residual blocks the checkpoint did not have, so they start as the identity."""
    grown = []
    for name in missing:
        if name.endswith(".c2.weight"):
            mod = net.get_submodule(name[: -len(".c2.weight")])
            nn.init.zeros_(mod.c2.weight)
            nn.init.zeros_(mod.c2.bias)
            grown.append(name[: -len(".c2.weight")])
    return grown


def _in_columns(name: str, old_in: int, new_in: int) -> list[int]:
    """Where each old input channel sits in the wider layer's input."""
    if name.startswith("merge.") and old_in % 2 == 0 and new_in % 2 == 0:
        # cat([up-sampled features, skip]): two blocks of equal width
        wo, wn = old_in // 2, new_in // 2
        return list(range(wo)) + [wn + j for j in range(wo)]
    return list(range(old_in))


def widen_tensor(name: str, old: torch.Tensor, fresh: torch.Tensor) -> torch.Tensor:
    """``fresh`` (the new network's init) with ``old`` embedded so the old channels compute what they did.

    Shape: conv weight [O, I, kh, kw] into [O', I', kh, kw] (O' >= O, I' >= I); bias [O] into [O'].
    """
    if old.dim() != fresh.dim() or any(o > n for o, n in zip(old.shape, fresh.shape)):
        raise ValueError(f"grow: {name}: cannot fit {tuple(old.shape)} into {tuple(fresh.shape)}")
    out = fresh.clone()
    if old.dim() == 1:
        out[: old.shape[0]] = old
        return out
    if old.dim() != 4 or old.shape[2:] != fresh.shape[2:]:
        raise ValueError(f"grow: {name}: only conv weights and biases can be widened, not {tuple(old.shape)}")
    o = old.shape[0]
    out[:o] = 0.0  # old outputs ignore the new features
    out[:o, _in_columns(name, old.shape[1], fresh.shape[1])] = old
    return out


def load_grown(net: nn.Module, state: dict[str, torch.Tensor]) -> dict[str, list[str]]:
    """Load ``state`` into a network that may have more blocks and more channels.

    Returns the names of the parameters that were widened, the residual blocks
    that were added, and checkpoint entries the network has no place for.
    """
    own = net.state_dict()
    widened, fitted = [], {}
    for k, v in state.items():
        if k not in own:
            continue
        if own[k].shape == v.shape:
            fitted[k] = v
        else:
            fitted[k] = widen_tensor(k, v, own[k])
            widened.append(k)
    missing, unexpected = net.load_state_dict(fitted, strict=False)
    unused = sorted(set(state) - set(own)) + list(unexpected)
    return {
        "widened": widened,
        "added_blocks": zero_new_residuals(net, list(missing)),
        "new": sorted(missing),
        "unused": unused,
    }
