"""`archbench report SUITE`: fit, plot, state the verdict and write one self-contained page."""

from __future__ import annotations

import argparse
import io
import json
import tempfile
from pathlib import Path

from benchmarks.cli.flags import results_suite, tracked_by_git
from benchmarks.layout import FITS_FILE, suite_dir
from benchmarks.running.wandb_log import MODES, log_report
from benchmarks.spec import UserError


def cmd_report(args: argparse.Namespace) -> int:
    from benchmarks.analysis.leaderboard_formats import failed_line, to_csv
    from benchmarks.analysis.report import write_report
    from benchmarks.analysis.verdict_words import Section, verdict_text

    args.suite = results_suite(args.suite, args.results_dir)
    folder = suite_dir(args.results_dir, args.suite)
    if tracked_by_git(folder):  # a committed reference is never rewritten by surprise
        copy = Path(tempfile.gettempdir()) / "archbench-results"
        raise UserError(f"{folder} is tracked by git, and `report` would rewrite its fits.json, plots/ and "
                        f"report.html; report on a copy: mkdir -p {copy} && cp -r {folder} {copy}/ && "
                        f"archbench report {args.suite} --results-dir {copy}")
    written = write_report(args.results_dir, args.suite)
    print(verdict_text(written.verdict, details=args.details))
    if failed := failed_line(written.leaderboard):  # cells the verdict rests without
        print(f"\n{failed}")
    tickets = json.loads((written.report.parent / FITS_FILE).read_text()).get("tickets")
    if tickets:  # the suite's lottery tickets (`archbench tickets`, docs/tickets.md): a section after the first
        print("\n" + Section.from_dict(tickets["words"]).text(args.details, bullets=False))
    print(f"\narchbench: wrote {written.report}")
    if args.wandb != "disabled":
        import pandas as pd

        table = pd.read_csv(io.StringIO(to_csv(written.leaderboard)))
        run_dir = log_report(args.results_dir, args.suite, args.wandb, written.files, {"leaderboard": table})
        if run_dir is not None:
            print(f"wandb: report logged ({run_dir})")
    return 0


def add_command(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "report", parents=[common],
        help="fit scaling curves, state the verdict, write plots and report.html",
        description="Fit L = E + A·x^−α per architecture against parameters, training examples and compute; "
        "say with 95% intervals how much of the held-out loss the architecture explains against model and "
        "data size; write results/SUITE/fits.json, plots/*.png and a self-contained report.html.",
    )
    p.add_argument("suite", help="suite name (a folder under --results-dir) or path to its .toml, as `sweep` takes it; "
                   "refused where git tracks the suite's results folder (report on a copy)")
    p.add_argument("--details", action="store_true",
                   help="print every claim of the verdict after the headline and bullets (fits.json holds them all)")
    p.add_argument("--wandb", choices=MODES, default="disabled",
                   help="also log the plots, the leaderboard table and the files as one W&B run of the suite's "
                   "group, job type `report` (default: %(default)s)")
    p.set_defaults(func=cmd_report)
