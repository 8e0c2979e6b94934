"""FlowUNet: a small guidance-conditioned U-Net that refines a flow-warp base.

For each sub-frame k the blurred frame is backward-warped by
``((k + 0.5) / K - 0.5) * m`` where ``m`` is the motion during the exposure
from the guidance (``MX, MY`` times ``MOTION_SCALE``, zero where ``MVALID`` is
0). The U-Net sees the blurred frame, the guidance and the K warps, and
predicts per sub-frame a gate ``a_k`` (per pixel) and a residual ``r_k``::

    out_k = blurred + a_k * (warp_k - blurred) + r_k

The head is zero-initialised and the gate's bias is a learnable scalar that
starts at 0, so an untrained network is exactly the identity (every sub-frame
equals the input).

With ``sharp_base`` a second head predicts one deblurred frame
``s = blurred + d`` (the sharp scene at mid-exposure) and the warps are taken
of ``s`` instead of the blurred frame, so one deblurring serves all K
sub-frames instead of each residual re-synthesising the detail at its own
position::

    out_k = blurred + a_k * (warp_k(s) - blurred) + r_k

``d``'s head starts at zero, so a network grown from one without
``sharp_base`` computes exactly what it did before training goes on.

With ``estimate_motion`` a small motion estimator (:class:`BlurMotion`) reads
the blur streaks of the frame itself and fills in the motion where the
guidance has none (``MVALID`` = 0): the "none" guidance and direction-only
overrides then still get a warp base. The streak gives the axis and length of
the motion but not its sign; the estimate is canonicalised to point right
(x > 0), or along the quadrant of the guidance where ``GVALID`` = 1. Inputs are replicate-padded to a multiple of
:data:`~unshutter.decomposer.contract.PAD_MULTIPLE` and outputs cropped back,
so any frame size works.

Shape:
    blurred [B, 3, H, W], guidance [B, 6, H, W] -> subframes [B, K, 3, H, W]
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from unshutter.decomposer.contract import (
    GUIDANCE_CHANNELS,
    GVALID,
    GX,
    GY,
    K,
    MOTION_SCALE,
    MVALID,
    MX,
    MY,
    PAD_MULTIPLE,
)
from unshutter.train.registry import ARCH_REGISTRY


def pixel_grid(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates of ``x`` without shape arithmetic (exports with dynamic H, W).

    Shape:
        x: [B, C, H, W] -> gx [1, 1, 1, W], gy [1, 1, H, 1] (0-based pixel indices)
    """
    row = torch.ones_like(x[:1, :1, :1, :])
    col = torch.ones_like(x[:1, :1, :, :1])
    gx = torch.cumsum(row, dim=3) - 1.0
    gy = torch.cumsum(col, dim=2) - 1.0
    return gx, gy


def warp_grids(like: torch.Tensor, motion: torch.Tensor, k: int = K) -> list[torch.Tensor]:
    """Sampling grids of :func:`flow_warp_stack`, one per sub-frame (reused when two images share the motion).

    Shape:
        like [B, C, H, W], motion [B, 2, H, W] -> k x [B, H, W, 2] (grid_sample's normalised coordinates)
    """
    gx, gy = pixel_grid(like)
    wn = gx[..., -1:] + 1.0  # W as a tensor
    hn = gy[..., -1:, :] + 1.0  # H as a tensor
    grids = []
    for i in range(k):
        t = (i + 0.5) / k - 0.5
        nx = (2.0 * (gx - t * motion[:, 0:1]) + 1.0) / wn - 1.0
        ny = (2.0 * (gy - t * motion[:, 1:2]) + 1.0) / hn - 1.0
        grids.append(torch.cat([nx, ny], dim=1).permute(0, 2, 3, 1))
    return grids


def warp_with(img: torch.Tensor, grids: list[torch.Tensor]) -> torch.Tensor:
    """Shape: img [B, C, H, W], k grids [B, H, W, 2] -> [B, k, C, H, W]."""
    return torch.stack(
        [F.grid_sample(img, g, mode="bilinear", padding_mode="border", align_corners=False) for g in grids], dim=1
    )


def flow_warp_stack(blurred: torch.Tensor, motion: torch.Tensor, k: int = K) -> torch.Tensor:
    """Backward-warp ``blurred`` to each sub-frame time: sub_k(p) = blurred(p - t_k m(p)).

    ``t_k = (k + 0.5) / K - 0.5`` in units of the exposure; ``motion`` is the
    displacement over the exposure in pixels.

    Shape:
        blurred [B, 3, H, W], motion [B, 2, H, W] -> [B, K, 3, H, W]
    """
    return warp_with(blurred, warp_grids(blurred, motion, k))


def motion_from_guidance(guidance: torch.Tensor) -> torch.Tensor:
    """Guidance -> motion over the exposure in pixels (0 where MVALID is 0). Shape: [B,6,H,W] -> [B,2,H,W]."""
    return guidance[:, MX : MY + 1] * guidance[:, MVALID : MVALID + 1] * MOTION_SCALE


class ResBlock(nn.Module):
    """conv3x3 -> LeakyReLU -> conv3x3, plus the input."""

    def __init__(self, c: int, dilation: int = 1) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(c, c, 3, padding=dilation, dilation=dilation)
        self.c2 = nn.Conv2d(c, c, 3, padding=dilation, dilation=dilation)
        self.act = nn.LeakyReLU(0.1, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.c2(self.act(self.c1(x)))


class Down(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride=2, padding=1)
        self.act = nn.LeakyReLU(0.1, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


class Up(nn.Module):
    """1x1 conv to 4*cout then PixelShuffle(2)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout * 4, 1)
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shuffle(self.conv(x))


def axis_code(v: torch.Tensor) -> torch.Tensor:
    """Sign-free code of a motion field: the doubled angle at the same length.

    ``v`` and ``-v`` map to the same code, so a loss on it asks only for the
    axis and length of the motion, which is what a blur streak shows.

    Shape: [B, 2, H, W] -> [B, 2, H, W]
    """
    vx, vy = v[:, 0:1], v[:, 1:2]
    n = torch.sqrt(vx * vx + vy * vy + 1e-8)
    return torch.cat([(vx * vx - vy * vy) / n, 2.0 * vx * vy / n], dim=1)


class BlurMotion(nn.Module):
    """Motion over the exposure from the blurred frame alone, at 1/8 resolution, up-sampled.

    Three stride-2 convs, then dilated residual blocks (receptive field about
    230 px, enough for streaks of 64+ px). Output in guidance units (px / MOTION_SCALE).

    Shape: [B, 3, H, W] (H, W multiples of 8) -> [B, 2, H, W]
    """

    def __init__(self, widths: tuple[int, int, int] = (16, 32, 48)) -> None:
        super().__init__()
        a, b, c = widths
        self.body = nn.Sequential(
            Down(3, a),
            Down(a, b),
            ResBlock(b),
            Down(b, c),
            ResBlock(c, 1),
            ResBlock(c, 2),
            ResBlock(c, 4),
            nn.Conv2d(c, 2, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.body(x), scale_factor=8.0, mode="bilinear", align_corners=False)


def fill_motion(guidance: torch.Tensor, est: torch.Tensor) -> torch.Tensor:
    """Guidance motion where MVALID = 1, else the estimate with its sign chosen.

    The sign of ``est`` follows the guidance quadrant where GVALID = 1 and
    points right (x >= 0) elsewhere.

    Shape: guidance [B, 6, H, W], est [B, 2, H, W] (guidance units) -> [B, 2, H, W] in px
    """
    mvalid = guidance[:, MVALID : MVALID + 1]
    gvalid = guidance[:, GVALID : GVALID + 1]
    quad = guidance[:, GX : GY + 1]
    d_quad = (quad * est).sum(dim=1, keepdim=True)
    d_right = est[:, 0:1]
    d = gvalid * d_quad + (1.0 - gvalid) * d_right
    sign = torch.where(d < 0, -torch.ones_like(d), torch.ones_like(d))
    m = mvalid * guidance[:, MX : MY + 1] + (1.0 - mvalid) * sign * est
    return m * MOTION_SCALE


@ARCH_REGISTRY.register()
class FlowUNet(nn.Module):
    """Guidance-conditioned U-Net over a flow-warp base (see module docstring).

    Args:
        widths: channels per scale, full resolution first (len = scales).
        blocks: residual blocks per encoder scale (same length as widths).
        mid_blocks: extra blocks at the coarsest scale.
        dec_blocks: residual blocks per decoder scale (applied after each merge).
        use_warp: feed the K flow warps and gate them into the output.
        estimate_motion: add :class:`BlurMotion` for pixels without guided motion.
        sharp_base: predict one deblurred frame and gate the warps of it, not of the input.
    """

    def __init__(
        self,
        widths: tuple[int, ...] | list[int] = (16, 32, 64, 96),
        blocks: tuple[int, ...] | list[int] = (1, 1, 1, 1),
        mid_blocks: int = 1,
        dec_blocks: int = 1,
        use_warp: bool = True,
        estimate_motion: bool = False,
        sharp_base: bool = False,
        k: int = K,
    ) -> None:
        super().__init__()
        widths = list(widths)
        blocks = list(blocks)
        if len(widths) != len(blocks):
            raise ValueError(f"FlowUNet: widths {widths} and blocks {blocks} differ in length")
        self.k = k
        self.use_warp = use_warp
        self.pad_multiple = PAD_MULTIPLE
        if PAD_MULTIPLE % (2 ** (len(widths) - 1)) != 0:
            raise ValueError(f"FlowUNet: {len(widths)} scales need PAD_MULTIPLE divisible by {2 ** (len(widths) - 1)}")
        cin = 3 + GUIDANCE_CHANNELS + (3 * k if use_warp else 0)
        self.stem = nn.Conv2d(cin, widths[0], 3, padding=1)
        self.act = nn.LeakyReLU(0.1, inplace=True)
        self.enc = nn.ModuleList([nn.Sequential(*[ResBlock(w) for _ in range(n)]) for w, n in zip(widths, blocks)])
        self.down = nn.ModuleList([Down(widths[i], widths[i + 1]) for i in range(len(widths) - 1)])
        self.mid = nn.Sequential(*[ResBlock(widths[-1]) for _ in range(mid_blocks)])
        self.up = nn.ModuleList([Up(widths[i + 1], widths[i]) for i in range(len(widths) - 1)])
        self.merge = nn.ModuleList([nn.Conv2d(2 * widths[i], widths[i], 1) for i in range(len(widths) - 1)])
        self.dec = nn.ModuleList(
            [nn.Sequential(*[ResBlock(widths[i]) for _ in range(dec_blocks)]) for i in range(len(widths) - 1)]
        )
        self.head = nn.Conv2d(widths[0], 4 * k, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.gate_bias = nn.Parameter(torch.zeros(()))
        self.motion_net = BlurMotion() if (estimate_motion and use_warp) else None
        self.sharp_head: nn.Conv2d | None = None
        if sharp_base and use_warp:
            self.sharp_head = nn.Conv2d(widths[0], 3, 3, padding=1)
            nn.init.zeros_(self.sharp_head.weight)
            nn.init.zeros_(self.sharp_head.bias)

    def forward(self, blurred: torch.Tensor, guidance: torch.Tensor) -> torch.Tensor:
        return self.forward_parts(blurred, guidance)[0]

    def forward_parts(
        self, blurred: torch.Tensor, guidance: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Sub-frames, the raw motion estimate (guidance units, padded size) or None, and the
        deblurred mid-exposure frame or None.

        Shape:
            blurred [B, 3, H, W], guidance [B, 6, H, W] ->
            [B, K, 3, H, W], [B, 2, Hp, Wp] | None, [B, 3, H, W] | None
        """
        h, w = blurred.shape[-2:]
        m = self.pad_multiple
        ph = (m - h % m) % m
        pw = (m - w % m) % m
        x = F.pad(blurred, (0, pw, 0, ph), mode="replicate")
        g = F.pad(guidance, (0, pw, 0, ph), mode="replicate")
        est = None
        warps = grids = None
        if self.use_warp:
            if self.motion_net is not None:
                est = self.motion_net(x)
                motion = fill_motion(g, est)
            else:
                motion = motion_from_guidance(g)
            grids = warp_grids(x, motion, self.k)
            warps = warp_with(x, grids)  # [B,K,3,H,W]
        sharp, gate, res = self.forward_core(x, g, warps)
        base = x.unsqueeze(1)
        if self.use_warp:
            if self.sharp_head is not None:
                assert grids is not None  # made whenever use_warp is set
                warps = warp_with(sharp, grids)
            y = base + gate * (warps - base) + res
        else:
            y = base + res
        sharp_out = sharp[:, :, :h, :w] if self.sharp_head is not None else None
        return y[:, :, :, :h, :w], est, sharp_out

    def forward_core(
        self, x: torch.Tensor, g: torch.Tensor, warps: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The network between the warps: what the exported model computes (see
        :mod:`unshutter.decomposer.contract`); the warps and the final blend stay outside it.

        ``warps`` are the K warps of ``x`` (None without ``use_warp``). The sub-frames are
        ``x + gate * (warp_k(sharp) - x) + res`` (``x + res`` without ``use_warp``); ``sharp``
        is ``x`` itself without ``sharp_base``.

        Shape:
            x [B, 3, Hp, Wp], g [B, 6, Hp, Wp] (padded to PAD_MULTIPLE), warps [B, K, 3, Hp, Wp] ->
            sharp [B, 3, Hp, Wp], gate [B, K, 1, Hp, Wp], res [B, K, 3, Hp, Wp]
        """
        b = x.shape[0]
        feats = [x, g] if warps is None else [x, g, warps.flatten(1, 2)]
        f = self.act(self.stem(torch.cat(feats, dim=1)))
        skips = []
        for i, enc in enumerate(self.enc):
            f = enc(f)
            if i < len(self.down):
                skips.append(f)
                f = self.down[i](f)
        f = self.mid(f)
        for i in reversed(range(len(self.up))):
            f = self.up[i](f)
            f = self.dec[i](self.merge[i](torch.cat([f, skips[i]], dim=1)))
        a = self.act(f)
        out = self.head(a)
        hp, wp = out.shape[-2:]
        res = out[:, : 3 * self.k].reshape(b, self.k, 3, hp, wp)
        gate = (out[:, 3 * self.k :] + self.gate_bias).unsqueeze(2)  # [B,K,1,H,W]
        sharp = x + self.sharp_head(a) if self.sharp_head is not None else x
        return sharp, gate, res


def build_network(spec: dict) -> nn.Module:
    """Network from a config's ``network:`` section (``type:`` + kwargs)."""
    return ARCH_REGISTRY.build(dict(spec))
