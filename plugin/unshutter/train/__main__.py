"""Train the decomposer: ``python -m unshutter.train --config models/decomposer.yaml``.

Resumes from the config's checkpoint (``train.state``) when it exists.
"""

from __future__ import annotations

import argparse
import sys

from unshutter.train.config import load_config


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m unshutter.train", description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=None, help="YAML config (default models/decomposer.yaml)")
    ap.add_argument("--max-minutes", type=float, default=None, help="stop (and save) after this many minutes")
    ap.add_argument("--max-steps", type=int, default=None, help="stop (and save) at this step")
    ap.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint")
    args = ap.parse_args(argv)
    from unshutter.train.loop import train

    return train(load_config(args.config), args.max_minutes, args.max_steps, args.fresh)


if __name__ == "__main__":
    sys.exit(main())
