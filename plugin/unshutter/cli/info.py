"""``unshutter info``: what a clip is, as the node will see it."""

from __future__ import annotations

import argparse
import json
from typing import Any

from unshutter import color
from unshutter.io.clip import open_clip


def add_parser(sub: Any) -> None:
    p = sub.add_parser("info", help="describe a clip (frames, size, channels, pixel type, rate)")
    p.add_argument("input", help="image sequence spec or movie file")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=main)


def describe(spec: str) -> dict[str, Any]:
    clip = open_clip(spec)
    try:
        return {
            "source": clip.source,
            "kind": clip.kind,
            "pattern": clip.pattern.display() if clip.pattern else None,
            "first": clip.first,
            "last": clip.last,
            "count": len(clip.frames),
            "width": clip.width,
            "height": clip.height,
            "channels": clip.meta.channel_names,
            "pixel_type": clip.meta.format,
            "bits_per_sample": clip.meta.bits_per_sample or None,
            "file_format": clip.meta.file_format,
            "rate": str(clip.rate),
            "default_colorspace": color.default_colorspace(clip.meta.is_float),
        }
    finally:
        clip.close()


def main(args: argparse.Namespace) -> int:
    d = describe(args.input)
    if args.json:
        print(json.dumps(d, indent=2))
    else:
        for k, v in d.items():
            print(f"{k:>18}: {v}")
    return 0
