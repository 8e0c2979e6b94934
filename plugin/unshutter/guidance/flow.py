"""Optical flow between neighbouring frames and shot-cut detection.

Flow runs on the network-encoded (display-like) luminance with OpenCV's DIS
so HDR values and colour spaces do not change its behaviour.
"""
from __future__ import annotations

import cv2
import numpy as np

_DIS_PRESET = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM


def to_gray8(encoded: np.ndarray) -> np.ndarray:
    """Network-encoded RGB -> 8-bit luminance for flow and cut detection.

    Shape:
        encoded: [H, W, 3] -> [H, W] uint8
    """
    y = encoded[..., 0] * 0.2126 + encoded[..., 1] * 0.7152 + encoded[..., 2] * 0.0722
    return np.clip(y * 255.0 + 0.5, 0, 255).astype(np.uint8)


def dis_flow(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Dense flow from ``src`` to ``dst``: src(p) ~ dst(p + flow(p)).

    Shape:
        src, dst: [H, W] uint8 -> [H, W, 2] float32 (x, y)
    """
    dis = cv2.DISOpticalFlow_create(_DIS_PRESET)
    dis.setUseSpatialPropagation(True)
    return dis.calc(src, dst, None)


def is_cut(a: np.ndarray, b: np.ndarray) -> bool:
    """True when two consecutive frames belong to different shots.

    Uses the correlation of their luminance histograms and the difference of
    their 32x32 thumbnails; a real cut changes both, fast motion mostly the
    second and a flash mostly the first.

    Shape:
        a, b: [H, W] uint8
    """
    ha = cv2.calcHist([a], [0], None, [32], [0, 256])
    hb = cv2.calcHist([b], [0], None, [32], [0, 256])
    corr = float(cv2.compareHist(ha, hb, cv2.HISTCMP_CORREL))
    ta = cv2.resize(a, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    tb = cv2.resize(b, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    thumb = float(np.mean(np.abs(ta - tb))) / 255.0
    return (corr < 0.5 and thumb > 0.08) or thumb > 0.25


def motion_from_neighbors(
    prev: np.ndarray | None, cur: np.ndarray, nxt: np.ndarray | None
) -> tuple[np.ndarray | None, str]:
    """Motion of each pixel of ``cur`` over one frame interval, earliest to latest.

    With both neighbours it is the central difference (F(cur->next) -
    F(cur->prev)) / 2; with one, that one flow (negated for the previous
    frame). Callers pass ``None`` for a neighbour that is missing or across a
    cut. Returns the motion and which neighbours were used.

    Shape:
        prev, cur, nxt: [H, W] uint8 -> [H, W, 2] float32 or None
    """
    if prev is not None and nxt is not None:
        fwd = dis_flow(cur, nxt)
        bwd = dis_flow(cur, prev)
        return (fwd - bwd) * np.float32(0.5), "both"
    if nxt is not None:
        return dis_flow(cur, nxt), "next"
    if prev is not None:
        return -dis_flow(cur, prev), "prev"
    return None, "none"
