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

import jax

from benchmarks import data
from benchmarks.running import checkpoint as checkpoint_
from benchmarks.running import distributed
from benchmarks.running.runner import environment, execute, load_splits, run_id, solve_size
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
        if spec.data_size > splits.max_train_size:
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
    """Per dataset, the largest data size: one padded pool, so one compiled program per family and size."""
    capacity: dict[str, int] = {}
    for spec in specs:
        capacity[spec.dataset] = max(capacity.get(spec.dataset, 0), spec.data_size)
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
    on_progress: Callable[[int, int], None] | None = None,
    capacity: int | None = None,
    checkpoint: Checkpoint | None = None,
) -> RunRecord:
    """Execute a spec; anything but bad input or an interrupt becomes a `failed` record."""
    try:
        return execute(spec, on_progress, capacity, checkpoint=checkpoint)
    except (UserError, KeyboardInterrupt):
        raise
    except Exception as e:  # out-of-memory, a bug in one family: record it, keep sweeping
        return failed_record(spec, e)


def describe(spec: RunSpec) -> str:
    return f"{spec.arch} {spec.target_params / 1000:g}k params, {spec.data_size} examples on {spec.dataset}"


def train_claimed(
    spec: RunSpec,
    store: ResultsStore,
    claim: Claim | None,
    *,
    capacity: int | None = None,
    checkpoint_every_s: float = checkpoint_.DEFAULT_EVERY_S,
    on_progress: Callable[[int, int], None] | None = None,
    force: bool = False,
) -> tuple[RunRecord, bool]:
    """Train a run this process has claimed, append its record and release the claim.

    Returns the record and whether it was written (False: another process recorded it first).
    The run's checkpoint is deleted once its record is stored; an interrupt keeps it and frees the claim.
    In a multi-host job the other processes train beside process 0 with no claim and write nothing.
    """
    rid = run_id(spec)
    single = jax.process_count() == 1
    checkpoint = checkpoint_.RunCheckpoint.for_run(store.dir, rid, checkpoint_every_s) if single else None

    def progress(done: int, total: int) -> None:
        if claim is not None:
            claim.heartbeat()
        if on_progress:
            on_progress(done, total)

    try:
        record = run_one(spec, progress, capacity, checkpoint)
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


def run_sweep(
    sweep: SweepPlan,
    store: ResultsStore,
    on_start: Callable[[RunSpec], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    on_record: Callable[[RunRecord], None] | None = None,
    *,
    checkpoint_every_s: float = checkpoint_.DEFAULT_EVERY_S,
    on_wait: Callable[[dict[str, Owner]], None] | None = None,
    poll_s: float = POLL_S,
    capacity: dict[str, int] | None = None,
) -> list[RunRecord]:
    """Train every run of the plan not yet recorded; returns the records this process wrote."""
    written = []
    capacity = capacity or capacities(sweep.specs)
    main = distributed.is_main_process()
    if main:
        store.remove_stale_claims()
        checkpoint_.remove_stale(store.dir, store.done_ids())
    pending = list(sweep.todo)
    while pending:
        held: dict[str, Owner] = {}
        for spec in pending:
            rid = run_id(spec)
            claim = store.claim(rid) if main else None
            # Process 0 decides for the whole job: 0 recorded meanwhile, 1 train it now, 2 held by another sweep.
            decision = int(distributed.agree([2 if isinstance(claim, Owner) else int(claim is not None)])[0])
            if decision == 0:  # recorded meanwhile by another process
                continue
            if decision == 2:
                held[rid] = claim  # None on processes other than 0, which show nothing
                continue
            if on_start:
                on_start(spec)
            record, fresh = train_claimed(
                spec, store, claim, capacity=capacity[spec.dataset], checkpoint_every_s=checkpoint_every_s,
                on_progress=on_progress,
            )
            if fresh:
                written.append(record)
                if on_record:
                    on_record(record)
            elif distributed.is_main_process():  # a claim taken over from a live but silent owner (lease run out)
                print(f"archbench: warning: run {rid} was recorded by another process meanwhile; this copy is dropped",
                      file=sys.stderr)
        pending = [s for s in pending if run_id(s) in held]
        if pending:
            if on_wait:
                on_wait(held)
            time.sleep(poll_s)
    if main:
        store.tidy()
    return written
