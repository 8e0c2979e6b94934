"""The run's manifest, ``<name>.unshutter[.A-B].json``: what was rendered from what, with which settings.

Written last, atomically, once every output of the run is on disk; its frame
signatures let a farm or a re-run tell complete outputs from stale ones.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

import unshutter
from unshutter import color
from unshutter.io import atomic
from unshutter.io.clip import Clip
from unshutter.node import Node, NodeParams
from unshutter.render.numbering import Numbering
from unshutter.render.target import OutputTarget


def versions() -> dict[str, str]:
    """Versions of the libraries that decide the output's pixels and files."""
    import cv2
    import OpenImageIO
    import PyOpenColorIO

    from unshutter import kernels

    v = {
        "unshutter": unshutter.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "openimageio": OpenImageIO.__version__,
        "opencolorio": PyOpenColorIO.__version__,
        "opencv": cv2.__version__,
        "kernels": kernels.BACKEND,
    }
    try:
        import onnxruntime

        v["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        pass
    return v


def manifest(
    clip: Clip,
    target: OutputTarget,
    num: Numbering,
    params: NodeParams,
    node: Node,
    colorspaces: tuple[color.ColorTransform, color.ColorTransform],
    guidance: dict[str, str],
    run_sig: str,
    frame_sigs: dict[str, str],
    seconds: float,
    complete: bool = True,
) -> dict[str, Any]:
    """The manifest's content (``guidance``: where each frame's guidance came from)."""
    in_cs, out_cs = colorspaces
    first_out, last_out = num.span()
    info = node.decomposer.info
    return {
        "unshutter": unshutter.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "input": {
            "source": clip.source,
            "kind": clip.kind,
            "first": clip.first,
            "last": clip.last,
            "width": clip.width,
            "height": clip.height,
            "channels": clip.meta.channel_names,
            "pixel_type": clip.meta.format,
            "rate": str(clip.rate),
            "colorspace": in_cs.colorspace,
        },
        "output": {
            "target": target.display(),
            "kind": target.kind,
            "rate": str(num.rate),
            "first": first_out,
            "last": last_out,
            "colorspace": out_cs.colorspace,
        },
        "frames": [num.a, num.b],
        "factor": num.factor,
        "shutter": params.shutter,
        "params": params.to_dict(),
        "frame_map": num.frame_map(),
        "guidance": guidance,
        "model": {"path": info.path, "id": info.model_id, "sha256": info.sha256, "k": info.k},
        "execution_provider": info.provider,
        "versions": versions(),
        "seconds": round(seconds, 3),
        "complete": complete,
        "signature": run_sig,
        "frame_signatures": dict(frame_sigs),
    }


def write_manifest(path: Path, content: dict[str, Any]) -> None:
    """Write the manifest atomically (indented, one trailing newline)."""
    atomic.write_text(path, json.dumps(content, indent=2) + "\n")
