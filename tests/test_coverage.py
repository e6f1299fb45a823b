"""scripts/coverage.py at the quick suite's design with a few simulations (the script runs 200 and writes
docs/coverage.md): nominal 95% intervals of the exponents and the multipliers cover the planted truth in 90-99%
of cases, and the threshold study shows the law identified at the threshold and not below it."""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import numpy as np
import pytest
from coverage_frontier import frontier_tally
from coverage_sim import _dataset_runs, _verdict_trends
from reference_world import REFERENCE

from benchmarks.analysis import fits

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
    jointly too; the multipliers' bounds are counted (true beyond the bound), and the quality multipliers'
    intervals cover; in the planted worlds the crossing, the meeting past the data and the quality bound are
    stated and counted."""
    worlds = coverage._claim_results(3, 100)
    out = next(iter(worlds.values()))
    trend = out["gap trend: every claim (Holm-step interval)"]
    assert trend["count"] == 3 * 5 and trend["share"] >= 0.8, trend
    assert out["gap trend: all (Holm-step intervals)"]["count"] == 3
    bound = out["multiplier bound (more or less than X×) / params / truth beyond the bound"]
    assert bound["count"] >= 20 and bound["share"] >= 0.8, bound
    assert out["quality: clean data worth k× / interval / covered"]["share"] >= 0.8
    cross, meet, quality = (next(v for k, v in worlds.items() if k.startswith(start))
                            for start in ("quick, gru planted to cross", "quick, gru planted to meet", "quality, noisy"))
    assert cross["gap crossing stated where the true gaps cross (power)"]["count"] == 3
    assert meet["crossover (extrapolated): its interval holds the true line's zero"]["count"] >= 2
    assert quality["quality: clean data worth more (less) than X× / bound / truth beyond it"]["count"] >= 10


def test_a_gap_planted_to_cross_inside_the_data_is_stated_as_a_crossing_and_one_past_it_is_not(coverage):
    """quick's world with the gru planted at the convnet's loss plus 2 in log loss per tenfold data less (crossing at
    the middle of the data sizes): every rerun states that the two cross. The same gap reaching zero at twice the
    largest data size: no crossing is stated, and where the line would meet is an extrapolation."""
    world = coverage.reference_world("quick")
    cross = coverage.crossing_world(world, "gru", "convnet", -2.0)
    meet = coverage.crossing_world(world, "gru", "convnet", -2.0, zero_at=8_000)
    for i in range(3):
        said = {frozenset((c.subject, c.reference)): c for c in
                _trends(cross.draw(np.random.default_rng(i))) if c.quantity == "gap trend"}
        assert said[frozenset(("gru", "convnet"))].sign_change
        claims = _trends(meet.draw(np.random.default_rng(i)))
        assert not any(c.sign_change for c in claims)
        assert any(c.quantity == "crossover" and c.subject == "gru" and c.kind == "extrapolated" for c in claims)


def test_the_frontier_world_keeps_the_references_frontiers_and_a_rerun_counts_each_printed_statement(coverage):
    """The frontier reference's world (part `frontier`; three of its families, to be quick): its noise-free
    frontiers are local lines through envelopes, as the reference's, led by gru as its verdict says. One rerun,
    fitted as the report fits it, counts each other family's gap at both ends, its trend and its compute factor
    once, and the leader once."""
    world = coverage.sub_world(coverage.reference_world("frontier"), lambda r: r.spec.arch in ("convnet", "gru", "mlp"))
    true = fits.fit_dataset(coverage._noise_free(world), n_boot=8).frontiers
    (said,) = json.loads((REFERENCE / "frontier" / "fits.json").read_text())["verdict"]["datasets"]
    assert {f.status for f in true.families.values()} == {"slope"} and true.leader == said["frontier_leader"] == "gru"
    tally: dict = {}
    frontier_tally(fits.fit_dataset(world.draw(np.random.default_rng(0)), n_boot=20).frontiers, true, tally)
    count = lambda start: sum(len(v) for k, v in tally.items() if isinstance(k, str) and k.startswith(start))
    assert count("frontier of a family read as the truth's kind") == 3
    assert count("frontier gap at the low end") == count("frontier gap at the high end") == 2
    assert count("frontier gap trend per decade") == count("frontier compute factor") == 2
    assert len(tally["frontier leader: the truth's among those not separated from it"]) == 1


def _trends(records):
    return _verdict_trends(_dataset_runs(records)).claims
