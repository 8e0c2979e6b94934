"""Run a batch spec's chunks on a Dask distributed cluster.

The chunks are the ones the Open Job Description bundle makes
(:mod:`unshutter.farm.plan`). Each worker process loads the model once
(:data:`unshutter.farm.task.CACHE`). A chunk that fails with a retryable error
(see :func:`unshutter.farm.task.is_retryable`) is resubmitted up to
``retries`` times; it resumes, since complete outputs are skipped. Bad
parameters and bad input fail at once. A chunk whose worker dies (or leaves
the cluster) while running it is run again by Dask itself, without the
runner; the summary counts those reruns (``rescheduled``: see
:class:`_WorkerLosses`). Once Dask gives up on a chunk (``KilledWorker``,
after ``distributed.scheduler.allowed-failures`` workers died running it) it
is a failure like any other and retried the same way. Task keys carry a
random token of the run (:func:`task_key`), so runs sharing a long-lived
scheduler keep their own tasks.

With no scheduler address a LocalCluster is started (``processes=False`` runs
the workers as threads of this process).
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, TextIO

from unshutter import threads as process_threads
from unshutter.errors import UnshutterError
from unshutter.farm import task
from unshutter.farm.plan import Chunk, plan
from unshutter.farm.spec import BatchSpec


class SchedulerError(UnshutterError):
    """The Dask scheduler cannot be reached (exit code 1: worth a retry once the cluster is up)."""


START_TOPIC = "unshutter-chunk-start"  # each chunk task's first act: an event naming its key


def new_run_token() -> str:
    """8 random hex digits that make one run's task keys its own on a shared scheduler.

    Two runs (two reels, or the same reel twice) on one long-lived scheduler
    have the same chunk keys; with equal task keys Dask would hand the second
    run the first one's tasks and results (and the second run's chunks would
    never run).
    """
    return secrets.token_hex(4)


def task_key(token: str, c: Chunk, attempt: int) -> str:
    """``unshutter-1f0c9a3e-car:1001-1010-0``: run, shot, frames and attempt, readable in the dashboard."""
    return f"unshutter-{token}-{c.key}-{attempt}"


def _run_chunk(payload: dict[str, Any]) -> dict[str, Any]:
    """The Dask task: one chunk on a worker. Returns the ChunkResult dict or an error dict (never raises
    for Unshutter errors, so the client sees the exit code; other exceptions propagate and are retried)."""
    from unshutter.farm.spec import Shot

    try:
        from distributed import get_worker

        worker = get_worker()
        worker.log_event(START_TOPIC, {"key": worker.get_current_task()})  # the scheduler adds "worker"
    except (ImportError, ValueError):  # not on a Dask worker
        pass
    shot = Shot(**payload["shot"])
    cfg = task.chunk_config(shot, payload["first"], payload["last"], payload["model"], payload["device"])
    threads = payload.get("threads")
    if threads is None:
        try:
            from distributed import get_worker

            threads = max(1, (os.cpu_count() or 1) // max(1, get_worker().state.nthreads))
        except (ImportError, ValueError, AttributeError):
            threads = None
    try:
        # OpenCV and the native kernels too, not only the decomposer; the worker may be a thread of the
        # client's process, whose environment is not the task's to change
        process_threads.apply(threads, export=False)
        return {"ok": True, **task.run_config(cfg, None, threads=threads, name=shot.name).to_dict()}
    except UnshutterError as exc:
        return {"ok": False, **task.error_dict(exc)}


@dataclass
class ShotSummary:
    name: str
    frames: int = 0
    chunks: int = 0
    done: int = 0
    written: int = 0
    skipped: int = 0
    failures: int = 0
    retries: int = 0
    rescheduled: int = 0  # reruns Dask made on its own: the worker died or left mid-chunk
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.done == self.chunks


@dataclass
class Summary:
    shots: dict[str, ShotSummary]
    seconds: float
    exit_code: int = 0

    def table(self) -> str:
        head = (
            "shot",
            "frames",
            "chunks",
            "done",
            "written",
            "skipped",
            "failures",
            "retries",
            "rescheduled",
            "task s",
        )
        rows = [head] + [
            (
                s.name,
                str(s.frames),
                str(s.chunks),
                str(s.done),
                str(s.written),
                str(s.skipped),
                str(s.failures),
                str(s.retries),
                str(s.rescheduled),
                f"{s.seconds:.1f}",
            )
            for s in self.shots.values()
        ]
        tot = list(self.shots.values())
        rows.append(
            (
                "total",
                str(sum(s.frames for s in tot)),
                str(sum(s.chunks for s in tot)),
                str(sum(s.done for s in tot)),
                str(sum(s.written for s in tot)),
                str(sum(s.skipped for s in tot)),
                str(sum(s.failures for s in tot)),
                str(sum(s.retries for s in tot)),
                str(sum(s.rescheduled for s in tot)),
                f"{sum(s.seconds for s in tot):.1f}",
            )
        )
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]

        def fmt(r: tuple[str, ...]) -> str:
            return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))

        rule = "  ".join("-" * w for w in widths)
        lines = [fmt(rows[0]), rule, *map(fmt, rows[1:-1]), rule, fmt(rows[-1]), f"wall time {self.seconds:.1f} s"]
        for s in self.shots.values():
            lines += [f"FAILED {s.name}: {e}" for e in s.errors]
        return "\n".join(lines)


class _WorkerLosses:
    """Counts the chunk reruns Dask makes on its own, into each shot's ``rescheduled``.

    When a worker dies or leaves, the scheduler's ``remove-worker`` event (topic
    ``all``) lists the tasks it had: running, queued on it, or finished with the
    result still held there. Dask runs them all again elsewhere; the ones that
    had started there (their :data:`START_TOPIC` event came from that worker)
    are the reruns counted. A chunk Dask gives up on (``KilledWorker``) had no
    rerun after its last loss: :meth:`gave_up` takes that one back.

    The handlers run on the client's event loop thread.
    """

    def __init__(self, shots: dict[str, ShotSummary], submitted: dict[str, Chunk], write: Any) -> None:
        self.shots, self.submitted, self.write = shots, submitted, write
        self.lock = threading.Lock()
        self.started: dict[str, str] = {}  # task key -> address of the worker that last started it
        self.last_counted: dict[str, bool] = {}  # task key -> its last loss was counted

    def subscribe(self, client: Any) -> None:
        # before anything is submitted: the scheduler reads its client's messages in order
        client.subscribe_topic(START_TOPIC, self.on_start)
        client.subscribe_topic("all", self.on_scheduler)

    def on_start(self, event: tuple[float, Any]) -> None:
        msg = event[1]
        if isinstance(msg, dict) and msg.get("key") in self.submitted:
            with self.lock:
                self.started[msg["key"]] = str(msg.get("worker"))

    def on_scheduler(self, event: tuple[float, Any]) -> None:
        msg = event[1]
        if not isinstance(msg, dict) or msg.get("action") != "remove-worker":
            return
        worker = str(msg.get("worker"))
        for key in (*msg.get("processing-tasks", ()), *msg.get("lost-computed-tasks", ())):
            c = self.submitted.get(key)
            if c is None:
                continue
            with self.lock:
                counted = self.last_counted[key] = self.started.get(key) == worker
                if counted:
                    self.shots[c.shot.name].rescheduled += 1
            if counted:
                self.write(f"unshutter farm: {c.key}: its worker {worker} left mid-chunk")

    def gave_up(self, key: str, shot: ShotSummary) -> None:
        with self.lock:
            if self.last_counted.pop(key, False):
                shot.rescheduled -= 1


class _WorkerWatch:
    """Gives up on a cluster with no worker for ``timeout`` s: Dask itself would wait forever.

    A thread polls the scheduler's worker count; once it has been zero for
    ``timeout`` s (from the start of the run, or since the last worker left)
    it sets :attr:`expired` and calls ``on_expire`` once.
    """

    def __init__(self, client: Any, timeout: float, on_expire: Any, poll: float | None = None) -> None:
        self.client, self.timeout, self.on_expire = client, timeout, on_expire
        self.poll = poll if poll is not None else min(2.0, max(0.1, timeout / 10))
        self.expired = False
        self.had_workers = False  # some worker was seen at some point of the run
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="unshutter-worker-watch", daemon=True)

    def start(self) -> _WorkerWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _watch(self) -> None:
        last_seen = time.monotonic()
        while not self._stop.wait(self.poll):
            try:
                workers = self.client.nthreads()
            except Exception:  # a scheduler that went away is the client's error to report
                continue
            now = time.monotonic()
            if workers:
                last_seen, self.had_workers = now, True
            elif now - last_seen >= self.timeout:
                self.expired = True
                self.on_expire()
                return


def _payload(c: Chunk, spec: BatchSpec, threads: int | None) -> dict[str, Any]:
    s = c.shot
    shot = {
        "name": s.name,
        "input": s.input,
        "output": s.output,
        "factor": s.factor,
        "shutter": s.shutter,
        "guidance": s.guidance,
        "timing": s.timing,
        "follow": s.follow,
        "overrides": s.overrides,
        "frames": s.frames,
        "chunk": s.chunk,
        "motion": s.motion,
        "motion_pass": s.motion_pass,
        "motion_pass_channels": s.motion_pass_channels,
        "motion_pass_y": s.motion_pass_y,
        "motion_pass_points": s.motion_pass_points,
        "motion_pass_units": s.motion_pass_units,
    }
    return {
        "shot": shot,
        "first": c.first,
        "last": c.last,
        "model": spec.model,
        "device": spec.device,
        "threads": threads,
    }


def _distributed() -> Any:
    """Dask's ``distributed`` module, or a one-line error naming the extra that installs it."""
    try:
        import distributed
    except ModuleNotFoundError as exc:  # an optional extra: say which, not a traceback
        raise UnshutterError(
            f"farm dask needs Dask's 'distributed' package ({exc.name} is not installed): pip install 'unshutter[farm]'"
        ) from None
    return distributed


def _shot_summaries(spec: BatchSpec, chunks: list[Chunk]) -> dict[str, ShotSummary]:
    """One summary per shot of the spec, with the frames and chunks this run renders of it."""
    shots = {s.name: ShotSummary(s.name) for s in spec.shots}
    for c in chunks:
        shots[c.shot.name].frames += c.frames
        shots[c.shot.name].chunks += 1
    return shots


def _connect(
    distributed: Any,
    spec: BatchSpec,
    scheduler: str | None,
    workers: int,
    threads_per_worker: int,
    processes: bool,
    quiet_logs: bool,
) -> tuple[Any, Any, int | None]:
    """(client, the LocalCluster started or None, threads per chunk task) for ``--scheduler`` or a LocalCluster."""
    if scheduler:
        try:
            client = distributed.Client(scheduler, set_as_default=False)
        except (OSError, ValueError) as exc:  # unreachable or malformed address: a one-line error, exit 1
            raise SchedulerError(f"--scheduler {scheduler}: cannot connect ({str(exc).splitlines()[0]})") from None
        return client, None, spec.threads  # None: each worker picks cores // its threads
    cluster = distributed.LocalCluster(
        n_workers=workers,
        threads_per_worker=threads_per_worker,
        processes=processes,
        dashboard_address=None,
        silence_logs=logging.WARNING if quiet_logs else logging.INFO,
    )
    client = distributed.Client(cluster, set_as_default=False)
    return client, cluster, spec.threads or max(1, (os.cpu_count() or 1) // max(1, workers * threads_per_worker))


class _Submitter:
    """Submits chunk tasks under this run's token and knows which chunk each waited-for future renders."""

    def __init__(self, client: Any, token: str, spec: BatchSpec, threads: int | None) -> None:
        self.client, self.token, self.spec, self.threads = client, token, spec, threads
        self.lock = threading.Lock()
        self.by_key: dict[Any, tuple[Chunk, Any]] = {}  # the chunks waited for: task key -> (chunk, future)
        self.submitted: dict[str, Chunk] = {}  # every key this run submitted (by_key loses the finished ones)
        self.attempts: dict[str, int] = {}  # chunk key -> failed attempts so far

    def submit(self, c: Chunk, attempt: int) -> Any:
        key = task_key(self.token, c, attempt)
        self.submitted[key] = c
        f = self.client.submit(_run_chunk, _payload(c, self.spec, self.threads), key=key, pure=False)
        with self.lock:
            self.by_key[f.key] = (c, f)
            if attempt == 0:
                self.attempts[c.key] = 0
        return f

    def take(self, fut: Any) -> Chunk:
        """The chunk ``fut`` rendered, no longer waited for."""
        with self.lock:
            c, _ = self.by_key.pop(fut.key)
        return c

    def cancel_waiting(self) -> None:
        """No worker left: stop waiting for what nobody can run."""
        with self.lock:
            waiting = [f for _, f in self.by_key.values() if f.status != "finished"]
        self.client.cancel(waiting)


def _result(
    fut: Any, s: ShotSummary, losses: _WorkerLosses, killed: type, no_workers: Callable[[], bool], timeout: float | None
) -> dict[str, Any]:
    """The chunk task's result dict; a task that raised (its worker died, or a bug) counts as retryable."""
    try:
        res: dict[str, Any] = fut.result()
    except Exception as exc:  # worker died (KilledWorker) or a bug: retry like a transient error
        if isinstance(exc, killed):  # its last loss was no rerun: a failure instead
            losses.gave_up(fut.key, s)
        res = {"ok": False, **task.error_dict(exc), "retryable": True}
        if no_workers():
            res = {
                "ok": False,
                "exit_code": 1,
                "retryable": False,
                "message": f"no Dask worker on the scheduler for {timeout:g} s",
            }
    fut.release()
    return res


def _count_done(s: ShotSummary, res: dict[str, Any]) -> None:
    s.done += 1
    s.written += res["written"]
    s.skipped += res["skipped"]
    s.seconds += res["seconds"]


def run_dask(
    spec: BatchSpec,
    scheduler: str | None = None,
    workers: int = 1,
    threads_per_worker: int = 1,
    processes: bool = True,
    retries: int = 2,
    progress: bool = True,
    out: TextIO | None = None,
    chunks: list[Chunk] | None = None,
    quiet_logs: bool = True,
    no_workers_timeout: float | None = 600.0,
) -> Summary:
    """Render every chunk of ``spec`` on a Dask cluster; returns the summary (printed to ``out`` too).

    Every task key carries this run's own random token (:func:`new_run_token`),
    so runs sharing a scheduler never share tasks. A cluster with no worker for
    ``no_workers_timeout`` s (None or 0: wait forever, as Dask does) ends the run:
    a :class:`SchedulerError` when no worker was ever seen, else the chunks not
    finished fail (exit code 1, not retried) and what was written stays.
    """
    distributed = _distributed()
    from tqdm import tqdm

    if quiet_logs:  # distributed logs every worker start and stop at INFO
        for name in ("distributed", "dask"):
            logging.getLogger(name).setLevel(logging.WARNING)
    out = out or sys.stdout
    t0 = time.monotonic()
    token = new_run_token()
    chunks = chunks if chunks is not None else plan(spec)
    shots = _shot_summaries(spec, chunks)
    client, cluster, threads = _connect(
        distributed, spec, scheduler, workers, threads_per_worker, processes, quiet_logs
    )
    exit_code = 0
    watch = None
    where = f"--scheduler {scheduler}" if scheduler else "LocalCluster"
    try:
        tasks = _Submitter(client, token, spec, threads)

        def no_workers() -> bool:  # the watch gave up: nothing may be (re)submitted any more
            return watch is not None and watch.expired

        bar = tqdm(
            total=sum(c.frames for c in chunks),
            unit="frame",
            desc="unshutter farm",
            file=sys.stderr,
            disable=not progress,
        )
        losses = _WorkerLosses(shots, tasks.submitted, bar.write)
        losses.subscribe(client)
        futures = [tasks.submit(c, 0) for c in chunks]
        if no_workers_timeout:  # after submitting: every chunk is in by_key when it cancels
            watch = _WorkerWatch(client, float(no_workers_timeout), tasks.cancel_waiting).start()
        # as_completed follows the loop of the process's *default* client unless told otherwise:
        # any client made later in this process (another reel's, a pipeline tool's) would
        # become that default, and once it closed this run would never see its chunks finish.
        ac = distributed.as_completed(futures, loop=client.loop)
        for fut in ac:
            c = tasks.take(fut)
            s = shots[c.shot.name]
            res = _result(fut, s, losses, distributed.KilledWorker, no_workers, no_workers_timeout)
            if res["ok"]:
                _count_done(s, res)
                bar.update(c.frames)
                continue
            s.failures += 1
            tasks.attempts[c.key] += 1
            if res["retryable"] and tasks.attempts[c.key] <= retries and not no_workers():
                s.retries += 1
                bar.write(f"unshutter farm: {c.key} failed ({res['message']}); retry {tasks.attempts[c.key]}/{retries}")
                ac.add(tasks.submit(c, tasks.attempts[c.key]))
            else:
                s.errors.append(f"frames {c.label}: exit {res['exit_code']}: {res['message']}")
                exit_code = exit_code or int(res["exit_code"]) or 1
                bar.write(f"unshutter farm: {c.key} FAILED: {res['message']}")
        bar.close()
        if no_workers() and watch is not None and not watch.had_workers:
            raise SchedulerError(f"{where}: no Dask worker joined in {no_workers_timeout:g} s; nothing was run")
    finally:
        if watch is not None:
            watch.stop()
        client.close()
        if cluster is not None:
            cluster.close()
    summary = Summary(shots, round(time.monotonic() - t0, 3), exit_code)
    print(summary.table(), file=out, flush=True)
    return summary
