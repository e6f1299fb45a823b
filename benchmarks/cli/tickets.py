"""`archbench tickets SUITE`: lottery tickets of a suite's runs, against random masks (docs/tickets.md)."""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING

from benchmarks import data
from benchmarks.cli.run import summary_line
from benchmarks.spec import RunRecord

if TYPE_CHECKING:
    from benchmarks.running.suite import Suite
    from benchmarks.running.tickets_plan import TicketsPlan

_OVERRIDES = ("prune_fraction", "target_sparsity", "rounds", "rewind_step", "scope", "margin")


def plan_of(args: argparse.Namespace, suite: Suite) -> TicketsPlan:
    """The suite's `[tickets]` (or the defaults), with the flags given on the command line, checked."""
    from benchmarks.running.tickets_plan import TicketsPlan, check_plan

    plan = suite.tickets or TicketsPlan()
    given = {k: getattr(args, k) for k in _OVERRIDES if getattr(args, k) is not None}
    if args.transfer is not None:
        given["transfer"] = tuple(data.spec_name(d) for d in args.transfer.split(",") if d.strip())
        for d in given["transfer"]:
            data.info(d)
    plan = dataclasses.replace(plan, **given)
    shortest = min(spec.steps for spec in suite.run_specs())
    check_plan(plan, shortest, suite.training.eval_every, where=f"{suite.path}: " if not given else "")
    return plan


def cmd_tickets(args: argparse.Namespace) -> int:
    import jax

    from benchmarks.running import distributed
    from benchmarks.running.suite import load_suite
    from benchmarks.running.workers import cores, count

    suite = load_suite(args.suite)
    plan = plan_of(args, suite)
    if not args.no_compile_cache:
        distributed.enable_compilation_cache()
    from benchmarks.analysis.tickets_report import summary_text
    from benchmarks.layout import MASKS_DIR
    from benchmarks.running.store import ResultsStore
    from benchmarks.running.tickets import run_tickets

    def on_record(record: RunRecord) -> None:
        print(f"{summary_line(record)}  {record.spec.mask or 'dense'}", flush=True)

    archs = [a for a in (args.arch or "").split(",") if a.strip()] or None
    workers = count(args.workers, jax.default_backend(), cores())
    run_tickets(suite, plan, args.results_dir, archs=archs, workers=workers, plugins=args.plugin, on_record=on_record)
    store = ResultsStore(args.results_dir, suite.name)
    print(summary_text(store.records(), plan.margin, store.dir / MASKS_DIR))
    print(f"\narchbench: `archbench report {suite.name}` draws the sparsity curves and the first-layer masks")
    return 0


def add_command(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "tickets", parents=[common], help="lottery tickets of a suite's runs against random masks",
        description="For every family, size, dataset and data size of a suite: train the dense run, then prune a "
        "fraction of the surviving weights with the smallest magnitude, rewind the survivors to their values at an "
        "early step and retrain on the same protocol, round after round; at every round retrain a random mask of "
        "the same per-layer sparsity too, and carry each ticket to the transfer datasets. Records go to "
        "RESULTS_DIR/SUITE/runs.jsonl with `sparsity` and `mask`, the masks to RESULTS_DIR/SUITE/masks/. The "
        "suite's [tickets] section sets the plan; the flags below override it. Resumable: run it again.",
    )
    p.add_argument("suite", help="suite name (e.g. tickets) or path to a suite .toml")
    p.add_argument("--arch", default=None, help="comma-separated families of the suite to prune (default: all)")
    p.add_argument("--prune-fraction", dest="prune_fraction", type=float, default=None,
                   help="fraction of the surviving weights pruned at every round, in (0, 1) (default: the suite's)")
    p.add_argument("--target-sparsity", dest="target_sparsity", type=float, default=None,
                   help="sparsity the rounds must reach (default: the suite's)")
    p.add_argument("--rounds", type=int, default=None, help="rounds of pruning (0: as many as the target needs)")
    p.add_argument("--rewind-step", dest="rewind_step", type=int, default=None,
                   help="step whose weights the survivors are rewound to: 0 or a multiple of eval_every, before the "
                   "end of the shortest run (default: the suite's)")
    p.add_argument("--scope", choices=("layer", "global"), default=None,
                   help="prune each layer's fraction, or one threshold over every layer (default: the suite's)")
    p.add_argument("--transfer", default=None,
                   help="comma-separated datasets each ticket is also retrained on (default: the suite's)")
    p.add_argument("--margin", type=float, default=None,
                   help="accuracy a ticket may lose against the dense model and still match it (default: the suite's)")
    p.add_argument("--workers", default="1", metavar="N|auto",
                   help="chains (a family, size, dataset and data size, with all its rounds) trained in N worker "
                   "processes, each with cores/N threads; auto: one per CPU core on a CPU")
    p.add_argument("--no-compile-cache", action="store_true",
                   help="do not use the persistent XLA compilation cache (ARCHBENCH_CACHE/xla)")
    p.set_defaults(func=cmd_tickets)
