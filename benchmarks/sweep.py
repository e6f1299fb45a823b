"""Run a suite: expand it into RunSpecs, skip the ones already recorded, train the rest.

Every finished run is appended to the store at once, so a sweep can be killed
and resumed at any point. A run that raises is recorded as `failed` with the
reason and the sweep goes on; a diverged run is recorded as `diverged`.
Input a user can fix (unknown names, impossible sizes, data sizes beyond a
dataset) is checked for every run before anything trains.
"""

from __future__ import annotations

import datetime
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks import data, sizing
from benchmarks.runner import environment, execute, load_splits, run_id
from benchmarks.spec import RunRecord, RunSpec, UserError
from benchmarks.store import ResultsStore
from benchmarks.suite import Suite


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
        sizing.solve(spec.arch, splits.task, spec.target_params, spec.param_tolerance)


def plan(suite: Suite, store: ResultsStore) -> SweepPlan:
    specs = suite.run_specs()
    check(specs)
    done = store.done_ids()
    return SweepPlan(specs, [s for s in specs if run_id(s) not in done])


def failed_record(spec: RunSpec, error: BaseException) -> RunRecord:
    last = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
    where = f" at {last.filename.rsplit('/', 1)[-1]}:{last.lineno}" if last else ""
    return RunRecord(
        run_id=run_id(spec), spec=spec, status="failed", reason=f"{type(error).__name__}: {error}{where}"[:500],
        env=environment(), created_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    )


def run_one(
    spec: RunSpec, on_progress: Callable[[int, int], None] | None = None, capacity: int | None = None
) -> RunRecord:
    """Execute a spec; anything but bad input or an interrupt becomes a `failed` record."""
    try:
        return execute(spec, on_progress, capacity)
    except (UserError, KeyboardInterrupt):
        raise
    except Exception as e:  # out-of-memory, a bug in one family: record it, keep sweeping
        return failed_record(spec, e)


def describe(spec: RunSpec) -> str:
    return f"{spec.arch} {spec.target_params / 1000:g}k params, {spec.data_size} examples on {spec.dataset}"


def run_sweep(
    sweep: SweepPlan,
    store: ResultsStore,
    on_start: Callable[[RunSpec], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    on_record: Callable[[RunRecord], None] | None = None,
) -> list[RunRecord]:
    written = []
    capacity: dict[str, int] = {}  # per dataset: one padded pool, one compiled program per family and size
    for spec in sweep.specs:
        capacity[spec.dataset] = max(capacity.get(spec.dataset, 0), spec.data_size)
    for spec in sweep.todo:
        if run_id(spec) in store.done_ids():  # another process finished it meanwhile
            continue
        if on_start:
            on_start(spec)
        record = run_one(spec, on_progress, capacity[spec.dataset])
        store.append(record)
        written.append(record)
        if on_record:
            on_record(record)
    return written
