"""Contact strips for ``unshutter bench quality --strips``: a frame's output sub-frames above the truth's.

Numbers say a run huddles or judders; a strip shows it: a sub-frame row that
barely changes over a truth row that travels, or a fast object that stays a
smear.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

MAX_WIDTH = 3200  # px; wider strips are scaled down
LABEL_H = 18


def strip_image(out: np.ndarray, truth: np.ndarray, labels: tuple[str, str] = ("output", "truth")) -> np.ndarray:
    """One 8-bit RGB image: the N output sub-frames in a row, the N truth frames below, each row labelled.

    Shape: out, truth [N, H, W, 3] network encoding -> [2 * (H + 18), N * W, 3] uint8 (before scaling down)
    """
    rows = []
    for frames, label in ((out, labels[0]), (truth, labels[1])):
        row = (np.concatenate(list(np.clip(frames, 0.0, 1.0)), axis=1) * 255.0 + 0.5).astype(np.uint8)  # [H, N*W, 3]
        band = np.zeros((LABEL_H, row.shape[1], 3), np.uint8)
        cv2.putText(band, label, (4, LABEL_H - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
        rows += [band, row]
    img = np.concatenate(rows, axis=0)
    if img.shape[1] > MAX_WIDTH:
        s = MAX_WIDTH / img.shape[1]
        img = cv2.resize(img, (MAX_WIDTH, max(1, round(img.shape[0] * s))), interpolation=cv2.INTER_AREA)
    return img


def write_strip(path: Path, out: np.ndarray, truth: np.ndarray, labels: tuple[str, str] = ("output", "truth")) -> Path:
    """Write :func:`strip_image` as a PNG (written to a temporary name, then renamed: never half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = strip_image(out, truth, labels)
    tmp = path.with_name(path.name + ".part.png")
    if not cv2.imwrite(str(tmp), np.ascontiguousarray(img[..., ::-1])):
        raise OSError(f"{path}: could not write the strip")
    tmp.replace(path)
    return path
