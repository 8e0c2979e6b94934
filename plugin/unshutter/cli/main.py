"""``unshutter`` console entry point: one module per sub-command."""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

import unshutter
from unshutter.errors import UnshutterError

# Each module unshutter.cli.<name> defines add_parser(subparsers).
COMMANDS = ("run", "info", "demo", "bench", "worker", "farm", "blender", "timeline")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="unshutter",
        description="Turn motion-blurred footage into sharp slow motion.",
    )
    parser.add_argument("--version", action="version", version=f"unshutter {unshutter.__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f"unshutter.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"unshutter.cli.{name}":
                continue
            raise
        mod.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="unshutter: %(message)s", stream=sys.stderr)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except UnshutterError as exc:
        print(f"unshutter: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # output piped into head & co.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("unshutter: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
