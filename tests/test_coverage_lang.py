"""The worlds and counts of tests/coverage_lang.py (scripts/coverage.py, parts `modalities` and `context`), with a
few reruns: their truths are the references' own, and the statistics' statements are counted against them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from coverage_lang import (
    PLANTED,
    context_rates,
    context_world,
    modality_rates,
    modality_truth,
    modality_worlds,
    planted_reversal,
)
from reference_world import REFERENCE

from benchmarks.analysis.language import position_curves
from benchmarks.analysis.verdict_statistics.context import plateau


@pytest.fixture(scope="module")
def worlds():
    return modality_worlds()


def test_the_modality_worlds_truth_is_the_references_means_and_rho(worlds):
    """Four cells per family and dataset: the smooth truth is the runs' means, so the true family means and ρ are
    the ones the committed reference states; architecture leads on both datasets, as it says there."""
    (order,) = json.loads((REFERENCE / "modalities" / "fits.json").read_text())["verdict"]["modalities"]["orders"]
    truth = modality_truth(worlds)
    for ds, means in order["mean_log_loss"].items():
        assert truth.means[ds] == pytest.approx(means, abs=1e-9)
    assert truth.rho == pytest.approx(order["rank_correlation"]["value"])
    assert truth.leads == dict.fromkeys(worlds, "architecture")


def test_the_planted_world_swaps_one_pair_and_keeps_the_others(worlds):
    higher, lower, gap = PLANTED
    before, after = modality_truth(worlds), modality_truth(planted_reversal(worlds))
    text = sorted(worlds)[-1]
    assert after.means[text][higher] - after.means[text][lower] == pytest.approx(gap)
    assert after.order(higher, lower) == "swapped"
    assert after.means[sorted(worlds)[0]] == before.means[sorted(worlds)[0]]
    assert before.order("gru", "mixer") == after.order("gru", "mixer") == "kept"


def test_a_few_reruns_count_every_modality_statement_and_state_the_planted_swap(worlds):
    out = modality_rates(planted_reversal(worlds), 3, n_boot=200, rng=60_000, planted=PLANTED[:2])
    assert len(out["rank correlation: its interval covers the true ρ"]) == 3
    assert len(out["pair order stated (kept or swapped)"]) == 3 * 10
    assert sum(out["planted reversal: convnet and mlp swapped stated"]) >= 2
    assert not any(out["pair order stated wrong (the true order is the other)"])


def test_the_context_world_keeps_the_reference_curves_and_noise():
    """The fitted truth is within the test windows' noise of the reference's mean curve, and the seeds' noise is
    the reference's own (the bigram's seeds agree to 0.2%, the recurrences' to about 1%)."""
    w = context_world()
    for c in position_curves([r for r in w.runs]):
        res = np.log(c.losses_SxL).mean(axis=0) - w.truth[c.arch]
        assert abs(res.mean()) < 0.01 and res.std() < 0.04, c.arch
    assert w.seed_sd["linear"] < 0.003 < w.seed_sd["gru"] < 0.02
    assert 0.0 <= w.window_rho < 0.3


def test_the_noise_free_curves_still_fall_and_reruns_cover_the_stated_change():
    """The fitted curves fall to the end, so the rule on the noise-free curve says 'still falls' for every family;
    a few reruns' intervals of the change at the stated octave cover the true change."""
    w = context_world()
    assert all(plateau(c, "truth")[0].still_falling for c in w.noise_free())
    out = context_rates(w, 4)
    assert len(out["context plateau: change to the end covered"]) == 4 * 7
    assert np.mean(out["context plateau: change to the end covered"]) >= 0.8
    assert all(out["context plateau: earlier octave below the end, truly below"])
