"""Where a sweep's runs execute: in this process (the default), or as jobs through submitit.

`--executor slurm` submits the runs still to do to a SLURM cluster, one job per
group of runs (runs of one family and size share a job, so its compiled program is
reused), all groups as one job array. `--executor submitit-local` runs the same
jobs as local processes (no cluster needed: for trying a sweep, and for tests).
Each job appends its records to the same results store as a local sweep, claiming
each run first as local sweeps do (so jobs and local sweeps never train a run
twice), and checkpoints runs in progress; a sweep submitted again submits only
what is not yet recorded, and a run a killed job left resumes from its checkpoint.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.layout import JOBS_DIR
from benchmarks.running.store import ResultsStore
from benchmarks.spec import RunRecord, RunSpec, UserError

if TYPE_CHECKING:  # the CLI reads this module's names without importing jax
    from benchmarks.running.runner import RunOptions

EXECUTORS = ("local", "slurm", "submitit-local")


@dataclass(frozen=True)
class JobOptions:
    """What every submitted job asks the cluster for, and how runs are grouped into jobs."""

    partition: str | None = None
    time_min: int = 240  # per job
    gpus_per_node: int = 0
    nodes: int = 1
    cpus_per_task: int | None = None
    mem_gb: float | None = None
    runs_per_job: int = 8  # at most this many runs in one job (runs of one family and size)
    max_parallel: int = 64  # array tasks running at once
    slurm_args: dict[str, str] = field(default_factory=dict)  # any other sbatch option


@dataclass(frozen=True)
class JobContext:
    """What a job needs besides its runs: where to write and how this process was set up."""

    results_dir: str
    suite: str
    capacity: dict[str, int]  # per dataset: the padded training pool, as in a local sweep
    options: RunOptions  # how this process trains: the job trains the same way
    plugins: tuple[str, ...] = ()
    distributed: bool = False  # one job spans several processes (nodes x tasks), joined by jax.distributed
    compile_cache: bool = True
    retry_failed: bool = False  # runs recorded `failed` are trained again (`sweep --retry-failed`)


def group_runs(specs: list[RunSpec], runs_per_job: int) -> list[list[RunSpec]]:
    """Consecutive runs of one dataset, family and size together (they share a compiled program), in chunks."""
    groups = []
    for _, same in groupby(specs, key=lambda s: (s.dataset, s.arch, s.target_params)):
        same = list(same)
        groups += [same[i : i + runs_per_job] for i in range(0, len(same), runs_per_job)]
    return groups


def prepare(context: JobContext, compile_cache_dir: str | None = None) -> ResultsStore:
    """Set up a fresh process as the submitting one was (cache, devices, plugins); returns its store."""
    import architectures
    from benchmarks.running import distributed

    if context.compile_cache:
        distributed.enable_compilation_cache(compile_cache_dir)
    if context.distributed:
        distributed.initialize()
    for plugin in context.plugins:
        architectures.load_plugin(plugin)
    return ResultsStore(context.results_dir, context.suite, retry_failed=context.retry_failed)


def run_group(context: JobContext, specs: list[dict]) -> list[str]:
    """The body of one job: train its runs in order, appending each record; returns the run_ids recorded."""
    from benchmarks.running import sweep

    store = prepare(context)
    todo = [RunSpec.from_dict(d) for d in specs]
    plan = sweep.SweepPlan(todo, todo)
    written = sweep.run_sweep(plan, store, context.options, capacity=context.capacity)
    return [r.run_id for r in written]


def _submitit():
    """submitit, imported without letting it configure this process's logging (its dictConfig closes existing handlers)."""
    if "submitit" not in sys.modules:
        before = os.environ.get("SUBMITIT_LOG_LEVEL")
        os.environ["SUBMITIT_LOG_LEVEL"] = "NOCONFIG"
        try:
            import submitit  # noqa: F401
        finally:
            if before is None:
                del os.environ["SUBMITIT_LOG_LEVEL"]
            else:
                os.environ["SUBMITIT_LOG_LEVEL"] = before
    return sys.modules["submitit"]


def make_executor(kind: str, folder: Path, options: JobOptions, suite: str, distributed_job: bool):
    """A submitit executor for `kind` ('slurm' or 'submitit-local') with the job options applied."""
    submitit = _submitit()

    cluster = {"slurm": "slurm", "submitit-local": "local"}[kind]
    try:
        executor = submitit.AutoExecutor(folder=folder, cluster=cluster)
    except RuntimeError as e:  # no srun/sbatch here
        raise UserError(f"--executor {kind} cannot start here: {str(e).strip()}") from e
    tasks = max(1, options.gpus_per_node) if distributed_job else 1  # jax.distributed: one process per GPU
    params: dict = {
        "name": f"archbench-{suite}",
        "timeout_min": options.time_min,
        "tasks_per_node": tasks,
        "nodes": options.nodes,
        "gpus_per_node": options.gpus_per_node,
        "cpus_per_task": options.cpus_per_task,
        "mem_gb": options.mem_gb,
    }
    if cluster == "slurm":
        params |= {"slurm_partition": options.partition, "slurm_array_parallelism": options.max_parallel}
        if options.slurm_args:
            params["slurm_additional_parameters"] = dict(options.slurm_args)
    executor.update_parameters(**params)
    return executor


def submit_sweep(
    kind: str,
    todo: list[RunSpec],
    store: ResultsStore,
    context: JobContext,
    options: JobOptions,
    on_submit: Callable[[int, str], None] | None = None,
    on_record: Callable[[RunRecord], None] | None = None,
    wait: bool = True,
) -> list[str]:
    """Submit `todo` as one job array; with `wait`, follow the jobs and return the failures (one line each)."""
    submitit = _submitit()

    groups = group_runs(todo, options.runs_per_job)
    if not groups:
        return []
    folder = store.dir / JOBS_DIR
    executor = make_executor(kind, folder, options, context.suite, context.distributed)
    try:
        jobs = executor.map_array(run_group, [context] * len(groups), [[s.to_dict() for s in g] for g in groups])
    except (OSError, RuntimeError, submitit.core.utils.FailedJobError) as e:
        raise UserError(f"could not submit to {kind}: {str(e).strip().splitlines()[0] if str(e).strip() else e}") from e
    if on_submit:
        on_submit(len(jobs), str(jobs[0].job_id).split("_")[0])
    if not wait:
        return []
    failures = []
    for job in submitit.helpers.as_completed(jobs, poll_frequency=1 if kind == "submitit-local" else 30):
        try:
            recorded = set(job.result())
        except Exception as e:  # a job that died (time limit, node failure): its runs stay to do
            failures.append(f"job {job.job_id} failed: {str(e).strip().splitlines()[-1] if str(e).strip() else e} "
                            f"(logs in {folder})")
            continue
        if on_record:
            for record in store.records():
                if record.run_id in recorded:
                    on_record(record)
    return failures
