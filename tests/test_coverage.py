"""scripts/coverage.py at the quick suite's design with a few simulations (the script runs 200 and writes
docs/coverage.md): nominal 95% intervals of the exponents and the multipliers cover the planted truth in 90-99%
of cases, and the threshold study shows the law identified at the threshold and not below it."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "coverage.py"


@pytest.fixture(scope="module")
def coverage():
    spec = importlib.util.spec_from_file_location("coverage_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_intervals_cover_the_truth_in_reruns_of_the_quick_reference_world(coverage):
    """Reruns of the committed quick reference (its design, budgets and FLOPs, its per-family noise, tails and
    learning-rate noise: tests/reference_world.py): the fits' 95% intervals cover the truth in 90–99%."""
    start = time.perf_counter()
    out = coverage.world_fits(coverage.reference_world("quick"), n_sims=6, n_boot=200)
    for key in ("exponent / data_size / slope", "exponent / params / slope", "multiplier / data_size"):
        assert out[key]["count"] >= 90, key
        assert 0.90 <= out[key]["share"] <= 0.99, (key, out[key])
    print(f"6 reruns of the quick world: {time.perf_counter() - start:.1f} s")


def test_the_law_is_identified_from_the_threshold_on_and_piles_up_on_its_bounds_below_it(coverage):
    """At log-loss noise 0.03 (3 seeds): over a decade (5 points) the law is identified in about half the draws and
    those cover α; over two decades in every draw; over half a decade hardly ever, with intervals twice as wide."""
    at = coverage.threshold_study(5, 1.0, n_sims=20)
    wide = coverage.threshold_study(8, 2.0, n_sims=10)
    below = coverage.threshold_study(5, 0.5, n_sims=20)
    assert at["identified"] >= 0.3 and at["alpha covered (ok)"] >= 0.9
    assert wide["identified"] == 1.0
    assert below["identified"] <= 0.1
    assert below["median_alpha_interval_width"] > 2 * at["median_alpha_interval_width"]


def test_gap_trends_bounds_and_quality_multipliers_are_counted_against_the_world_truth(coverage):
    """A few reruns of the quick and quality worlds: every family's gap trend is stated and checked in each rerun,
    the multipliers' bounds are counted (true beyond the bound), and the quality multipliers' intervals cover."""
    out = next(iter(coverage._claim_results(4, 100).values()))
    trend = out["gap trend: its interval covers the true ratio per decade"]
    assert trend["count"] == 4 * 5 and trend["share"] >= 0.8, trend
    bound = out["multiplier bound (more or less than X×) / params / truth beyond the bound"]
    assert bound["count"] >= 20 and bound["share"] >= 0.8, bound
    assert out["quality: clean data worth k× / interval / covered"]["share"] >= 0.8
