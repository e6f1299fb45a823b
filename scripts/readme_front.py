"""The README's front: what the committed reference found, rendered from it, never typed by hand.

The README quotes two things from `results/reference/quick/`: the verdict's headline and each
family's test loss at the largest cell. Both sit between markers (`<!-- headline:start -->` ...)
and are written by this script from the reference's records, so the README says what the code
says; `tests/test_readme.py` fails when they drift apart.

    python scripts/readme_front.py            # print the two blocks
    python scripts/readme_front.py --write    # replace them in README.md
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
REFERENCE = ROOT / "results" / "reference"
SUITE = "quick"


def largest_cell_table(results_dir: Path = REFERENCE, suite: str = SUITE) -> str:
    """Each family's test loss and accuracy at the suite's largest cell (most parameters, then most data), in the
    leaderboard's own formats."""
    from benchmarks.analysis.leaderboard import load_leaderboards
    from benchmarks.analysis.leaderboard_formats import arch_label, fmt_accuracy
    from benchmarks.formatting import fmt_estimate, md_table

    (board,) = load_leaderboards(results_dir, suite)
    cell = max(board.cells, key=lambda c: (c.target_params, c.data_size))
    rows = [[f"={e.rank}" if e.tied else str(e.rank), f"`{arch_label(e)}`", fmt_estimate(e.test_loss),
             fmt_accuracy(e.test_acc)] for e in cell.entries]
    return "\n".join(md_table(["rank", "family", "test loss", "test accuracy %"], rows, [True, False, False, False]))


def headline(results_dir: Path = REFERENCE, suite: str = SUITE) -> str:
    """The verdict's headline of the committed reference, as `archbench report` printed it into fits.json
    (each dataset's first section: `quick` has one)."""
    import json

    from benchmarks.layout import FITS_FILE

    section = json.loads((results_dir / suite / FITS_FILE).read_text())["verdict"]["sections"][0]
    return "\n".join(f"- {line}" for line in section["headline"])


def blocks() -> dict[str, str]:
    return {"headline": headline(), "largest-cell": largest_cell_table()}


def replace_blocks(text: str, new: dict[str, str]) -> str:
    for name, body in new.items():
        pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(\n<!-- {name}:end -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"README.md has no <!-- {name}:start --> ... <!-- {name}:end --> block")
        text = pattern.sub(lambda m, body=body: m.group(1) + body + m.group(2), text)
    return text


def read_blocks(text: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(r"<!-- ([\w-]+):start -->\n(.*?)\n<!-- \1:end -->", text, re.S)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--write", action="store_true", help="replace the blocks in README.md")
    args = p.parse_args(argv)
    new = blocks()
    if args.write:
        README.write_text(replace_blocks(README.read_text(), new))
        print(f"wrote {', '.join(new)} into {README}")
    else:
        for name, body in new.items():
            print(f"<!-- {name} -->\n{body}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
