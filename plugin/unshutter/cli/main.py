"""``unshutter`` console entry point: one module per sub-command."""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
from typing import Any

import unshutter
from unshutter import threads
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


class Terminated(BaseException):
    """SIGTERM or SIGHUP (a farm or process manager stopping the job, a closed terminal).

    Raised from the signal handler so the job unwinds as on Ctrl-C: temporaries
    are deleted, claims released, complete frames kept.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _on_signal(signum: int, _frame: Any) -> None:
    raise Terminated(signum)


def _catch_termination() -> dict[int, Any]:
    """Install the handlers; returns the ones they replace (restored when main returns)."""
    previous: dict[int, Any] = {}
    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            try:
                previous[sig] = signal.signal(sig, _on_signal)
            except ValueError:  # not the main thread (an embedding host): leave its handlers alone
                break
    return previous


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="unshutter: %(message)s", stream=sys.stderr
    )
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    previous = _catch_termination()
    try:
        threads.apply(getattr(args, "engine_threads", None))  # --threads, else UNSHUTTER_THREADS, else all cores
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
    except Terminated as exc:
        try:  # after SIGHUP the terminal may be gone
            print(f"unshutter: terminated ({exc}); complete frames are kept, a re-run resumes", file=sys.stderr)
        except OSError:
            pass
        return 128 + exc.signum
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
