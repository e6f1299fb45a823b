"""`archbench`: the command line, the front door of the harness.

One module per command family parses its flags, calls one stage and prints:

    run.py          archbench run, archbench sweep      (benchmarks/running)
    datasets.py     archbench datasets                  (benchmarks/data)
    archs.py        archbench archs, archbench new-arch (benchmarks/running/sizing.py)
    check_arch.py   archbench check-arch                (benchmarks/running/arch_checks.py)
    leaderboard.py  archbench leaderboard               (benchmarks/analysis)
    compare.py      archbench compare                   (benchmarks/analysis)
    report.py       archbench report                    (benchmarks/analysis)
    perf.py         archbench perf                      (benchmarks/running/perf.py)
    tickets.py      archbench tickets                   (benchmarks/running/tickets.py)

Each module's `add_command(subparsers, common)` adds its parsers; a command's handler is
`cmd_<command>`. Flags several commands share are in `flags.py`.

Errors a user can cause (`UserError`, `PluginError`) print one line and exit 2.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence

import architectures
from benchmarks.cli import archs, check_arch, compare, datasets, leaderboard, perf, report, run, tickets
from benchmarks.formatting import did_you_mean
from benchmarks.spec import UserError

# One module per command family; their order is the order of `--help`.
COMMAND_MODULES = (run, datasets, archs, check_arch, leaderboard, compare, report, perf, tickets)


def common_parser() -> argparse.ArgumentParser:
    """Options every command takes."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--results-dir", default="results", help="where results are read and written (default: %(default)s)")
    p.add_argument(
        "--plugin", action="append", default=[], metavar="FILE_OR_MODULE",
        help="load architectures from a .py file or module outside the repo (repeatable)",
    )
    return p


def has_default(action: argparse.Action) -> bool:
    """Whether an option has a default worth showing: not None, a switch's off, empty or suppressed (0 is shown)."""
    default = action.default
    if not action.option_strings or default is None or default is False or default == argparse.SUPPRESS:
        return False
    return not (isinstance(default, str | list | tuple) and not default)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option that has a default shows it, unless its help already says what the default is."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if has_default(action) and "default" not in text:
            text += " (default: %(default)s)"
        return text


class _Parser(argparse.ArgumentParser):
    """Bad flags get one line (what was wrong, and where to read what is accepted) and exit code 2."""

    def error(self, message: str):
        hint = ""
        mistyped = re.match(r"argument COMMAND: invalid choice: '(.*?)'", message)
        if mistyped:  # archbench swep -> did you mean sweep?
            commands = self._subparsers._group_actions[0].choices
            hint = did_you_mean(mistyped.group(1), list(commands))
        self.exit(2, f"{self.prog}: error: {message}{hint} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="archbench",
        description="Does architecture matter, or only data? Train matched-size architectures on shared "
        "datasets, fit scaling curves, rank them.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = common_parser()
    for module in COMMAND_MODULES:
        module.add_command(sub, common)
    for command in sub.choices.values():  # one help style for every command, whatever its module chose
        command.formatter_class = HelpFormatter
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        for plugin in args.plugin:
            architectures.load_plugin(plugin)
        return int(args.func(args) or 0)
    except (UserError, architectures.PluginError) as e:
        print("archbench: error: " + " ".join(line.strip() for line in str(e).splitlines()), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("archbench: interrupted; finished runs are saved, run the same command again to resume", file=sys.stderr)
        return 130
