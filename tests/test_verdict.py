"""The verdict finds planted effects, finds none where none was planted, and says only what intervals allow."""

from __future__ import annotations

import json

import numpy as np
import pytest
from synthetic_results import Law, planted_records

from benchmarks.analysis import verdict as vd

NO_EFFECT = {"conv": 0.0, "mlp": 0.0, "transformer": 0.0}
SHRINKING = Law(effect={"conv": 0.0, "mlp": 0.3, "transformer": 0.1}, gamma=0.5)


@pytest.mark.parametrize("rng", range(4))
def test_no_architecture_effect_gives_a_share_interval_that_includes_zero(rng):
    v = vd.verdict(planted_records(Law(effect=NO_EFFECT, sigma=0.02), rng=rng), n_boot=400, rng=rng).datasets[0]
    arch = v.share("architecture")
    assert arch.lo <= 0 <= arch.hi
    assert arch.hi < 0.01  # and the interval is tight: the data rule out a large effect too
    assert "do not show an effect of the architecture" in v.paragraph
    assert "No architecture is clearly best" in v.paragraph


def test_data_and_model_size_shares_are_found_where_they_were_planted():
    v = vd.verdict(planted_records(Law(effect=NO_EFFECT)), n_boot=400).datasets[0]
    assert v.share("data size").lo > 0.5 and v.share("model size").lo > 0.05
    assert v.seed_share < 0.01


def test_architecture_effect_that_shrinks_with_data_is_reported_as_shrinking():
    v = vd.verdict(planted_records(SHRINKING), n_boot=400).datasets[0]
    assert v.share("architecture").lo > 0.05
    assert v.share("architecture × data size").lo > 0  # the effect depends on data: an interaction
    assert [a for a, _ in v.ranking] == ["conv", "transformer", "mlp"]
    assert v.trend.hi < 0
    true_factor = 10 ** -SHRINKING.gamma  # the planted gap shrinks ×0.32 per tenfold more data
    assert v.trend.lo <= np.log(true_factor) <= v.trend.hi
    for g in v.gaps:  # each measured gap is within a couple of interval widths of the planted one
        true_gap = 0.3 * (g.data_size / 1_000) ** -SHRINKING.gamma
        assert abs(g.gap.value - true_gap) < 2 * (g.gap.hi - g.gap.lo)
    assert "The gap shrinks as the training set grows" in v.paragraph
    assert "extrapolation" in v.paragraph and v.crossover.lo < v.crossover.value < v.crossover.hi


def test_architecture_effect_that_grows_with_data_is_reported_as_growing():
    law = Law(effect={"conv": 0.0, "mlp": 0.05, "transformer": 0.02}, gamma=-0.5)
    v = vd.verdict(planted_records(law), n_boot=400).datasets[0]
    assert v.trend.lo > 0 and v.crossover is None
    assert "The gap grows as the training set grows" in v.paragraph


def test_failed_runs_and_missing_cells_still_give_a_verdict():
    records = planted_records(SHRINKING, failed=2)
    records = [r for r in records if not (r.spec.arch == "mlp" and r.spec.target_params == 30_000)]
    v = vd.verdict(records, n_boot=200).datasets[0]
    assert v.n_runs == 24 and v.n_excluded == 2
    assert "2 failed or diverged runs left out" in v.paragraph
    assert all(np.isfinite([s.share.value, s.share.lo, s.share.hi]).all() for s in v.shares)
    assert v.share("architecture").lo > 0


def test_shuffled_twin_gives_an_inductive_bias_comparison():
    base = planted_records(Law(effect={"conv": -0.2, "mlp": 0.0, "transformer": -0.05}), dataset="mnist1d")
    shuffled = planted_records(Law(effect={"conv": 0.05, "mlp": 0.0, "transformer": 0.0}),
                               dataset="mnist1d-shuffled", rng=1)
    v = vd.verdict(base + shuffled, n_boot=400)
    assert [d.dataset for d in v.datasets] == ["mnist1d", "mnist1d-shuffled"]
    (bias,) = v.inductive_bias
    assert bias.leader == "conv"
    assert bias.change["conv"].lo > 0.2  # planted: +0.25 in log loss
    assert abs(bias.change["mlp"].value) < 0.01  # planted: no change
    assert bias.advantage["mnist1d"][1].lo > 0.1 and bias.advantage["mnist1d-shuffled"][1].hi < 0
    assert "shuffling raises the loss of conv" in bias.paragraph
    assert bias.paragraph in v.paragraph


def test_verdict_is_json_ready():
    d = vd.verdict(planted_records(SHRINKING), n_boot=100).to_dict()
    assert json.loads(json.dumps(d))["datasets"][0]["dataset"] == "synthetic"


def test_expected_range_of_normals_matches_tables():
    assert vd.expected_range(2) == pytest.approx(1.128, abs=1e-3)
    assert vd.expected_range(5) == pytest.approx(2.326, abs=1e-3)


def test_percent_formatting_shows_enough_digits_to_tell_the_ends_apart():
    assert vd.fmt_share(vd.Estimate(0.0001, -0.0002, 0.0005)) == "0.01% [−0.02, 0.05]"
    assert vd.fmt_share(vd.Estimate(0.5, 0.45, 0.55)) == "50% [45, 55]"
    assert vd.fmt_share(vd.Estimate(0.01, -0.00001, 0.02)) == "1.0% [0.0, 2.0]"


def test_bias_paragraph_calls_a_change_whose_interval_includes_zero_indistinguishable():
    e = vd.Estimate
    b = vd.BiasComparison("mnist1d", "mnist1d-shuffled", {"conv": e(0.25, 0.2, 0.3), "mlp": e(0.003, -0.004, 0.01)},
                          "conv", {})
    text = vd.bias_paragraph(b)
    assert "shuffling raises the loss of conv by 28" in text
    assert "for mlp (0.3% [−0.4, 1.0]) the change is indistinguishable from zero" in text


def test_one_seed_per_run_gives_numbers_without_intervals_or_claims():
    v = vd.verdict(planted_records(SHRINKING, seeds=(0,)), n_boot=100).datasets[0]
    assert not v.has_intervals and np.isnan(v.share("architecture").lo)
    assert "no estimate of seed noise" in v.paragraph and "[no interval]" in v.paragraph
    assert "clearly best" not in v.paragraph and "has an effect" not in v.paragraph and "shrinks" not in v.paragraph
