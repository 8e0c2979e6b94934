"""``unshutter bench``: benchmarks that print numbers (quality, native kernels, speed, vectors, flow)."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

# Each module unshutter.bench.<name> defines add_arguments(parser) and run(args) -> int.
BENCHES = {
    "quality": "decomposer quality on held-out synthetic data and real footage",
    "native": "native kernels vs their NumPy references at 3840x2160",
    "speed": "seconds per frame of the whole node at a given size",
    "flow": "motion estimated from blurred neighbours vs the true motion (end-point error)",
    "vectors": "decompositions from drawn motion vectors, --alternatives, and overrides where the flow fails",
}


def add_parser(sub: Any) -> None:
    p = sub.add_parser("bench", help="run a benchmark and print its numbers")
    bsub = p.add_subparsers(dest="bench", metavar="BENCH")
    for name, help_text in BENCHES.items():
        try:
            mod = importlib.import_module(f"unshutter.bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name in (f"unshutter.bench.{name}", "unshutter.bench"):
                continue
            raise
        bp = bsub.add_parser(name, help=help_text)
        mod.add_arguments(bp)
        bp.set_defaults(func=mod.run)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])


def main(args: argparse.Namespace) -> int:
    return int(args.func(args) or 0)
