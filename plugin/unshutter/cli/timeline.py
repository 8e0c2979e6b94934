"""``unshutter timeline``: an OTIO/EDL timeline in, the chosen clips relinked to slow motion out."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from unshutter.cli.run import add_node_arguments, node_params
from unshutter.errors import ParameterError
from unshutter.timeline import TimelineConfig, read_timeline, retime_timeline, write_timeline
from unshutter.timeline.roundtrip import OUT_FORMATS


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "timeline",
        help="retime clips of an OTIO/EDL timeline and relink them to the slow-motion media",
        description=(
            "Process the chosen clips of IN (OpenTimelineIO, or a CMX 3600 EDL), write their "
            "slow-motion frames under --media-dir, and write OUT with those clips relinked and "
            "N times longer. Everything else passes through untouched. Each clip reads its own "
            "motion-vector pass: a media reference under the key 'motion_pass' on the clip, else "
            "--motion-pass with {clip} and {media} replaced by the clip's name and its media's name "
            "(e.g. vectors/{media}.####.exr)."
        ),
    )
    p.add_argument("input", metavar="IN", help="timeline: .otio/.otioz/.otiod, or .edl")
    p.add_argument(
        "-o", "--output", required=True, metavar="OUT", help="timeline to write (.otio; any OTIO adapter's extension)"
    )
    p.add_argument(
        "--media-dir",
        required=True,
        metavar="DIR",
        help="folder for the new media (one sub-folder per source and settings)",
    )
    p.add_argument("--clips", metavar="NAME,...", help="only these clips (by name; default: every video clip)")
    p.add_argument(
        "--handles",
        type=int,
        default=0,
        metavar="FRAMES",
        help="extra source frames on each side (transitions get what they need automatically)",
    )
    p.add_argument("--format", choices=OUT_FORMATS, help="output image format (default: the input's; png for movies)")
    p.add_argument("--rate", type=float, default=24.0, help="frame rate of an EDL (default 24)")
    p.add_argument("--strict", action="store_true", help="exit with code 1 when a selected clip could not be processed")
    p.add_argument("--json", action="store_true", help="print the per-clip report as JSON on stdout")
    add_node_arguments(p)
    p.set_defaults(func=main)


def check_output(input: str, output: str) -> None:
    """Before any rendering: ``-o`` must not be the input timeline, and an OTIO adapter must write its extension."""
    import opentimelineio as otio

    if os.path.realpath(output) == os.path.realpath(input):
        raise ParameterError(f"-o {output}: is the input timeline; write the retimed timeline to another file")
    try:
        adapter = otio.adapters.from_filepath(output)
    except otio.exceptions.NoKnownAdapterForExtensionError:
        adapter = None
    if adapter is None or not (adapter.has_feature("write_to_file") or adapter.has_feature("write_to_string")):
        raise ParameterError(
            f"-o {output}: no OpenTimelineIO adapter writes {Path(output).suffix or 'this file'} (use .otio)"
        )


def main(args: argparse.Namespace) -> int:
    check_output(args.input, args.output)
    timeline = read_timeline(args.input, rate=args.rate)
    clips = [c.strip() for c in args.clips.split(",") if c.strip()] if args.clips else None
    cfg = TimelineConfig(
        params=node_params(args),
        media_dir=Path(args.media_dir),
        clips=clips,
        format=args.format,
        handles=args.handles,
        model=args.model,
        device=args.device,
    )
    reports = retime_timeline(timeline, cfg, log=lambda m: print(f"unshutter: {m}", file=sys.stderr))
    write_timeline(timeline, args.output)
    done = [r for r in reports if r.status == "processed"]
    skipped = [r for r in reports if r.status != "processed"]
    if args.json:
        print(
            json.dumps(
                {
                    "output": args.output,
                    "clips": [
                        {
                            "name": r.name,
                            "track": r.track,
                            "status": r.status,
                            "reason": r.reason,
                            "output": r.output,
                            "frames": list(r.frames) if r.frames else None,
                            "written": r.written,
                        }
                        for r in reports
                    ],
                }
            )
        )
    else:
        print(f"timeline: {args.output}  ({len(done)} clips relinked, {len(skipped)} left unchanged)")
        for r in skipped:
            print(f"  unchanged: {r.name} ({r.track}): {r.reason}")
    return 1 if (args.strict and skipped) else 0
