"""Do the compute frontiers' 95% intervals cover the truth at the `frontier` suite's design? Counted by simulation.

Two families are planted from known laws L(N, D) (tests/test_compute_optimal.py's: FLOPs per parameter 40 and
2) at the frontier suite's design (5 sizes × 5 training lengths × 3 seeds, online), with seed noise `--sigma`
(log loss). Each simulation draws the noise afresh and fits as `archbench report` does. Where both laws are
identified (status ok), the truth is read off the brute-force frontier (the lowest loss over a fine grid of
sizes at each compute): γ and a of each family, the compute multiplier, the gap trend. Where the law is not
identified (status slope), the truth of the local line's γ and a is the same procedure on the noise-free runs.

    python scripts/frontier_coverage.py --sims 40 --sigma 0.01     # prints one line per statistic
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from synthetic_results import planted_online_records, true_frontier  # noqa: E402
from test_compute_optimal import FLOPS_PER_PARAM, LAWS, _needed  # noqa: E402

from benchmarks.analysis.compute_optimal import envelope_frontier  # noqa: E402
from benchmarks.analysis.fits import fit_dataset  # noqa: E402
from benchmarks.analysis.stats import SeedNoise  # noqa: E402


def law_truth(arch: str, log_c: np.ndarray) -> dict[str, float]:
    loss, n_opt = true_frontier(LAWS[arch], FLOPS_PER_PARAM[arch], log_c)
    return {"gamma": -np.polyfit(log_c, np.log(loss - LAWS[arch].E), 1)[0], "a": np.polyfit(log_c, np.log(n_opt), 1)[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sims", type=int, default=40)
    ap.add_argument("--sigma", type=float, default=0.01)
    ap.add_argument("--n-boot", type=int, default=200)
    args = ap.parse_args()
    laws = {a: dataclasses.replace(law, sigma=args.sigma) for a, law in LAWS.items()}
    clean = planted_online_records({a: dataclasses.replace(law, sigma=0.0) for a, law in LAWS.items()}, FLOPS_PER_PARAM)
    slope_truth = {a: {k: e.value for k, e in envelope_frontier(a, [r for r in clean if r.spec.arch == a], SeedNoise(0, 1),
                                                                   n_boot=2, rng=np.random.default_rng(0)).estimates.items()}
                   for a in LAWS}
    hits: dict[str, list[bool]] = {}
    for sim in range(args.sims):
        fr = fit_dataset(planted_online_records(laws, FLOPS_PER_PARAM, rng=1000 + sim), n_boot=args.n_boot).frontiers
        for arch, f in fr.families.items():
            truth = law_truth(arch, np.linspace(*f.log_c_range, 9)) if f.status == "ok" else slope_truth[arch]
            for name, value in truth.items():
                if name not in f.estimates:  # a local line whose N* the sizes do not bracket states no `a`
                    continue
                hits.setdefault(f"{f.status} {arch} {name}", []).append(f.estimates[name].lo <= value <= f.estimates[name].hi)
        if all(f.status == "ok" for f in fr.families.values()):
            m = fr.multipliers[0]
            target = true_frontier(LAWS[m.stronger], FLOPS_PER_PARAM[m.stronger], np.log([m.compute]))[0][0]
            truth = _needed(m.weaker, float(target)) / m.compute
            hits.setdefault("ok multiplier", []).append(m.factor.lo <= truth <= m.factor.hi)
            t = fr.convergence[0]
            gap = [np.log(true_frontier(LAWS[a], FLOPS_PER_PARAM[a], np.log(t.compute))[0]) for a in (t.other, t.leader)]
            per_decade = float(np.diff(gap[0] - gap[1])[0] / np.log10(t.compute[1] / t.compute[0]))
            hits.setdefault("ok gap trend", []).append(t.per_decade.lo <= per_decade <= t.per_decade.hi)
    print(f"{args.sims} simulations, seed noise {args.sigma:g} (log loss), 95% intervals:")
    for key, h in sorted(hits.items()):
        print(f"  {key:<22} covered {np.mean(h):5.0%} of {len(h)}")


if __name__ == "__main__":
    main()
