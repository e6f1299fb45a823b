"""`archbench leaderboard SUITE`: rank the architectures of a suite, in Markdown, CSV, HTML or JSON."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks.cli.flags import add_output_flag, emit, refuse_a_suite_folder, results_suite
from benchmarks.formatting import FORMATS
from benchmarks.running.store import suites_in
from benchmarks.spec import UserError


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from benchmarks.analysis.leaderboard import load_leaderboards
    from benchmarks.analysis.leaderboard_formats import render

    if args.suite is None:
        suites = suites_in(args.results_dir)
        if not suites:
            refuse_a_suite_folder(Path(args.results_dir))
        if len(suites) != 1:
            found = ", ".join(suites) or "none"
            raise UserError(f"name a suite: archbench leaderboard SUITE (suites in {args.results_dir}: {found})")
        args.suite = suites[0]
    args.suite = results_suite(args.suite, args.results_dir)
    (lb,) = load_leaderboards(args.results_dir, args.suite)
    emit(render(lb, args.format), args.output)
    return 0


def add_command(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "leaderboard",
        parents=[common],
        help="rank architectures per dataset and size by held-out loss",
        description="Rank the architectures of a suite in each (dataset, model size, data size) cell by mean "
        "held-out loss over seeds, with 95% intervals. Every pair of a cell is compared by a t-test on the "
        "difference of their mean log loss (seed noise pooled per family), the pairs Holm-adjusted together; an "
        "entry's rank is 1 + the entries better than it at the 5% level, and entries that share a rank are ties (=).",
    )
    p.add_argument("suite", nargs="?", help="suite name or path to its .toml, as `sweep` takes it "
                   "(default: the only suite in --results-dir)")
    p.add_argument("--format", choices=FORMATS, default="md", help="output format (default: %(default)s)")
    add_output_flag(p)
    p.set_defaults(func=cmd_leaderboard)
