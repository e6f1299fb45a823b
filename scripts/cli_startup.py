"""How fast the command line answers: wall time of `archbench --help` and of every command's `--help`.

    python scripts/cli_startup.py            # one table: command, median and slowest of 3 runs
    python scripts/cli_startup.py --runs 5

Each run is a fresh process (`python -m benchmarks.cli`), as a user's shell starts it. The budget
(issue 29) is 1 s on a 2-core machine; the script prints the times and says which exceed it, it
does not fail (a loaded machine is slower, and the timing is a measurement, not a test).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET_S = 1.0


def wall_s(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "benchmarks.cli", *argv], cwd=ROOT, capture_output=True, check=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per command (default: 3)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from benchmarks.cli import build_parser

    commands = list(build_parser()._subparsers._group_actions[0].choices)
    print(f"{'command':<30} {'median':>7} {'slowest':>8}")
    over = []
    for argv in [["--help"]] + [[c, "--help"] for c in commands]:
        times = [wall_s(argv) for _ in range(args.runs)]
        label = "archbench " + " ".join(argv)
        print(f"{label:<30} {statistics.median(times):>6.2f}s {max(times):>7.2f}s")
        if statistics.median(times) > BUDGET_S:
            over.append(label)
    print(f"over {BUDGET_S:g} s: {', '.join(over)}" if over else f"every command's help within {BUDGET_S:g} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
