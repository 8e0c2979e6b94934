"""The frame's dominant motion, for the pixels whose own flow cannot be read.

Optical flow reads a motion only where the picture has structure in two
directions. On a flat sky, a smooth wall or along a straight edge (the
aperture problem) DIS has nothing to match: its patches drift with the
regulariser, and on a fast pan they come out far short of the scene's motion
(a 90 px pan of a low-texture picture read as 20 px). The camera's motion is
what those pixels almost always do, and it can be read from the textured,
self-consistent pixels elsewhere: a robust (RANSAC) affine fit of the flow
there. :func:`fill_untextured` blends each pixel's flow toward that fit by how
little structure it has, unless the coarse block search says the pixel moves
otherwise: a fast object is smooth inside too (its own blur smooths it), and
filling it with the background's motion would undo what the search found.
"""

from __future__ import annotations

import cv2
import numpy as np

from unshutter import kernels
from unshutter.kernels import reference

TEXTURE_SIGMA = 3.0
"""Gaussian window (px) of the structure tensor."""

TEXTURE_HALF = 1e-4
"""Smallest structure-tensor eigenvalue (Sobel gradients of [0, 1] grey) at which a pixel keeps half its own flow.

About a third of an 8-bit grey level per pixel in the weaker direction. Chosen on
held-out synthetic clips and bikes (``unshutter bench flow``, seed 1; the
benchmark's default seed is another): 3e-4 and 1e-3 fill more and read the
synthetic pans better, but pull bikes' fast car further toward the static scene.
"""

AGREE_REL = 1.0
"""The coarse motion may be off the fit by this fraction of the fit's length (at least 4 px) at 1/e of the fill."""

FIT_POINTS = 4000
"""About this many grid points enter the affine fit."""

RANSAC_PX = 2.0


def texture(gray: np.ndarray) -> np.ndarray:
    """Smaller eigenvalue of the structure tensor: structure in the weakest direction.

    Shape: gray [H, W] uint8 -> [H, W] float32
    """
    g = gray.astype(np.float32) * np.float32(1.0 / 255.0)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    a = cv2.GaussianBlur(gx * gx, (0, 0), TEXTURE_SIGMA)
    b = cv2.GaussianBlur(gx * gy, (0, 0), TEXTURE_SIGMA)
    d = cv2.GaussianBlur(gy * gy, (0, 0), TEXTURE_SIGMA)
    return kernels.smaller_eigenvalue(a, b, d)


def affine_fit(motion: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray | None, float]:
    """The 2x3 affine map (float64) that best explains ``motion`` at its better-weighted half (RANSAC).

    Returns the map and the share of the fit's points that agree with it
    (within RANSAC_PX), or (None, 0) when there is nothing to fit.

    Shape: motion [H, W, 2], weight [H, W] -> [2, 3] float64 or None, float
    """
    h, w = motion.shape[:2]
    step = max(1, int(np.sqrt(h * w / FIT_POINTS)))
    ys, xs = np.mgrid[step // 2 : h : step, step // 2 : w : step]
    wt = weight[ys, xs]
    sel = wt > max(float(np.median(wt)), 1e-12)
    if int(sel.sum()) < 6:
        return None, 0.0
    src = np.stack([xs[sel], ys[sel]], axis=-1).astype(np.float32)
    dst = src + motion[ys[sel], xs[sel]]
    a, inliers = cv2.estimateAffine2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PX)
    if a is None:
        return None, 0.0
    return np.ascontiguousarray(a, np.float64), float(inliers.mean())


def affine_motion(motion: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray | None, float]:
    """The affine motion field that best explains ``motion`` at its better-weighted half (:func:`affine_fit`).

    Returns the field and the share of the fit's points that agree with it, or (None, 0).

    Shape: motion [H, W, 2], weight [H, W] -> [H, W, 2] float32 or None, float
    """
    a, share = affine_fit(motion, weight)
    if a is None:
        return None, 0.0
    return reference.affine_field(a, *motion.shape[:2]), share  # the field the fill's kernels compute per pixel


def fill_untextured(
    motion: np.ndarray,
    trust: np.ndarray,
    gray: np.ndarray,
    coarse: np.ndarray | None = None,
    tex: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Blend the flow toward the dominant affine motion where ``gray`` has little structure.

    A pixel without structure (``c = tex / (tex + TEXTURE_HALF)`` near 0) takes
    the fit (of the textured, trusted pixels) in place of its own flow, but only
    as far as ``coarse`` (the block search's motion, which finds fast objects
    that are smooth inside) agrees with the fit: weight
    ``(1 - c) * exp(-(|coarse - fit| / s)^2)``, ``s = max(4, AGREE_REL * |fit|)``.
    Without ``coarse`` the gate is open. Trust moves the same way toward the
    fit's inlier share: a filled pixel is as trustworthy as the dominant motion
    is dominant.

    ``tex`` is ``texture(gray)`` when the caller has it already. The fit's
    field is computed per pixel by the kernels, never stored (4K: 66 MB less).

    Shape: motion [H, W, 2], trust [H, W], gray [H, W] uint8, coarse [H, W, 2] or None, tex [H, W] or None
        -> [H, W, 2], [H, W] float32
    """
    if tex is None:
        tex = texture(gray)
    a, share = affine_fit(motion, tex * trust)
    if a is None:
        return motion, trust
    gate = None
    if coarse is not None:
        gate = kernels.affine_gate(np.ascontiguousarray(coarse, np.float32), a, AGREE_REL, 4.0)  # [H, W]
        np.exp(gate, out=gate)  # numpy's exp, so the bits stay numpy's
    return kernels.affine_fill(
        np.ascontiguousarray(motion, np.float32),
        np.ascontiguousarray(trust, np.float32),
        np.ascontiguousarray(tex, np.float32),
        gate,
        a,
        TEXTURE_HALF,
        share,
    )
