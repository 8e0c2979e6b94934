"""Training losses: per-sub-frame reconstruction in order, and reblur consistency."""

from __future__ import annotations

from typing import Callable

import torch


def srgb_decode_t(y: torch.Tensor) -> torch.Tensor:
    """Torch version of :func:`unshutter.kernels.srgb_decode` (odd-symmetric)."""
    a = y.abs()
    lin = torch.where(a <= 0.04045, a / 12.92, ((a + 0.055) / 1.055).clamp_min(1e-8) ** 2.4)
    return torch.sign(y) * lin


def charbonnier(x: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    return torch.sqrt(x * x + eps * eps)


def _in_order(
    err: Callable[[torch.Tensor], torch.Tensor], out: torch.Tensor, gt: torch.Tensor, unguided: torch.Tensor
) -> torch.Tensor:
    """Mean of ``err(out - gt)`` in order; for unguided samples the better of both orders.

    Shape:
        out, gt [B, K, 3, H, W]; unguided [B] (1 = no guidance) -> scalar
    """
    fwd = err(out - gt).mean(dim=(1, 2, 3, 4))
    rev = err(out - gt.flip(1)).mean(dim=(1, 2, 3, 4))
    return torch.where(unguided > 0.5, torch.minimum(fwd, rev), fwd).mean()


def recon_loss(out: torch.Tensor, gt: torch.Tensor, unguided: torch.Tensor) -> torch.Tensor:
    """Charbonnier over every sub-frame in order (see :func:`_in_order`)."""
    return _in_order(charbonnier, out, gt, unguided)


def mse_loss(out: torch.Tensor, gt: torch.Tensor, unguided: torch.Tensor) -> torch.Tensor:
    """Mean squared error in order (see :func:`_in_order`): what pooled PSNR scores."""
    return _in_order(torch.square, out, gt, unguided)


def sharp_loss(sharp: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Charbonnier between the deblurred mid-exposure frame and the middle sub-frame (order-free).

    Shape:
        sharp [B, 3, H, W], gt [B, K, 3, H, W] (K odd) -> scalar
    """
    return charbonnier(sharp - gt[:, gt.shape[1] // 2]).mean()


def reblur_loss(out: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """|mean_k linear(out_k) - linear(clean blurred)|, in linear light.

    Shape:
        out [B, K, 3, H, W], clean [B, 3, H, W] -> scalar
    """
    re = srgb_decode_t(out).mean(dim=1)
    return charbonnier(re - srgb_decode_t(clean)).mean()


def motion_loss(est: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
    """L1 between the sign-free codes of the estimated and the true motion (guidance units).

    Shape:
        est, motion [B, 2, H, W] -> scalar
    """
    from unshutter.train.flowunet_arch import axis_code

    return (axis_code(est) - axis_code(motion)).abs().mean()
