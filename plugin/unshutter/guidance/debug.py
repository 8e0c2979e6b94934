"""Colour-coded images of guidance maps, for checking what the node was told."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import OpenImageIO as oiio

from unshutter.errors import OutputError
from unshutter.guidance.encode import labels
from unshutter.io.atomic import atomic_path

# label -> RGB: static grey, 1 (+x,-y) red, 2 (-x,-y) green, 3 (-x,+y) blue, 4 (+x,+y) yellow
PALETTE = np.array(
    [[128, 128, 128], [230, 60, 60], [60, 200, 80], [60, 110, 230], [240, 210, 50]], np.uint8
)
NO_GUIDANCE = np.array([0, 0, 0], np.uint8)


def guidance_image(g: np.ndarray) -> np.ndarray:
    """Shape: [H, W, 6] -> [H, W, 3] uint8 (black where there is no guidance)."""
    lab = labels(g)
    img = np.empty(lab.shape + (3,), np.uint8)
    known = lab != 255
    img[known] = PALETTE[lab[known]]
    img[~known] = NO_GUIDANCE
    return img


def write_guidance_image(path: Path, g: np.ndarray) -> None:
    img = guidance_image(g)
    with atomic_path(path) as tmp:
        out = oiio.ImageOutput.create(str(tmp))
        if out is None:
            raise OutputError(f"{path}: {oiio.geterror() or 'no image writer'}")
        out.open(str(tmp), oiio.ImageSpec(img.shape[1], img.shape[0], 3, "uint8"))
        out.write_image(img)
        out.close()
