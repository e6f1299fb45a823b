"""Coverage of the verdict's intervals and compare's false alarms, by simulation at the shipped suites' designs.

    python scripts/verdict_coverage.py                      # 200 simulations per design and statistic (~6 min)
    python scripts/verdict_coverage.py --sims 400 --designs quick reference
    python scripts/verdict_coverage.py --write docs/verdict-coverage.md

For each design (tests/coverage_sim.py: quick, the first reference's with 2 seeds, inductive, standard)
it plants six families as the reference has them (tests/coverage_sim.py REALISTIC; at the quick design
also with the regenerated reference's seed noise, REALISTIC_V3), and reports, for
each interval, the share of simulations in which its 95% interval covers the planted truth: the
variance shares (and, with no architecture effect planted, the zero shares), every pairwise contrast
(its own 95% interval; and how often every pair's Holm-step interval covers at once), and the share
of simulated reruns that `compare` calls a regression, unchanged and with one family 10% worse. The
tests run the same simulations, fewer of them (tests/test_verdict_coverage.py, tests/test_compare.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from coverage_sim import (  # noqa: E402
    DESIGNS,
    NULL,
    REALISTIC,
    REALISTIC_V3,
    compare_rates,
    contrast_coverage,
    share_coverage,
)


def table(title: str, rows: dict[str, float], n: int, band: tuple[float, float] | None = (0.90, 0.99)) -> list[str]:
    out = [f"**{title}** ({n} simulations)", "", "| interval | coverage |", "|---|---:|"]
    for name, value in rows.items():
        flag = "" if band is None or band[0] <= value <= band[1] else " ✗"
        out.append(f"| {name} | {100 * value:.1f}%{flag} |")
    return out + [""]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sims", type=int, default=200, help="simulations per design and statistic (default 200)")
    p.add_argument("--designs", nargs="+", default=list(DESIGNS), choices=list(DESIGNS))
    p.add_argument("--write", type=Path, help="write the figures as Markdown to this file")
    args = p.parse_args()
    n = args.sims
    lines = [f"# Coverage by simulation ({n} simulations per design and statistic)", "",
             "Written by `python scripts/verdict_coverage.py --write docs/verdict-coverage.md`; what is simulated and why: "
             "[statistics.md](statistics.md). ✗ marks a figure outside 90–99%.", ""]
    for name in args.designs:
        d = DESIGNS[name]
        started = time.time()
        lines += [f"## {d.name}: {len(d.sizes)} model sizes × {len(d.data_sizes)} data sizes × {len(d.seeds)} seeds × "
                  "6 families", ""]
        lines += table("Variance shares, six families as the reference has them", share_coverage(REALISTIC, d, n), n)
        lines += table("Variance shares, no architecture effect", share_coverage(NULL, d, n), n)
        contrasts = contrast_coverage(REALISTIC, d, n)
        joint = contrasts.pop("all (Holm-step intervals)")
        lines += table("Pairwise contrasts, each pair's own 95% interval", contrasts, n)
        lines += [f"Every pair's Holm-step interval covering at once: {100 * joint:.1f}% (not a 95% claim: "
                  "the verdict's intervals are each pair's own).", ""]
        if name == "quick":  # the design the regenerated reference has: its noise too
            lines += table("Variance shares, with the regenerated reference's seed noise",
                           share_coverage(REALISTIC_V3, d, n), n)
            contrasts = contrast_coverage(REALISTIC_V3, d, n)
            contrasts.pop("all (Holm-step intervals)")
            lines += table("Pairwise contrasts, with the regenerated reference's seed noise", contrasts, n)
        rates = compare_rates(REALISTIC, d, n)
        lines += [f"`compare` on simulated reruns (every seed jittered by the pooled seed noise): regression called "
                  f"in {100 * rates['false alarms']:.1f}% of unchanged reruns; gru 10% worse caught in "
                  f"{100 * rates['caught']:.1f}%.", ""]
        if name == "quick":
            rates = compare_rates(REALISTIC_V3, d, n)
            lines += [f"With the regenerated reference's seed noise (sd 0.095 in all, so the jitter is about the "
                      f"size of the 10% change): regression called in {100 * rates['false alarms']:.1f}% of unchanged "
                      f"reruns; gru 10% worse caught in {100 * rates['caught']:.1f}%.", ""]
        lines += [f"({time.time() - started:.0f} s)", ""]
        print("\n".join(lines[-40:]), flush=True)
    text = "\n".join(lines)
    if args.write:
        args.write.write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
