"""`archbench perf --suite SUITE`: a slice of the suite's grid swept twice, one run at a time and with workers.

The baseline is today's harness: one process trains one run after another with every core
(`--workers 1`). The other is `--workers N` (benchmarks/running/workers.py). Both sweep the same
runs into their own temporary results folder, each with an empty compilation cache of its own,
so both pay what a fresh clone pays (process start, data, compilation, training) and neither
reuses the other's programs. Each is timed from its first process start to its last exit:

- member-steps per second: the optimiser steps every member (seed x learning-rate trial) of every
  run recorded really trained, up to its early stop, over that wall time;
- CPU use: CPU time of the processes (`getrusage(RUSAGE_CHILDREN)`) over wall time x cores
  (1.0: every core busy all the time);
- compile share: the records' compile_s summed, over wall time x processes (the share of the
  worker-seconds spent compiling);
- fraction of the machine's peak: the training FLOPs of those member-steps (3 x forward FLOPs x batch
  each, as a record's `train_flops` counts them) over wall time, against the matmul peak `perf` measures
  with every core. Evaluation is not counted, so this is the share of the machine that trained: a bound
  from below on what it did.

The slice is made of whole groups (runs of one dataset, family and size, which share a
compiled program), spread evenly over the suite's grid.
"""

from __future__ import annotations

import math
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.running import workers
from benchmarks.running.executors import JobContext
from benchmarks.running.runner import RunOptions
from benchmarks.running.suite import Suite
from benchmarks.running.sweep import capacities, describe
from benchmarks.spec import RunRecord, RunSpec, UserError, training_flops


@dataclass(frozen=True)
class SweepTiming:
    """One sweep of the slice."""

    workers: int
    threads_per_worker: int
    runs: int  # records written
    member_steps: int
    wall_s: float
    cpu_s: float
    compile_s: float  # records' compile_s, summed
    cores: int
    train_flops: float = 0.0  # training FLOPs of the member-steps (`member_train_flops`), summed
    failures: tuple[str, ...] = ()

    @property
    def member_steps_per_s(self) -> float:
        return self.member_steps / self.wall_s

    @property
    def cpu_use(self) -> float:
        return self.cpu_s / (self.wall_s * self.cores)

    @property
    def compile_share(self) -> float:
        return self.compile_s / (self.wall_s * self.workers)


def trained_member_steps(record: RunRecord) -> int:
    """Optimiser steps the run's members really trained (every trial, extension and seed, up to its early stop).

    The record keeps them as a rate over its training time (runner.py: `steps_per_s`); planned steps
    would count the steps that early stopping and a single tuning seed never ran.
    """
    return round(record.steps_per_s * (record.wall_s - record.compile_s))


def member_train_flops(record: RunRecord) -> float:
    """Training FLOPs of the member-steps the run really trained: each step 3 x forward FLOPs x batch."""
    return trained_member_steps(record) * training_flops(record.flops_per_example, record.spec.batch_size)


def suite_slice(specs: list[RunSpec], runs: int) -> list[RunSpec]:
    """Whole groups of runs, evenly spaced over the grid, until `runs` runs (all of them if fewer)."""
    if runs < 1:
        raise UserError(f"--slice must be a positive number of runs, got {runs}")
    all_groups = workers.groups(specs)
    per_group = max(1, round(len(specs) / len(all_groups)))
    wanted = min(len(all_groups), math.ceil(runs / per_group))
    picked = sorted({i * len(all_groups) // wanted for i in range(wanted)})
    return [spec for i in picked for spec in all_groups[i]]


def time_sweep(
    specs: list[RunSpec],
    capacity: dict[str, int],
    n_workers: int,
    threads: int,
    folder: Path,
    plugins: tuple[str, ...] = (),
    on_record: Callable[[RunRecord], None] | None = None,
) -> SweepTiming:
    """Sweep `specs` into `folder` (results and compilation cache) in `n_workers` processes of `threads` threads."""
    context = JobContext(results_dir=str(folder / "results"), suite=specs[0].suite, capacity=capacity, plugins=plugins,
                         compile_cache=True, options=RunOptions(checkpoint_every_s=3600.0))
    records: list[RunRecord] = []

    def on_event(event: workers.Event) -> None:
        if event.kind == "record":
            records.append(event.data["record"])
            if on_record:
                on_record(event.data["record"])

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    failures = workers.run_workers(specs, context, n_workers, on_event, threads=threads,
                                   compile_cache_dir=str(folder / "xla"))
    wall_s = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return SweepTiming(
        workers=n_workers, threads_per_worker=threads, runs=len(records),
        member_steps=sum(trained_member_steps(r) for r in records), wall_s=wall_s, cpu_s=cpu_s,
        compile_s=sum(r.compile_s for r in records), cores=workers.cores(), failures=tuple(failures),
        train_flops=sum(member_train_flops(r) for r in records),
    )


def measure_suite(
    suite: Suite,
    runs: int,
    n_workers: int,
    archs: tuple[str, ...] = (),
    plugins: tuple[str, ...] = (),
    on_timing: Callable[[str, SweepTiming], None] | None = None,
    on_record: Callable[[RunRecord], None] | None = None,
    peak_flops_per_s: float = 0.0,
) -> dict:
    """The slice swept one run at a time (the baseline), then in `n_workers` workers: the report's `suite` section.
    With the machine's matmul peak (every core), each sweep's training FLOP/s as a fraction of it."""
    specs = [s for s in suite.run_specs() if not archs or s.arch in archs]
    if not specs:
        raise UserError(f"perf --suite: {suite.name} has no runs of {', '.join(archs or ())}")
    picked = suite_slice(specs, runs)
    capacity = capacities(specs)  # the suite's padded pools, so the programs are the ones a whole sweep compiles
    cores = workers.cores()
    timings = {}
    with tempfile.TemporaryDirectory(prefix="archbench-perf-") as tmp:
        for name, n, threads in (("baseline", 1, cores), ("workers", n_workers, max(1, cores // n_workers))):
            timing = time_sweep(picked, capacity, n, threads, Path(tmp) / name, plugins, on_record)
            if timing.failures or timing.runs != len(picked):
                raise UserError(f"perf --suite: the {name} sweep did not record every run: "
                                + ("; ".join(timing.failures) or f"{timing.runs} of {len(picked)} recorded"))
            timings[name] = timing
            if on_timing:
                on_timing(name, timing)
    base, par = timings["baseline"], timings["workers"]
    return {
        "name": suite.name,
        "runs": [describe(s) for s in picked],
        "member_steps": par.member_steps,
        "workers": par.workers,
        "threads_per_worker": par.threads_per_worker,
        "member_steps_per_s": par.member_steps_per_s,
        "baseline_member_steps_per_s": base.member_steps_per_s,
        "speedup": par.member_steps_per_s / base.member_steps_per_s,
        "cpu_use": par.cpu_use,
        "baseline_cpu_use": base.cpu_use,
        "compile_share": par.compile_share,
        "baseline_compile_share": base.compile_share,
        "train_flops_per_s": par.train_flops / par.wall_s,
        "fraction_of_peak": par.train_flops / par.wall_s / peak_flops_per_s if peak_flops_per_s else None,
        "baseline_fraction_of_peak": base.train_flops / base.wall_s / peak_flops_per_s if peak_flops_per_s else None,
        "timings": {name: asdict(t) for name, t in timings.items()},
    }


def targets(section: dict, platform: str) -> list[dict]:
    """The issue's CPU targets for a suite's throughput (on a GPU the packed-members targets apply instead)."""
    if platform != "cpu":
        return []
    at_least = {"member-steps/s with workers / one run at a time": (section["speedup"], 2.5),
                "CPU use with workers (CPU time / wall / cores)": (section["cpu_use"], 0.9)}
    out = [{"target": f"{section['name']}: {what}", "measured": value, "threshold": threshold, "met": value >= threshold}
           for what, (value, threshold) in at_least.items()]
    if section.get("fraction_of_peak") is not None:  # issue 27: the whole suite at 30% of the machine's peak
        fraction = section["fraction_of_peak"]
        out.append({"target": f"{section['name']}: training FLOP/s with workers / the machine's matmul peak",
                    "measured": fraction, "threshold": 0.3, "met": fraction >= 0.3})
    share = section["compile_share"]
    return out + [{"target": f"{section['name']}: compile share with workers", "measured": share, "threshold": 0.15,
                   "met": share <= 0.15, "at_most": True}]


def summary(section: dict) -> list[str]:
    """The section in words, a line per sweep and one for the ratio."""
    lines = [f"suite {section['name']}: {len(section['runs'])} runs, {section['member_steps']:,} member-steps, "
             "each sweep from its own empty compilation cache"]
    for name, what, key in (("baseline", "one run at a time", "baseline_fraction_of_peak"),
                            ("workers", "workers", "fraction_of_peak")):
        t = section["timings"][name]
        shape = f"{t['workers']} x {t['threads_per_worker']} thread{'s' if t['threads_per_worker'] > 1 else ''}"
        lines.append(
            f"  {f'{what} ({shape}):':<36} {t['member_steps'] / t['wall_s']:8.1f} "
            f"member-steps/s, {t['wall_s']:.0f}s, CPU use {100 * t['cpu_s'] / (t['wall_s'] * t['cores']):.0f}% of "
            f"{t['cores']} cores, compile share {100 * t['compile_s'] / (t['wall_s'] * t['workers']):.0f}%"
            + (f", training {100 * section[key]:.1f}% of the machine's peak" if section.get(key) is not None else "")
        )
    lines.append(f"  speed-up {section['speedup']:.2f}x")
    return lines
