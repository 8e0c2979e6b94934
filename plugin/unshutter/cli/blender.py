"""``unshutter blender``: package the Blender VSE add-on (an extension zip), or install it as a legacy add-on."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from unshutter.hosts import blender


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "blender",
        help="package the Blender sequencer add-on, or install it for Blender 3.x",
        description="The Blender Video Sequence Editor add-on 'unshutter_blender'.",
    )
    bsub = p.add_subparsers(dest="blender_command", metavar="ACTION", required=True)
    i = bsub.add_parser(
        "install",
        help="copy the add-on into Blender's user scripts folder (legacy add-on, "
        "any Blender from 3.4; for 4.2+ prefer 'package')",
    )
    i.add_argument(
        "--scripts-dir",
        metavar="DIR",
        help="Blender scripts folder (default: $BLENDER_USER_SCRIPTS, else ~/.config/blender/<newest>/scripts)",
    )
    i.set_defaults(func=main_install)
    z = bsub.add_parser(
        "package",
        aliases=["zip"],
        help="write the add-on zip: Blender 4.2+ Get Extensions > Install from Disk, Blender 3.x Add-ons > Install",
    )
    z.add_argument(
        "-o",
        "--output",
        default="unshutter_blender.zip",
        metavar="FILE",
        help="zip file to write (default unshutter_blender.zip)",
    )
    z.set_defaults(func=main_zip)


def main_install(args: argparse.Namespace) -> int:
    dest = blender.install(Path(args.scripts_dir) if args.scripts_dir else None)
    print(f"installed {blender.ADDON} to {dest}")
    print(f"engine: {blender.engine_executable() or 'not found (set it in the add-on preferences)'}")
    print(f"enable it in Blender: Preferences > Add-ons > Unshutter, or addon_utils.enable('{blender.ADDON}')")
    return 0


def main_zip(args: argparse.Namespace) -> int:
    path = blender.make_zip(Path(args.output))
    print(f"wrote {path}")
    print("Blender 4.2+: Edit > Preferences > Get Extensions > (menu) Install from Disk...")
    print("Blender 3.x:  Edit > Preferences > Add-ons > Install...")
    return 0
