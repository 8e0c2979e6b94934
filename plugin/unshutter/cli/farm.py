"""``unshutter farm``: chunked, resumable batch jobs on Open Job Description farms and Dask clusters.

    unshutter farm check   SPEC                      validate a batch spec (clips, override files and the
                                                     mattes they name) and print its chunks
    unshutter farm openjd  SPEC -o BUNDLE_DIR        write a job bundle (deadline bundle submit / openjd run)
    unshutter farm dask    SPEC [--scheduler ADDR]   render on a Dask cluster (LocalCluster without ADDR)
    unshutter farm chunk   INPUT -o OUTPUT --frames A-B ...   one farm task (what the bundle's tasks run)
    unshutter farm session start|stop|serve --state FILE      the per-session model server (bundle environment)

Exit codes (a farm retries the ones marked *): 0 done, 1* unexpected error,
2 bad parameter or spec, 3 bad input, 4 bad overrides, 5* model, 6* output
(disk, permissions, frames another run is writing), 143* terminated (SIGTERM),
killed by SIGKILL*.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import Any

from unshutter.cli.run import add_node_arguments, add_threads_argument, node_params


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "farm",
        help="chunked batch jobs: Open Job Description bundles, Dask clusters",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fs = p.add_subparsers(dest="farm_command", metavar="FARM_COMMAND")
    p.set_defaults(func=lambda _a: (p.print_help(sys.stderr), 2)[1])

    c = fs.add_parser("check", help="validate a batch spec and print its shots and chunks")
    c.add_argument("spec", help="batch spec (YAML)")
    c.set_defaults(func=check_main)

    o = fs.add_parser("openjd", help="write an Open Job Description job bundle for a batch spec")
    o.add_argument("spec", help="batch spec (YAML)")
    o.add_argument("-o", "--output", required=True, metavar="BUNDLE_DIR", help="bundle folder to write")
    o.add_argument(
        "--command",
        default="unshutter",
        metavar="EXE",
        help="the unshutter executable on the workers (default: unshutter on PATH)",
    )
    o.set_defaults(func=openjd_main)

    d = fs.add_parser("dask", help="render a batch spec on a Dask distributed cluster")
    d.add_argument("spec", help="batch spec (YAML)")
    d.add_argument(
        "--scheduler", metavar="ADDRESS", help="scheduler address, e.g. tcp://farm-head:8786 (default: a LocalCluster)"
    )
    d.add_argument("--workers", type=int, default=1, help="LocalCluster worker processes (default 1)")
    d.add_argument("--threads", type=int, default=1, help="LocalCluster threads per worker (default 1)")
    d.add_argument("--threaded", action="store_true", help="LocalCluster workers as threads of this process")
    d.add_argument("--retries", type=int, default=2, help="retries of a failed chunk (default 2)")
    d.add_argument(
        "--no-workers-timeout",
        type=float,
        default=600.0,
        metavar="S",
        help="give up when the cluster has had no worker for S seconds: at the start an error, "
        "mid-run the chunks not finished fail with exit 1 (default 600; 0 waits forever)",
    )
    d.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    d.set_defaults(func=dask_main)

    k = fs.add_parser("chunk", help="one farm task: source frames A-B of one shot (like unshutter run --frames)")
    k.add_argument("input", help="shot.####.exr, shot.%%04d.exr or a movie")
    k.add_argument("-o", "--output", required=True, help="output pattern (out/shot.####.exr) or folder")
    add_node_arguments(k)
    k.add_argument("--frames", required=True, metavar="A-B", help="source frames of this task (OpenJD gives 1001-1010)")
    k.add_argument("--session", metavar="STATE", help="render on the session server of this state file when it runs")
    k.add_argument(
        "--path-mapping",
        metavar="RULES",
        help="OpenJD path mapping rules file (the bundle gives {{Session.PathMappingRulesFile}}): "
        "--overrides is then the file as submitted, and it and the mattes and labelme files "
        "it names are read where these rules map them",
    )
    k.add_argument("--name", default="", help="shot name for the logs")
    k.add_argument("--json", action="store_true", help="one JSON progress line per frame on stdout")
    k.set_defaults(func=chunk_main)

    s = fs.add_parser("session", help="the per-worker-session model server (used by the bundle's environment)")
    ss = s.add_subparsers(dest="session_command", metavar="ACTION")
    for name, helptext in (
        ("start", "start the server in the background and wait until the model is loaded"),
        ("serve", "run the server in the foreground"),
        ("stop", "stop the server"),
        ("status", "print the server's state"),
    ):
        a = ss.add_parser(name, help=helptext)
        a.add_argument("--state", required=True, metavar="FILE", help="state file (address, key, pid)")
        if name in ("start", "serve"):
            a.add_argument("--model", metavar="ONNX", help="decomposer model (default: the shipped one)")
            a.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
            add_threads_argument(a)  # the server renders the session's chunks: their budget
            a.add_argument(
                "--idle-timeout",
                type=float,
                default=3600.0,
                metavar="S",
                help="exit after S seconds without a task (default 3600)",
            )
        if name == "start":
            a.add_argument("--timeout", type=float, default=600.0, metavar="S", help="wait at most S s for the model")
        a.set_defaults(func=session_main)
    s.set_defaults(func=lambda _a: (s.print_help(sys.stderr), 2)[1])


# ------------------------------------------------------------------ spec commands
def check_main(args: argparse.Namespace) -> int:
    from unshutter.farm.openjd import override_inputs
    from unshutter.farm.plan import plan_shot
    from unshutter.farm.spec import load_spec

    spec = load_spec(args.spec)
    print(f"{spec.path}: {len(spec.shots)} shot(s), job {spec.name!r}")
    for shot in spec.shots:
        chunks = plan_shot(shot)
        # the mattes and labelme files the override file names, on the frames where they apply
        named = override_inputs(shot, (chunks[0].first, chunks[-1].last))
        print(
            f"  {shot.name}: frames {chunks[0].first}-{chunks[-1].last}, factor {shot.factor}, "
            f"{len(chunks)} chunk(s) of at most {shot.chunk}: {' '.join(c.label for c in chunks)}"
            + (f"; {len(named)} file(s) named by its overrides, all present" if named else "")
            + (f"; motion pass {shot.motion_pass} present for every frame its tasks read" if shot.motion_pass else "")
        )
    return 0


def openjd_main(args: argparse.Namespace) -> int:
    from unshutter.farm.openjd import OPENJD_PARAMS, write_bundle
    from unshutter.farm.spec import load_spec

    spec = load_spec(args.spec)
    tpath, vpath = write_bundle(spec, args.output, command=args.command)
    print(f"job bundle: {tpath.parent}  ({len(spec.shots)} step(s))")
    print(f"  check:  openjd check {tpath}")
    print(f"  local:  openjd run {tpath} -p file://{tpath.parent / OPENJD_PARAMS}")
    print(f"  submit: deadline bundle submit {tpath.parent}")
    return 0


def dask_main(args: argparse.Namespace) -> int:
    from unshutter.farm.dask_runner import run_dask
    from unshutter.farm.spec import load_spec

    if not args.no_workers_timeout >= 0:
        from unshutter.errors import ParameterError

        raise ParameterError(f"--no-workers-timeout {args.no_workers_timeout:g}: must be 0 (wait forever) or more")
    spec = load_spec(args.spec)
    summary = run_dask(
        spec,
        scheduler=args.scheduler,
        workers=args.workers,
        threads_per_worker=args.threads,
        processes=not args.threaded,
        retries=args.retries,
        progress=not args.quiet,
        quiet_logs=not getattr(args, "verbose", False),
        no_workers_timeout=args.no_workers_timeout,
    )
    return summary.exit_code


# ------------------------------------------------------------------ a task
class Terminated(BaseException):
    """SIGTERM (a farm cancel): unwinds like KeyboardInterrupt, so temporaries are deleted."""


def _on_sigterm(signum: int, _frame: Any) -> None:
    raise Terminated()


class LineReporter:
    """One line per event for farm logs (or JSON lines)."""

    def __init__(self, json_lines: bool) -> None:
        self.json_lines = json_lines

    def __call__(self, e: dict[str, Any]) -> None:
        if self.json_lines:
            print(json.dumps(e), flush=True)
        elif e["event"] == "start":
            print(
                f"unshutter: {e['input']} frames {e['frames'][0]}-{e['frames'][1]} -> {e['output']} "
                f"(factor {e['factor']}, {e['provider']})",
                flush=True,
            )
        elif e["event"] == "warning":
            print(f"unshutter: warning: {e['message']}", file=sys.stderr, flush=True)
        elif e["event"] == "frame":
            what = "complete, skipped" if e["skipped"] else f"{e['seconds']:.2f} s, guidance {e['guidance']}"
            print(
                f"unshutter: frame {e['frame']} ({e['index']}/{e['total']}) -> {e['outputs'][0]}-{e['outputs'][-1]}: "
                f"{what}",
                flush=True,
            )


def chunk_main(args: argparse.Namespace) -> int:
    from unshutter.farm import session, task
    from unshutter.farm.pathmap import Locator, PathMapping
    from unshutter.pipeline import RunConfig, parse_frame_range

    params, locate = node_params(args), None
    params.check_pass_options()  # a task is a run: what run refuses (a spec's shots were checked when loaded)
    if args.path_mapping and args.overrides:
        locate = Locator(args.overrides, PathMapping.load(args.path_mapping))
        params.overrides = locate.overrides
    cfg = RunConfig(
        input=args.input,
        output=args.output,
        params=params,
        frames=parse_frame_range(args.frames),
        model=args.model or None,
        device=args.device,
    )
    report = LineReporter(args.json)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        if args.session:
            try:
                res = session.request(Path(args.session), cfg, report, name=args.name, locate=locate)
            except session.SessionUnavailable as exc:
                print(f"unshutter: {exc}; rendering in this process", file=sys.stderr, flush=True)
            else:
                return _report_result(res, args.json)
        res = task.run_config(cfg, report, name=args.name, locate=locate).to_dict()
        return _report_result({"event": "result", "exit_code": 0, **res}, args.json)
    except Terminated:
        print(
            "unshutter: terminated (SIGTERM); complete frames are kept, the chunk resumes on retry",
            file=sys.stderr,
            flush=True,
        )
        return 143
    finally:
        signal.signal(signal.SIGTERM, previous)


def _report_result(res: dict[str, Any], json_lines: bool) -> int:
    code = int(res.get("exit_code", 1))
    if json_lines:
        print(json.dumps(res), flush=True)
    if code:
        print(f"unshutter: error: {res.get('message', 'failed')}", file=sys.stderr, flush=True)
    elif not json_lines:
        print(
            f"unshutter: chunk {res['frames'][0]}-{res['frames'][1]} done: {res['written']} frames written, "
            f"{res['skipped']} already complete, {res['seconds']:.1f} s; manifest {res['manifest']}",
            flush=True,
        )
    return code


# ------------------------------------------------------------------ session server
def session_main(args: argparse.Namespace) -> int:
    from unshutter.farm import session

    state = Path(args.state)
    if args.session_command == "serve":
        return session.serve(state, args.model or None, args.device, args.idle_timeout)
    if args.session_command == "start":
        doc = session.start(state, args.model or None, args.device, args.timeout, args.idle_timeout)
        print(
            f"unshutter session: pid {doc['pid']} on {doc['address'][0]}:{doc['address'][1]}, model {doc['model']} "
            f"(sha256 {doc['model_sha256'][:12]}, {doc['provider']}) loaded once in {doc['load_seconds']} s"
        )
        return 0
    if args.session_command == "status":
        try:
            doc = session.ping(state)
        except session.SessionUnavailable as exc:
            print(f"unshutter session: {exc}")
            return 1
        print(json.dumps(doc, indent=2))
        return 0
    stopped = session.stop(state)
    print("unshutter session: stopped" if stopped else f"unshutter session: none running ({state})")
    return 0


__all__ = ["add_parser"]
