"""Worker processes on one machine: a sweep's runs trained in parallel, each worker with its share of the cores.

On a CPU, one process leaves cores idle with the small programs of a suite like `quick` (measured
on 2 cores: 76% of them busy over a slice of `quick`, unloaded; compilation and the Python
between intervals run on one thread). `archbench sweep --workers N` starts N worker processes
instead, each pinned to its own cores/N cores (`thread_env`, `worker_cpus`), and each
trains runs through exactly the machinery of a sweep on its
own (`sweep.run_sweep`): a run is claimed before it trains, checkpointed as it trains, appended
to the store with a check that its run_id is new. So a worker killed at any moment loses at most
the run it had in hand (which resumes from its checkpoint, in another worker or the next sweep),
and several sweeps, with workers or without, still share one results folder.

Runs are grouped by (dataset, family, size), the runs that share a compiled program. Worker k
takes groups k, k+N, k+2N, ... first, then the other workers' groups from the far end of the plan
(`worker_order`): the claims make that work stealing, and a program is compiled again only for a
group two workers meet in.

The parent (`run_workers`) writes each worker's job as one JSON object on its stdin
(`python -m benchmarks.running.workers`) and reads its events as JSON lines on its stdout:

    {"event": "start", "run_id": ..., "what": ..., "total": N}      a run claimed, training begins
    {"event": "progress", "done": d, "total": N}                    after each evaluation interval
    {"event": "record", "record": {...}}                            the run's record, appended
    {"event": "wait", "runs": n}                                    n runs held by other processes

Lines a worker writes to stderr that start with `archbench:` (warnings, a resumed checkpoint) are
passed on; the rest is kept to explain a worker that fails. Workers run in their own process
group, so Ctrl-C reaches the parent alone, which then interrupts each worker once (its claim is
released, its checkpoint kept); a worker also stops when the parent dies (Linux: PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from itertools import groupby

from benchmarks.running.executors import JobContext
from benchmarks.running.runner import RunOptions
from benchmarks.spec import RunRecord, RunSpec, UserError

STOP_GRACE_S = 20.0  # how long interrupted workers get to release their claims before SIGKILL
STDERR_TAIL = 40  # lines of a worker's stderr kept to explain its failure

# XLA on the CPU: Eigen's matmuls and convolutions on the calling thread only; the TensorFlow-style
# flag is accepted and ignored by XLA builds that do not know it.
ONE_THREAD_XLA_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


# ---- how many workers, and what each one does --------------------------------------------------

def cores() -> int:
    """CPU cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def count(value: str, platform: str, cpu_cores: int, multi_process_job: bool = False) -> int:
    """`--workers`: 'auto' is one per core on a CPU and one on a GPU/TPU (it holds the whole device)."""
    if value == "auto":
        return cpu_cores if platform == "cpu" and not multi_process_job else 1
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise UserError(f"--workers must be a positive number or 'auto', got {value!r}")
    if n > 1 and multi_process_job:
        raise UserError("--workers > 1 cannot be combined with --distributed (each process of the job trains every run)")
    return n


def groups(specs: list[RunSpec]) -> list[list[RunSpec]]:
    """Consecutive runs of one dataset, family and size: the runs that share a compiled program."""
    return [list(same) for _, same in groupby(specs, key=lambda s: (s.dataset, s.arch, s.target_params))]


def worker_order(specs: list[RunSpec], worker: int, workers: int) -> list[RunSpec]:
    """Worker `worker`'s order of the runs: its own groups (every `workers`-th) first, then the others' from the far end."""
    all_groups = groups(specs)
    own = [g for i, g in enumerate(all_groups) if i % workers == worker]
    others = [g for i, g in enumerate(all_groups) if i % workers != worker]
    return [spec for g in own + others[::-1] for spec in g]


def thread_env(threads: int, base: dict[str, str]) -> dict[str, str]:
    """The environment of a worker that may use `threads` cores: XLA single-threaded when it is one."""
    env = dict(base) | {var: str(threads) for var in THREAD_VARS}
    if threads == 1:
        env["XLA_FLAGS"] = f"{base.get('XLA_FLAGS', '')} {ONE_THREAD_XLA_FLAGS}".strip()
    return env


def worker_cpus(worker: int, threads: int) -> list[int]:
    """The cores worker `worker` runs on: its own `threads` of the allowed cores (XLA sizes its thread pool
    by them), one core each for one-thread workers.

    The one-thread flags alone do not make XLA single-threaded (measured on 2 cores: 1024³ matmuls used 1.97
    cores under them, 1.00 pinned; `tests/test_workers.py`), so unpinned workers oversubscribed the cores; pinned,
    each owns its core. More workers than cores share them in turn.
    """
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not allowed:
        return []
    if threads == 1:
        return [allowed[worker % len(allowed)]]
    return allowed[worker * threads : (worker + 1) * threads]


@dataclass(frozen=True)
class WorkerJob:
    """What a worker is sent on its stdin."""

    context: JobContext
    specs: list[RunSpec]  # in this worker's order
    parent_pid: int  # the worker stops if it finds itself orphaned
    cpus: list[int]  # cores to run on; empty: wherever the OS schedules it
    compile_cache_dir: str | None = None  # None: the default persistent cache (when context.compile_cache)

    def to_json(self) -> str:
        return json.dumps(asdict(self) | {"specs": [s.to_dict() for s in self.specs]})

    @classmethod
    def from_json(cls, text: str) -> WorkerJob:
        d = json.loads(text)
        raw = d["context"]
        context = JobContext(**raw | {"plugins": tuple(raw["plugins"]), "options": RunOptions(**raw["options"])})
        return cls(**d | {"context": context, "specs": [RunSpec.from_dict(s) for s in d["specs"]]})


# ---- the parent ----------------------------------------------------------------------------------

@dataclass
class Worker:
    index: int
    proc: subprocess.Popen
    stderr_tail: deque[str]


@dataclass(frozen=True)
class Event:
    worker: int
    kind: str  # start | progress | record | wait | log | exit
    data: dict


def _read_events(worker: int, stream, events: queue.Queue) -> None:
    """A worker's events, then `exit` once its stdout closes (it ended: every event it sent is in the queue)."""
    for line in stream:
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and "event" in data:
            events.put(Event(worker, data.pop("event"), data))
    events.put(Event(worker, "exit", {}))


def _read_stderr(worker: Worker, events: queue.Queue) -> None:
    for line in worker.proc.stderr:
        line = line.rstrip("\n")
        worker.stderr_tail.append(line)
        if line.startswith("archbench:"):
            events.put(Event(worker.index, "log", {"line": line}))


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM stops the parent like Ctrl-C (so it stops its workers) while the workers run."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def _stop(workers: list[Worker]) -> None:
    """Interrupt live workers once; those that have not stopped after STOP_GRACE_S are killed."""
    for w in workers:
        if w.proc.poll() is None:
            w.proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + STOP_GRACE_S
    for w in workers:
        try:
            w.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            w.proc.kill()
            w.proc.wait()


def _failure(w: Worker) -> str | None:
    """One line on a worker that did not end well, None if it did."""
    code = w.proc.returncode
    if code == 0:
        return None
    why = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
    last = next((line.strip() for line in reversed(w.stderr_tail) if line.strip()), "")
    return f"worker {w.index} (pid {w.proc.pid}) {why}" + (f": {last[:300]}" if last else "")


def run_workers(
    todo: list[RunSpec],
    context: JobContext,
    workers: int,
    on_event: Callable[[Event], None],
    *,
    threads: int | None = None,
    compile_cache_dir: str | None = None,
) -> list[str]:
    """Train `todo` in `workers` worker processes; returns one line per worker that failed (empty: all ended well).

    `threads` per worker defaults to cores // workers (at least 1). Every event a worker sends is passed to
    `on_event` in this thread, records as `RunRecord`s under `data["record"]`; a worker's end comes as `exit`.
    """
    threads = threads or max(1, cores() // workers)
    env = thread_env(threads, {**os.environ, "PYTHONPATH": _pythonpath()})
    events: queue.Queue[Event] = queue.Queue()
    started: list[Worker] = []
    readers: list[threading.Thread] = []
    with _sigterm_interrupts():
        try:
            for k in range(workers):  # all started before any is sent its job, so they import side by side
                proc = subprocess.Popen(
                    [sys.executable, "-m", "benchmarks.running.workers"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE, text=True, env=env, start_new_session=True,
                )
                started.append(Worker(k, proc, deque(maxlen=STDERR_TAIL)))
            for w in started:
                for target, args in ((_read_events, (w.index, w.proc.stdout, events)), (_read_stderr, (w, events))):
                    readers.append(threading.Thread(target=target, args=args, daemon=True))
                    readers[-1].start()
                job = WorkerJob(context, worker_order(todo, w.index, workers), os.getpid(), worker_cpus(w.index, threads),
                                compile_cache_dir)
                try:
                    w.proc.stdin.write(job.to_json())
                    w.proc.stdin.close()
                except BrokenPipeError:
                    pass  # it died at start: its exit code and stderr say why
            running = set(range(workers))
            while running:
                try:
                    event = events.get(timeout=1.0)
                except queue.Empty:
                    continue
                if event.kind == "exit":
                    running.discard(event.worker)
                    event.data["code"] = started[event.worker].proc.wait()
                elif event.kind == "record":
                    event.data["record"] = RunRecord.from_dict(event.data["record"])
                on_event(event)
        except BaseException:
            _stop(started)
            raise
        finally:
            _close_pipes(started, readers)
    return [line for w in started if (line := _failure(w))]


def _close_pipes(workers: list[Worker], readers: list[threading.Thread]) -> None:
    """Close the parent's ends of the workers' pipes once their readers have read them to the end.

    The workers have ended (or been killed), so the readers meet the end of their pipes at once; a
    reader still blocked keeps its pipe open, as closing it would wait on the reader's lock.
    """
    for t in readers:
        t.join(timeout=5)
    if any(t.is_alive() for t in readers):
        return
    for w in workers:
        for stream in (w.proc.stdin, w.proc.stdout, w.proc.stderr):
            try:
                stream.close()
            except BrokenPipeError:  # stdin, left unsent to a worker that died at start
                pass


def _pythonpath() -> str:
    """This checkout first, so workers run the same code as the parent even when it is not installed."""
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)


# ---- a worker ------------------------------------------------------------------------------------

class SweepGone(KeyboardInterrupt):
    """The sweep that started this worker is gone (its pipes are closed): an interrupt, never a run's failure.

    Killing the sweep closes the worker's pipes before Linux sends the worker its death signal, so the
    worker's next event or warning can meet the closed pipe first. A BrokenPipeError there would reach the
    run's failure handler (`sweep.run_one`) and record a healthy run as `failed`; as an interrupt, the run is
    left unrecorded, its claim released and its checkpoint kept, as with Ctrl-C.
    """


class Channel:
    """A text stream to the sweep (events on stdout, warnings on stderr) whose closing is an interrupt."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError as e:
            raise SweepGone("the sweep that started this worker is gone") from e

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError as e:
            raise SweepGone("the sweep that started this worker is gone") from e

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _die_with_parent() -> None:
    """Ask Linux to interrupt this worker (SIGTERM, turned into KeyboardInterrupt) when its parent dies."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def worker_main() -> int:
    """The body of a worker process: read the job from stdin, train it, report events on stdout."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    events = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything else printed goes to stderr, so stdout carries events only
    sys.stdout, sys.stderr = Channel(sys.stdout), Channel(sys.stderr)
    try:
        return _work(WorkerJob.from_json(sys.stdin.read()), Channel(events))
    finally:
        with contextlib.suppress(BrokenPipeError):  # the sweep is gone: the file is closed all the same
            events.close()


def _work(job: WorkerJob, out: Channel) -> int:
    """Train the job's runs, reporting on `out`; the exit code of the worker."""
    _die_with_parent()
    if os.getppid() != job.parent_pid:  # the parent died before the death signal was armed
        return 130
    if job.cpus:
        os.sched_setaffinity(0, job.cpus)  # before XLA's CPU client exists: its thread pool is sized by them

    def send(event: str, **data) -> None:
        out.write(json.dumps({"event": event, **data}) + "\n")

    try:
        from benchmarks.running import executors, sweep

        store = executors.prepare(job.context, job.compile_cache_dir)
        sweep.run_sweep(
            sweep.SweepPlan(job.specs, job.specs), store, job.context.options,
            on_start=lambda s: send("start", run_id=sweep.run_id(s), what=sweep.describe(s), total=s.steps // s.eval_every),
            on_progress=lambda done, total: send("progress", done=done, total=total),
            on_record=lambda r: send("record", record=json.loads(r.to_json())),
            on_wait=lambda held: send("wait", runs=len(held)),
            capacity=job.context.capacity,
        )
    except UserError as e:
        print("archbench: error: " + " ".join(str(e).split()), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(worker_main())
