"""The decomposer's input/output contract, shared by training, export and runtime.

Everything that must agree between the network trained in ``unshutter.train``
and the node that runs the exported ONNX model lives here, so the two can not
drift apart.

Split contract (models exported since the speed work; the one contract, for CPU and GPU)
---------------------------------------------------------------------------------------

The flow warps are not in the graph: ONNX Runtime's GridSample costs more than
a fifth of the graph on a CPU, the native kernel a tenth of that. The runtime
(:mod:`unshutter.decomposer.runtime`) does, per tile:

1. pad ``blurred`` and ``guidance`` to multiples of :data:`PAD_MULTIPLE`
   (edge replicate) and transpose them to planar NCHW;
2. ``motion = guidance[MX:MY+1] * guidance[MVALID] * MOTION_SCALE`` (px over the exposure);
3. ``warps = kernels.flow_warp(blurred, motion, K)``: sub-frame k samples the
   frame at ``p - t_k * motion(p)``, ``t_k = (k + 0.5) / K - 0.5`` (bilinear,
   coordinates clamped to the frame);
4. run the model: inputs ``blurred`` [B, 3, Hp, Wp], ``guidance`` [B, 6, Hp, Wp],
   ``warps`` [B, K, 3, Hp, Wp]; outputs ``sharp`` [B, 3, Hp, Wp] (the deblurred
   frame at mid-exposure), ``gate`` [B, K, 1, Hp, Wp], ``residual`` [B, K, 3, Hp, Wp];
5. ``subframes_k = blurred + gate_k * (flow_warp(sharp)_k - blurred) + residual_k``
   (``kernels.warp_blend``), cropped back to H x W.

That is exactly what the trained network computes (``FlowUNet.forward_core``
is the graph). On CUDA the same five steps run on the device (CuPy twins of
the kernels, IO binding), see docs/gpu.md.

Whole-graph contract (models exported before; still loaded)
-----------------------------------------------------------

Model inputs (float32, NCHW, any H and W; the network pads internally):

- ``blurred``  [B, 3, H, W]: the blurred frame in *network encoding*
  (see :mod:`unshutter.color`), nominally in [0, 1].
- ``guidance`` [B, 6, H, W]: per-pixel conditioning, channels
  ``GX, GY`` (sign of the motion's x/y component in {-1, 0, +1}, y down, the
  4-quadrant map of Animation-from-Blur; (0, 0) is static),
  ``GVALID`` (1 where the direction is known, 0 for "no guidance"),
  ``MX, MY`` (motion during the exposure in pixels at the frame's resolution,
  divided by :data:`MOTION_SCALE`), ``MVALID`` (1 where the magnitude is known,
  i.e. it came from optical flow).

Model output:

- ``subframes`` [B, K, 3, H, W]: K sharp sub-frames in network encoding,
  earliest first; sub-frame k shows the middle of the k-th of K equal slices
  of the exposure.
"""

from __future__ import annotations

K: int = 7
"""Number of sub-frames the shipped decomposer predicts."""

MOTION_SCALE: float = 32.0
"""Pixels of motion per unit in the MX/MY channels."""

GUIDANCE_CHANNELS: int = 6
GX, GY, GVALID, MX, MY, MVALID = range(GUIDANCE_CHANNELS)

INPUT_BLURRED = "blurred"
INPUT_GUIDANCE = "guidance"
OUTPUT_SUBFRAMES = "subframes"
INPUT_WARPS = "warps"
OUTPUT_SHARP = "sharp"
OUTPUT_GATE = "gate"
OUTPUT_RESIDUAL = "residual"
SPLIT_INPUTS = (INPUT_BLURRED, INPUT_GUIDANCE, INPUT_WARPS)
SPLIT_OUTPUTS = (OUTPUT_SHARP, OUTPUT_GATE, OUTPUT_RESIDUAL)

PAD_MULTIPLE: int = 16
"""The network pads H and W up to a multiple of this internally."""

STATIC_THRESHOLD_PX: float = 0.5
"""Motion magnitude (px per exposure) below which a pixel is labelled static."""

# Animation-from-Blur labels for the quantised map (used for debug images and
# override files): 0 static, 1 (+1,-1), 2 (-1,-1), 3 (-1,+1), 4 (+1,+1).
LABEL_TO_SIGNS: dict[int, tuple[int, int]] = {
    0: (0, 0),
    1: (1, -1),
    2: (-1, -1),
    3: (-1, 1),
    4: (1, 1),
}
