"""Run a suite: expand it into RunSpecs, skip the ones already recorded, train the rest.

Every finished run is appended to the store at once, so a sweep can be killed (even with
SIGKILL) and resumed at any point: a run that was training resumes from its last checkpoint
(`benchmarks/running/checkpoint.py`), one that was recorded is not trained again. A run that raises
(out of memory, a bug in one family) is recorded as `failed` with the reason and the sweep goes
on; a run whose loss turns non-finite is recorded as `diverged` with the step.

Several sweeps may share one results folder: each claims a run before training it (see
`benchmarks/running/store.py`), skips runs claimed by a live other process, and comes back to them at
the end, waiting until they are recorded or their claim goes stale.

In a multi-host job (`--distributed`) every process trains the same runs in the same order;
process 0 alone claims, records and decides (its decisions are broadcast), and runs are not
checkpointed (a resubmitted job starts an unfinished run again).

Input a user can fix (unknown names, impossible sizes, data sizes beyond a dataset) is checked
for every run before anything trains.
"""

from __future__ import annotations

import datetime
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import jax

from benchmarks import data
from benchmarks.data import online
from benchmarks.running import distributed
from benchmarks.running.checkpoint import RunCheckpoint, remove_stale
from benchmarks.running.runner import RunOptions, environment, execute, load_splits, run_id, solve_size
from benchmarks.running.store import Claim, Owner, ResultsStore
from benchmarks.running.suite import Suite
from benchmarks.running.train import Checkpoint
from benchmarks.spec import RunRecord, RunSpec, UserError

POLL_S = 2.0  # how often a sweep looks again at runs other processes hold


@dataclass(frozen=True)
class SweepPlan:
    specs: list[RunSpec]
    todo: list[RunSpec]

    @property
    def skipped(self) -> int:
        return len(self.specs) - len(self.todo)


def check(specs: list[RunSpec]) -> None:
    """Fail fast, before any training, on anything a user can fix."""
    for spec in specs:
        splits = load_splits(spec.dataset)
        if spec.regime == "online":
            online.check_online(spec.dataset)
        elif spec.data_size > splits.max_train_size:
            data.training_view(splits, spec.data_size)  # raises the clear error
        solve_size(spec.arch, splits.task, spec.target_params, spec.param_tolerance)
        distributed.check_batch(spec.batch_size)


def plan(suite: Suite, store: ResultsStore) -> SweepPlan:
    specs = suite.run_specs()
    check(specs)
    done = store.done_ids()
    todo = distributed.agree([run_id(s) not in done for s in specs])  # every process of a job trains the same runs
    return SweepPlan(specs, [s for s, t in zip(specs, todo) if t])


def capacities(specs: list[RunSpec]) -> dict[str, int]:
    """Per dataset, the largest training pool: one padded pool, so one compiled program per family and size
    (online, a run's pool holds the fresh examples of each of its seeds)."""
    capacity: dict[str, int] = {}
    for spec in specs:
        pool = spec.data_size * (len(set(spec.seeds)) if spec.regime == "online" else 1)
        capacity[spec.dataset] = max(capacity.get(spec.dataset, 0), pool)
    return capacity


def failed_record(spec: RunSpec, error: BaseException) -> RunRecord:
    last = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
    where = f" at {last.filename.rsplit('/', 1)[-1]}:{last.lineno}" if last else ""
    reason = " ".join(f"{type(error).__name__}: {error}".split())  # one line, whatever the exception says
    return RunRecord(
        run_id=run_id(spec), spec=spec, status="failed", reason=f"{reason[:480]}{where}",
        env=environment(), created_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    )


def run_one(
    spec: RunSpec,
    options: RunOptions,
    on_progress: Callable[[int, int], None] | None = None,
    capacity: int | None = None,
    checkpoint: Checkpoint | None = None,
) -> RunRecord:
    """Execute a spec; anything but bad input or an interrupt becomes a `failed` record.

    An interrupt (a signal, the sweep of a worker gone: `KeyboardInterrupt`) is never a failure, even
    where a library wrapped it in an error of its own: the run is left unrecorded, to be resumed.
    """
    try:
        return execute(spec, options, on_progress, capacity, checkpoint=checkpoint)
    except (UserError, KeyboardInterrupt):
        raise
    except Exception as e:  # out-of-memory, a bug in one family: record it, keep sweeping
        if interrupt := _interrupt_behind(e):
            raise interrupt from e
        return failed_record(spec, e)


def _interrupt_behind(error: BaseException) -> KeyboardInterrupt | None:
    """The interrupt an exception was raised by or while handling, if any (its chain of causes)."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def describe(spec: RunSpec) -> str:
    return f"{spec.arch} {spec.target_params / 1000:g}k params, {spec.data_size} examples on {spec.dataset}"


def train_claimed(
    spec: RunSpec,
    store: ResultsStore,
    claim: Claim | None,
    options: RunOptions,
    *,
    capacity: int | None = None,
    on_start: Callable[[RunSpec], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    force: bool = False,
) -> tuple[RunRecord, bool]:
    """Train a run this process has claimed, append its record and release the claim.

    Returns the record and whether it was written (False: another process recorded it first).
    The run's checkpoint is deleted once its record is stored; an interrupt keeps it and frees the claim.
    In a multi-host job the other processes train beside process 0 with no claim and write nothing.
    """
    single = jax.process_count() == 1
    checkpoint = RunCheckpoint.for_run(store.dir, run_id(spec), options.checkpoint_every_s) if single else None

    def progress(done: int, total: int) -> None:
        if claim is not None:
            claim.heartbeat()
        if on_progress:
            on_progress(done, total)

    try:
        if on_start:
            on_start(spec)
        record = run_one(spec, options, progress, capacity, checkpoint)
    except BaseException:  # an interrupt (or bad input): keep the checkpoint, free the run for others
        if checkpoint is not None:
            checkpoint.close()
        if claim is not None:
            with store.locked():
                claim.release()
        raise
    if not distributed.is_main_process():
        return record, False
    if force:
        store.append(record, claim)
        written = True
    else:
        written = store.append_new(record, claim)
    if checkpoint is not None:
        checkpoint.delete()
    return record, written


@dataclass(frozen=True)
class Attempt:
    """What `claim_and_train` did with one run."""

    run_id: str
    outcome: Literal["trained", "recorded", "held"]  # recorded: already in the store; held: another process trains it
    record: RunRecord | None = None  # the record trained (outcome "trained")
    written: bool = False  # this process appended it (False: another process recorded it first)
    owner: Owner | None = None  # who holds it (outcome "held"; known on process 0 only)


# Process 0 decides for the whole job, and every process follows (`distributed.agree`).
_RECORDED, _TRAIN, _HELD = 0, 1, 2


def claim_and_train(
    spec: RunSpec,
    store: ResultsStore,
    options: RunOptions,
    *,
    force: bool = False,
    capacity: int | None = None,
    on_start: Callable[[RunSpec], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Attempt:
    """The one way a run is trained (`archbench run`, a sweep, a cluster job): claim it in the store,
    train it unless it is recorded already (or `force`) or another process holds it, record it."""
    rid = run_id(spec)
    claim = store.claim(rid, redo=force) if distributed.is_main_process() else None
    decision = int(distributed.agree([_HELD if isinstance(claim, Owner) else int(claim is not None)])[0])
    if decision == _RECORDED:
        return Attempt(rid, "recorded")
    if decision == _HELD:
        return Attempt(rid, "held", owner=claim if isinstance(claim, Owner) else None)
    record, written = train_claimed(spec, store, claim, options, capacity=capacity, on_start=on_start,
                                    on_progress=on_progress, force=force)
    return Attempt(rid, "trained", record, written)


def run_sweep(
    sweep: SweepPlan,
    store: ResultsStore,
    options: RunOptions,
    on_start: Callable[[RunSpec], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    on_record: Callable[[RunRecord], None] | None = None,
    *,
    on_wait: Callable[[dict[str, Owner | None]], None] | None = None,
    poll_s: float = POLL_S,
    capacity: dict[str, int] | None = None,
) -> list[RunRecord]:
    """Train every run of the plan not yet recorded; returns the records this process wrote."""
    written = []
    capacity = capacity or capacities(sweep.specs)
    main = distributed.is_main_process()
    if main:
        store.remove_stale_claims()
        remove_stale(store.dir, store.finished_ids())  # not a failed run's: another sweep may be retrying it
    pending = list(sweep.todo)
    while pending:
        held: dict[str, Owner | None] = {}
        for spec in pending:
            attempt = claim_and_train(spec, store, options, capacity=capacity[spec.dataset], on_start=on_start,
                                      on_progress=on_progress)
            if attempt.outcome == "held":
                held[attempt.run_id] = attempt.owner  # None on processes other than 0, which show nothing
            elif attempt.written:
                written.append(attempt.record)
                if on_record:
                    on_record(attempt.record)
            elif attempt.outcome == "trained" and main:  # a claim taken over from a live but silent owner
                print(f"archbench: warning: run {attempt.run_id} was recorded by another process meanwhile; "
                      "this copy is dropped", file=sys.stderr)
        pending = [s for s in pending if run_id(s) in held]
        if pending:
            if on_wait:
                on_wait(held)
            time.sleep(poll_s)
    if main:
        store.tidy()
    return written
