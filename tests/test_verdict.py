"""The verdict finds planted effects, finds none where none was planted, and says only what intervals allow."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from synthetic_results import Law, planted_records

from benchmarks.analysis import verdict_statistics
from benchmarks.analysis.stats import Estimate
from benchmarks.analysis.verdict import verdict
from benchmarks.analysis.verdict_statistics import RegisteredStatistic
from benchmarks.analysis.verdict_text import (
    contrast_paragraph,
    dataset_paragraph,
    fmt_loss_change,
    verdict_dict,
    verdict_paragraph,
)
from benchmarks.spec import DatasetContrast

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


SHUFFLE = DatasetContrast("mnist1d", "mnist1d-shuffled", "input order destroyed")


def test_a_declared_contrast_measures_what_the_variant_does_to_each_family():
    base = planted_records(Law(effect={"conv": -0.2, "mlp": 0.0, "transformer": -0.05}), dataset="mnist1d")
    shuffled = planted_records(Law(effect={"conv": 0.05, "mlp": 0.0, "transformer": 0.0}),
                               dataset="mnist1d-shuffled", rng=1)
    v = verdict(base + shuffled, n_boot=400, contrasts=[SHUFFLE])
    assert [d.dataset for d in v.datasets] == ["mnist1d", "mnist1d-shuffled"]
    (c,) = v.contrasts
    assert c.leader == "conv" and c.cells == {"conv": 9, "mlp": 9, "transformer": 9}
    assert c.change["conv"].lo > 0.2  # planted: +0.25 in log loss
    assert abs(c.change["mlp"].value) < 0.01  # planted: no change
    assert c.gaps["mlp"].base.lo > 0.15 and c.gaps["mlp"].variant.hi < 0  # mlp trails conv, then beats it
    assert c.gaps["mlp"].change.hi < -0.2  # planted: −0.25
    assert "the variant raises the loss of conv" in contrast_paragraph(c)
    assert contrast_paragraph(c) in verdict_paragraph(v)


def test_datasets_named_alike_are_not_contrasted_unless_declared():
    base = planted_records(Law(), dataset="mnist1d")
    shuffled = planted_records(Law(), dataset="mnist1d-shuffled", rng=1)
    assert verdict(base + shuffled, n_boot=50).contrasts == []
    assert verdict(base, n_boot=50, contrasts=[SHUFFLE]).contrasts == []  # the variant has no runs: nothing to say


def test_verdict_is_json_ready():
    d = verdict(planted_records(SHRINKING), n_boot=100).to_dict()
    assert json.loads(json.dumps(d))["datasets"][0]["dataset"] == "synthetic"


def test_one_seed_per_run_gives_numbers_without_intervals_or_claims():
    v = verdict(planted_records(SHRINKING, seeds=(0,)), n_boot=100).datasets[0]
    assert not v.has_intervals and np.isnan(shares(v).share("architecture").lo)
    text = dataset_paragraph(v)
    assert "no estimate of seed noise" in text and "[no interval]" in text
    assert "clearly best" not in text and "has an effect" not in text and "shrinks" not in text


@dataclasses.dataclass(frozen=True)
class ArchSpread:  # the example of docs/adding-a-statistic.md
    spread: Estimate | None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"arch_spread": self.spread.to_dict() if self.spread else None}


def _arch_spread(runs, earlier) -> ArchSpread:
    _, means, _ = runs.arch_means()
    sd = means.std(axis=1, ddof=1)
    return ArchSpread(spread=Estimate.recentred(sd[0], sd[1:]))


def _describe_spread(s: ArchSpread, dataset) -> list[str]:
    return [f"The architectures' losses spread by {fmt_loss_change(s.spread)} (one standard deviation)."]


def test_a_registered_statistic_is_computed_stored_and_described_and_moves_nothing_else(monkeypatch):
    records = planted_records(SHRINKING)
    before = verdict_dict(verdict(records, n_boot=100))
    verdict_statistics.registered()  # the built-in statistics, imported once
    monkeypatch.setitem(verdict_statistics._REGISTRY, "arch_spread",
                        RegisteredStatistic("arch_spread", 50, _arch_spread, _describe_spread))
    after = verdict_dict(verdict(records, n_boot=100))
    spread = after["datasets"][0].pop("arch_spread")
    assert spread["lo"] < spread["value"] < spread["hi"]
    assert "The architectures' losses spread by" in after["datasets"][0]["paragraph"]
    for d in (before, after):
        for ds in d["datasets"]:
            ds.pop("paragraph")
        d.pop("paragraph")
    assert json.dumps(after) == json.dumps(before)
def test_a_contrast_with_one_seed_per_run_states_numbers_but_no_claim():
    base = planted_records(Law(), dataset="mnist1d", seeds=(0,))
    shuffled = planted_records(Law(effect={"conv": 0.3, "mlp": 0.0, "transformer": 0.0}), dataset="mnist1d-shuffled",
                               seeds=(0,), rng=1)
    (c,) = verdict(base + shuffled, n_boot=50, contrasts=[SHUFFLE]).contrasts
    assert not c.has_intervals and "support no claim" in contrast_paragraph(c)


def test_architectures_each_at_their_own_size_are_said_to_be_confounded_not_without_effect():
    law = Law(effect={"conv": 0.0, "mlp": 0.5}, sigma=0.02)  # a large planted effect
    own_size = [r for r in planted_records(law, sizes=(10_000, 30_000), data_sizes=(1_000,))
                if (r.spec.arch, r.spec.target_params) in {("conv", 10_000), ("mlp", 30_000)}]
    v = verdict(own_size, n_boot=100).datasets[0]
    assert shares(v).confounded and shares(v).to_dict()["confounded"]
    assert "cannot be split between architecture and size" in dataset_paragraph(v)
    assert "do not show an effect of the architecture" not in dataset_paragraph(v)
    assert not shares(verdict(planted_records(law), n_boot=100).datasets[0]).confounded
