"""`archbench sweep --workers N`: the flag, and the sweep's runs trained in N worker processes.

`cmd_sweep` (run.py) keeps its progress display, its line per finished run and its summary; this
module starts the workers (benchmarks/running/workers.py) and turns their events into that display.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.progress import Progress, TaskID

from benchmarks.running.executors import JobContext
from benchmarks.running.store import ResultsStore
from benchmarks.spec import RunRecord

if TYPE_CHECKING:
    from benchmarks.running.runner import RunOptions
    from benchmarks.running.sweep import SweepPlan


def add_workers_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers", default="auto", metavar="N|auto",
        help="train runs in N worker processes on this machine, each with cores/N threads, sharing the work through "
        "the results folder's claims (a killed worker loses only its run in hand); 1: every run in this process, "
        "with all cores; auto: one per CPU core on a CPU, 1 on a GPU/TPU",
    )


def requested(args: argparse.Namespace) -> int:
    """The worker processes the flag asks for (checked before anything is written)."""
    import jax

    from benchmarks.running import workers

    return workers.count(args.workers, jax.default_backend(), workers.cores(), multi_process_job=jax.process_count() > 1)


def count(args: argparse.Namespace, runs_to_train: int) -> int:
    """Worker processes for this sweep: the flag's number, never more than the runs to train (1: in this process)."""
    return max(1, min(requested(args), runs_to_train))


def train_in_workers(
    args: argparse.Namespace,
    options: RunOptions,
    plan: SweepPlan,
    store: ResultsStore,
    n: int,
    progress: Progress,
    current: TaskID,
    on_record: Callable[[RunRecord], None],
) -> list[str]:
    """Train the plan's runs in `n` workers; `current` shows the runs in hand. Returns (and prints) the workers' failures."""
    from benchmarks.running import sweep, workers

    context = JobContext(
        results_dir=str(args.results_dir), suite=store.suite, capacity=sweep.capacities(plan.specs), options=options,
        plugins=tuple(args.plugin), compile_cache=not args.no_compile_cache, retry_failed=store.retry_failed,
    )
    threads = max(1, workers.cores() // n)
    progress.console.print(f"training in {n} worker processes, {threads} thread{'s' if threads > 1 else ''} each")
    in_hand: dict[int, list] = {}  # worker -> [what, intervals done, intervals in all]

    def on_event(event: workers.Event) -> None:
        if event.kind == "start":
            in_hand[event.worker] = [event.data["what"], 0, event.data["total"]]
        elif event.kind == "progress" and event.worker in in_hand:
            in_hand[event.worker][1:] = [event.data["done"], event.data["total"]]
        elif event.kind == "record":
            on_record(event.data["record"])
        elif event.kind == "log":
            progress.console.print(event.data["line"], markup=False, highlight=False)
        if event.kind in ("record", "wait", "exit"):
            in_hand.pop(event.worker, None)
        runs = [in_hand[k] for k in sorted(in_hand)]
        progress.update(
            current, description=" | ".join(what for what, _, _ in runs) or "waiting for runs held by other processes",
            completed=sum(done for _, done, _ in runs), total=max(1, sum(total for _, _, total in runs)), visible=True,
        )

    failures = workers.run_workers(plan.todo, context, n, on_event, threads=threads)
    for line in failures:
        progress.console.print(f"[red]{line}[/]")
    return failures
