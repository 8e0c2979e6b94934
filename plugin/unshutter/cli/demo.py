"""``unshutter demo``: the main job on the bundled sample blurred clip."""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path
from typing import Any

from unshutter.cli.run import Reporter
from unshutter.node import NodeParams
from unshutter.pipeline import RunConfig, run


def sample_clip() -> str:
    """The bundled 12-frame HDR EXR sample (frames 1001-1012)."""
    folder = Path(str(resources.files("unshutter").joinpath("data/sample")))
    return str(folder / "sunset_pan.####.exr")


def add_parser(sub: Any) -> None:
    p = sub.add_parser("demo", help="run on the bundled sample blurred clip and write a preview")
    p.add_argument("-o", "--output", default="unshutter-demo", help="output folder (default ./unshutter-demo)")
    p.add_argument("--factor", type=int, default=7, help="sub-frames per source frame (default 7)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    src = sample_clip()
    out = Path(args.output).resolve()
    print(f"sample blurred clip: {src}")
    cfg = RunConfig(
        input=src, output=str(out / "sunset_pan.####.exr"), params=NodeParams(factor=args.factor), preview=True
    )
    rep = Reporter(json_lines=False, quiet=args.quiet)
    result = run(cfg, rep)
    rep.close()
    print(f"slow-motion result: {result.output}  ({result.written} frames, factor {args.factor})")
    print(f"manifest: {result.manifest}")
    for p in result.preview:
        print(f"preview: {p}")
    return 0
