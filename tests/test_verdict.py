"""The verdict finds planted effects, finds none where none was planted, and says only what intervals allow."""

from __future__ import annotations

import json

import numpy as np
import pytest
from synthetic_results import Law, planted_records

from benchmarks.analysis.verdict import verdict
from benchmarks.analysis.verdict_text import bias_paragraph, dataset_paragraph, verdict_paragraph

NO_EFFECT = {"conv": 0.0, "mlp": 0.0, "transformer": 0.0}
SHRINKING = Law(effect={"conv": 0.0, "mlp": 0.3, "transformer": 0.1}, gamma=0.5)


def shares(v):
    return v.statistics["shares"]


def trend(v):
    return v.statistics["gap_trend"]


@pytest.mark.parametrize("rng", range(4))
def test_no_architecture_effect_gives_a_share_interval_that_includes_zero(rng):
    v = verdict(planted_records(Law(effect=NO_EFFECT, sigma=0.02), rng=rng), n_boot=400, rng=rng).datasets[0]
    arch = shares(v).share("architecture")
    assert arch.lo <= 0 <= arch.hi
    assert arch.hi < 0.01  # and the interval is tight: the data rule out a large effect too
    assert "do not show an effect of the architecture" in dataset_paragraph(v)
    assert "No architecture is clearly best" in dataset_paragraph(v)


def test_data_and_model_size_shares_are_found_where_they_were_planted():
    v = verdict(planted_records(Law(effect=NO_EFFECT)), n_boot=400).datasets[0]
    assert shares(v).share("data size").lo > 0.5 and shares(v).share("model size").lo > 0.05
    assert shares(v).seed_share < 0.01


def test_architecture_effect_that_shrinks_with_data_is_reported_as_shrinking():
    v = verdict(planted_records(SHRINKING), n_boot=400).datasets[0]
    assert shares(v).share("architecture").lo > 0.05
    assert shares(v).share("architecture × data size").lo > 0  # the effect depends on data: an interaction
    assert [a for a, _ in v.statistics["ranking"].ranking] == ["conv", "transformer", "mlp"]
    assert trend(v).trend.hi < 0
    true_factor = 10 ** -SHRINKING.gamma  # the planted gap shrinks ×0.32 per tenfold more data
    assert trend(v).trend.lo <= np.log(true_factor) <= trend(v).trend.hi
    for g in v.statistics["gaps"].gaps:  # each measured gap is within a couple of interval widths of the planted one
        true_gap = 0.3 * (g.data_size / 1_000) ** -SHRINKING.gamma
        assert abs(g.gap.value - true_gap) < 2 * (g.gap.hi - g.gap.lo)
    assert "The gap shrinks as the training set grows" in dataset_paragraph(v)
    crossover = trend(v).crossover
    assert "extrapolation" in dataset_paragraph(v) and crossover.lo < crossover.value < crossover.hi


def test_architecture_effect_that_grows_with_data_is_reported_as_growing():
    law = Law(effect={"conv": 0.0, "mlp": 0.05, "transformer": 0.02}, gamma=-0.5)
    v = verdict(planted_records(law), n_boot=400).datasets[0]
    assert trend(v).trend.lo > 0 and trend(v).crossover is None
    assert "The gap grows as the training set grows" in dataset_paragraph(v)


def test_failed_runs_and_missing_cells_still_give_a_verdict():
    records = planted_records(SHRINKING, failed=2)
    records = [r for r in records if not (r.spec.arch == "mlp" and r.spec.target_params == 30_000)]
    v = verdict(records, n_boot=200).datasets[0]
    assert v.n_runs == 24 and v.n_excluded == 2
    assert "2 failed or diverged runs left out" in dataset_paragraph(v)
    assert all(np.isfinite([s.share.value, s.share.lo, s.share.hi]).all() for s in shares(v).shares)
    assert shares(v).share("architecture").lo > 0


def test_shuffled_twin_gives_an_inductive_bias_comparison():
    base = planted_records(Law(effect={"conv": -0.2, "mlp": 0.0, "transformer": -0.05}), dataset="mnist1d")
    shuffled = planted_records(Law(effect={"conv": 0.05, "mlp": 0.0, "transformer": 0.0}),
                               dataset="mnist1d-shuffled", rng=1)
    v = verdict(base + shuffled, n_boot=400)
    assert [d.dataset for d in v.datasets] == ["mnist1d", "mnist1d-shuffled"]
    (bias,) = v.inductive_bias
    assert bias.leader == "conv"
    assert bias.change["conv"].lo > 0.2  # planted: +0.25 in log loss
    assert abs(bias.change["mlp"].value) < 0.01  # planted: no change
    assert bias.advantage["mnist1d"][1].lo > 0.1 and bias.advantage["mnist1d-shuffled"][1].hi < 0
    assert "shuffling raises the loss of conv" in bias_paragraph(bias)
    assert bias_paragraph(bias) in verdict_paragraph(v)


def test_verdict_is_json_ready():
    d = verdict(planted_records(SHRINKING), n_boot=100).to_dict()
    assert json.loads(json.dumps(d))["datasets"][0]["dataset"] == "synthetic"


def test_one_seed_per_run_gives_numbers_without_intervals_or_claims():
    v = verdict(planted_records(SHRINKING, seeds=(0,)), n_boot=100).datasets[0]
    assert not v.has_intervals and np.isnan(shares(v).share("architecture").lo)
    text = dataset_paragraph(v)
    assert "no estimate of seed noise" in text and "[no interval]" in text
    assert "clearly best" not in text and "has an effect" not in text and "shrinks" not in text


def test_architectures_each_at_their_own_size_are_said_to_be_confounded_not_without_effect():
    law = Law(effect={"conv": 0.0, "mlp": 0.5}, sigma=0.02)  # a large planted effect
    own_size = [r for r in planted_records(law, sizes=(10_000, 30_000), data_sizes=(1_000,))
                if (r.spec.arch, r.spec.target_params) in {("conv", 10_000), ("mlp", 30_000)}]
    v = verdict(own_size, n_boot=100).datasets[0]
    assert shares(v).confounded and shares(v).to_dict()["confounded"]
    assert "cannot be split between architecture and size" in dataset_paragraph(v)
    assert "do not show an effect of the architecture" not in dataset_paragraph(v)
    assert not shares(verdict(planted_records(law), n_boot=100).datasets[0]).confounded
