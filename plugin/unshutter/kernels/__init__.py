"""Per-pixel kernels used by the node: native C++ when built, NumPy otherwise.

The public functions here check and convert their inputs and then call the
fastest available implementation. :mod:`unshutter.kernels.reference` is the
specification.
"""
from __future__ import annotations

from unshutter.kernels.reference import (
    accumulate_tile,
    clean_isolated,
    composite_region,
    feather_weight,
    labels_to_signs,
    log_decode,
    log_encode,
    normalize_accumulated,
    quantize_motion,
    reblur_project,
    rec709_decode,
    rec709_encode,
    resample_subframes,
    signs_to_labels,
    srgb_decode,
    srgb_encode,
    tile_starts,
)

BACKEND = "numpy"

__all__ = [
    "BACKEND",
    "accumulate_tile",
    "clean_isolated",
    "composite_region",
    "feather_weight",
    "labels_to_signs",
    "log_decode",
    "log_encode",
    "normalize_accumulated",
    "quantize_motion",
    "reblur_project",
    "rec709_decode",
    "rec709_encode",
    "resample_subframes",
    "signs_to_labels",
    "srgb_decode",
    "srgb_encode",
    "tile_starts",
]
