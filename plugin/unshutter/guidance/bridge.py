"""Motion across the closed-shutter gap, measured between the two sharp outputs on either side of it.

Below 360 degrees the outputs in the gap are interpolated between a frame's
last sharp output and the next frame's first (:func:`unshutter.travel.gap_frames`).
Each end used to be carried along its own frame's motion, which the flow
measured on the *blurred* frames: it misses fast objects whose streaks it
cannot match (a small object over a textured background reads as the
background's motion), and the cross-fade of the two ends then shows such an
object twice, half transparent. The two ends are sharp, the easy case for
optical flow, so the flow between them is measured directly, started from
the frames' own motion (DIS alone reads large motions short), and replaces
that motion as far as the flow there and the flow back agree.
"""

from __future__ import annotations

import cv2
import numpy as np

from unshutter.guidance.flow import consistency, dis_flow


def _agreement(there: np.ndarray, back: np.ndarray) -> np.ndarray:
    """How well ``back`` (read where ``there`` lands) returns each pixel home, in [0, 1].

    The neighbour flow's consistency (:func:`unshutter.guidance.flow.consistency`) of the round trip's miss.

    Shape: there, back [H, W, 2] -> [H, W] float32
    """
    h, w = there.shape[:2]
    xs = np.arange(w, dtype=np.float32)[None, :] + there[..., 0]
    ys = np.arange(h, dtype=np.float32)[:, None] + there[..., 1]
    miss = there + cv2.remap(back, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return consistency(miss[..., 0] * miss[..., 0] + miss[..., 1] * miss[..., 1], there)


def gap_motion(
    last: np.ndarray,
    first: np.ndarray,
    span: float,
    last_motion: np.ndarray | None,
    first_motion: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The motions to carry ``last`` forward and ``first`` backward across the gap, and how far each is measured.

    ``last`` is a frame's last output inside the exposure, ``first`` the next
    frame's first, ``span`` frame intervals apart; ``last_motion`` and
    ``first_motion`` are their frames' motions per frame interval (None: at
    rest). Returns per frame interval the motion of ``last``'s pixels and of
    ``first``'s pixels, each moved from its frame's motion toward the flow
    between the two ends by that flow's forward/backward agreement, and the
    agreements (the follow weight's role where two landings meet).

    Shape:
        last, first: [H, W] uint8 grey; last_motion, first_motion: [H, W, 2] or None
        -> [H, W, 2], [H, W, 2] float32, [H, W], [H, W] float32
    """
    h, w = last.shape[:2]
    dt = np.float32(span)
    rest = np.zeros((h, w, 2), np.float32)
    own_last = rest if last_motion is None else np.asarray(last_motion, np.float32)
    own_first = rest if first_motion is None else np.asarray(first_motion, np.float32)
    there = dis_flow(last, first, own_last * dt)  # last(p) ~ first(p + there(p))
    back = dis_flow(first, last, own_first * -dt)  # first(p) ~ last(p + back(p))
    agree_last, agree_first = _agreement(there, back), _agreement(back, there)
    moved_last = own_last + agree_last[..., None] * (there / dt - own_last)
    moved_first = own_first + agree_first[..., None] * (back / -dt - own_first)
    return moved_last.astype(np.float32), moved_first.astype(np.float32), agree_last, agree_first
