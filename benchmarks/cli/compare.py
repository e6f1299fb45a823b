"""`archbench compare A B`: what changed between two sets of results, and whether beyond seed noise."""

from __future__ import annotations

import argparse
import sys

from benchmarks.cli.flags import add_output_flag, emit, suite_name


def cmd_compare(args: argparse.Namespace) -> int:
    from benchmarks.analysis.compare import compare, load_side, select_suite
    from benchmarks.analysis.compare_formats import to_json, to_markdown

    if args.suite is not None:
        args.suite = suite_name(args.suite)
    a = select_suite(load_side(args.a, args.results_dir), args.suite, args.a)
    b = select_suite(load_side(args.b, args.results_dir), args.suite, args.b)
    comparison = compare(a, b, args.a, args.b)
    emit(to_json(comparison) if args.format == "json" else to_markdown(comparison), args.output)
    if comparison.regressed:
        print(f"archbench: {len(comparison.regressions)} regression(s) and {len(comparison.family_regressions)} "
              "family regression(s) beyond seed noise", file=sys.stderr)
        if args.fail_on_regression:
            return 1
    return 0


def add_command(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "compare",
        parents=[common],
        help="compare two sets of results: added/removed entries, changes beyond seed noise, rank changes",
        description="Compare results A (before) with B (after). Each is a results folder, a leaderboard JSON, "
        "or a git revision of the results (HEAD~1 = --results-dir at HEAD~1; main:results/reference).",
    )
    p.add_argument("a", metavar="A", help="before: results folder, leaderboard .json, or git revision")
    p.add_argument("b", metavar="B", help="after: results folder, leaderboard .json, or git revision")
    p.add_argument("--suite", help="compare only this suite: a name or path to its .toml")
    p.add_argument("--format", choices=("md", "json"), default="md", help="output format (default: %(default)s)")
    add_output_flag(p)
    p.add_argument(
        "--fail-on-regression", action="store_true",
        help="exit with code 1 when any entry got worse beyond seed noise (for CI)",
    )
    p.set_defaults(func=cmd_compare)
