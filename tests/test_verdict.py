"""The verdict finds planted effects, finds none where none was planted, and says only what intervals allow."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from synthetic_results import Law, planted_records

from benchmarks.analysis import verdict_statistics
from benchmarks.analysis.claims import Claim, from_estimate
from benchmarks.analysis.stats import Estimate
from benchmarks.analysis.verdict import verdict
from benchmarks.analysis.verdict_statistics import RegisteredStatistic
from benchmarks.analysis.verdict_words import contrast_section, dataset_section, verdict_dict, verdict_text
from benchmarks.analysis.wording import number
from benchmarks.spec import DatasetContrast

NO_EFFECT = {"conv": 0.0, "mlp": 0.0, "transformer": 0.0}
SHRINKING = Law(effect={"conv": 0.0, "mlp": 0.3, "transformer": 0.1}, gamma=0.5)
QUICK = dict(sizes=(2_500, 5_000, 10_000), data_sizes=(400, 1_000, 2_000, 4_000))  # the quick suite's design


def words(v) -> str:
    """A dataset's verdict in words, every claim included (the terminal's --details)."""
    return dataset_section(v).text(details=True)


def shares(v):
    return v.statistics["shares"]


def contrasts(v):
    return v.statistics["contrasts"]


def trend(v):
    return v.statistics["gap_trend"]


@pytest.mark.parametrize("rng", range(4))
def test_no_architecture_effect_separates_no_pair_and_gives_a_share_near_zero(rng):
    v = verdict(planted_records(Law(effect=NO_EFFECT, sigma=0.02), rng=rng), n_boot=50, rng=rng).datasets[0]
    arch = shares(v).share("architecture")
    assert 0 == arch.lo <= arch.value <= arch.hi < 0.01  # within [0, 100]%, and tight: no large effect either
    assert not contrasts(v).separated
    text = words(v)
    assert "Lowest mean loss:" in text and "not separated from" in text and "Best family" not in text


def test_data_and_model_size_shares_are_found_where_they_were_planted():
    v = verdict(planted_records(Law(effect=NO_EFFECT)), n_boot=50).datasets[0]
    assert shares(v).share("data size").lo > 0.5 and shares(v).share("model size").lo > 0.05
    assert shares(v).seed_share.value < 0.01


def test_shares_never_leave_0_to_100_percent_and_a_negative_one_is_explained():
    got = []
    for rng in range(6):
        v = verdict(planted_records(Law(effect=NO_EFFECT, sigma=0.05), rng=rng), n_boot=50, rng=rng).datasets[0]
        for s in shares(v).shares:
            assert 0 <= s.share.lo <= s.share.value <= s.share.hi <= 1
        if shares(v).shares[0].raw < 0:
            got.append(words(v))
    assert got, "no draw estimated the architecture's share below zero"
    assert all("estimated below zero (less than seed noise alone would give)" in text and "shown as 0" in text
               for text in got)


def test_architecture_effect_is_named_pair_by_pair_with_holm_adjusted_decisions():
    law = Law(effect={"conv": 0.0, "mlp": 0.3, "transformer": 0.1, "mixer": 0.0}, sigma=0.02, tau=0.03)
    v = verdict(planted_records(law, **QUICK), n_boot=50).datasets[0]
    c = contrasts(v)
    assert len(c.contrasts) == 6 and all(x.p_holm >= x.p for x in c.contrasts)
    assert {(x.higher, x.lower) for x in c.separated} == {("mlp", "conv"), ("mlp", "mixer"), ("mlp", "transformer"),
                                                         ("transformer", "conv"), ("transformer", "mixer")}
    conv_mixer = c.between("conv", "mixer")
    assert not conv_mixer.separated and conv_mixer.adjusted.lo <= 0 <= conv_mixer.adjusted.hi
    mlp_conv = c.between("mlp", "conv")  # planted 0.3 × the mean of (D/400)^0 = 0.3 in log loss
    assert mlp_conv.difference.lo < 0.3 < mlp_conv.difference.hi
    text = words(v)
    assert "mlp above conv by" in text
    assert "conv and mixer within noise" in text or "mixer and conv within noise" in text


def test_one_story_every_statement_follows_the_same_contrasts():
    """Across planted effects from none to large, no sentence calls a pair separated that another calls not, the
    ranking's leader is clearly best only when the contrasts separate it from every family, and the words
    'no effect' never appear."""
    for size in (0.0, 0.02, 0.05, 0.3):
        law = Law(effect={"conv": 0.0, "mlp": size, "transformer": size / 2}, sigma=0.03, tau=0.03)
        v = verdict(planted_records(law, **QUICK, rng=7), n_boot=50).datasets[0]
        c, ranking, text = contrasts(v), v.statistics["ranking"], words(v)
        assert "no effect" not in text.lower()
        leader_apart = all(c.between(ranking.leader, a).separated for a, _ in ranking.ranking[1:])
        assert ranking.clear == leader_apart
        assert ("Best family:" in text) == leader_apart
        for x in c.contrasts:
            assert (f"{x.higher} above {x.lower} by" in text) == x.separated
            assert (f"{x.higher} and {x.lower} within noise" in text) == (not x.separated)


def test_architecture_effect_that_shrinks_with_data_is_reported_per_pair_as_shrinking():
    law = Law(effect={"conv": 0.0, "mlp": 0.3, "transformer": 0.1}, gamma=0.5, tau=0.02)
    v = verdict(planted_records(law, **QUICK), n_boot=50).datasets[0]
    assert shares(v).share("architecture").lo > 0.05
    assert shares(v).share("architecture × data size").lo > 0  # the effect depends on data: an interaction
    assert [a for a, _ in v.statistics["ranking"].ranking] == ["conv", "transformer", "mlp"]
    t = {x.other: x for x in trend(v).trends}
    assert set(t) == {"mlp", "transformer"} and trend(v).leader == "conv"
    # mlp's planted gap 0.3·(D/400)^−0.5: its least-squares slope per decade over the four data sizes
    x = np.log10(QUICK["data_sizes"])
    gap = 0.3 * (np.array(QUICK["data_sizes"]) / 400) ** -0.5
    true_slope = np.polyfit(x, gap, 1)[0]
    assert t["mlp"].separated and t["mlp"].per_decade.lo <= true_slope <= t["mlp"].per_decade.hi
    text = words(v)
    assert "With more data, gaps to conv narrow for" in text
    crossover = t["mlp"].crossover
    assert crossover is not None and crossover.lo < crossover.value < crossover.hi
    assert t["mlp"].crossover_past_data > 1 and "an extrapolation" in text and "× past the data" in text
    gaps = v.statistics["gaps"]
    assert gaps.leader == "conv" and {g.other for g in gaps.gaps} == {"mlp", "transformer"}  # every family, not a spread
    for g in gaps.of("mlp"):  # each measured gap is within its interval of the planted one, or nearly
        planted = 0.3 * (g.data_size / 400) ** -0.5
        assert abs(g.gap.value - planted) < (g.gap.hi - g.gap.lo)


def test_architecture_effect_that_grows_with_data_is_reported_as_growing():
    law = Law(effect={"conv": 0.0, "mlp": 0.05, "transformer": 0.02}, gamma=-0.5)
    v = verdict(planted_records(law, **QUICK), n_boot=50).datasets[0]
    mlp = next(x for x in trend(v).trends if x.other == "mlp")
    assert mlp.per_decade.lo > 0 and mlp.separated and mlp.crossover is None
    assert "widen for" in words(v) and "mlp's gap to conv widens, ×1.1" in words(v)


@pytest.mark.parametrize("data_sizes", [(1_000, 3_000, 10_000), (1_000, 2_000, 4_000, 8_000)])
def test_no_trend_with_fewer_than_four_data_sizes_or_less_than_a_decade(data_sizes):
    v = verdict(planted_records(SHRINKING, data_sizes=data_sizes), n_boot=50).datasets[0]
    assert not trend(v).trends and "a trend needs 4 over 1" in words(v)
    assert "extrapolation" not in words(v)


def test_failed_runs_and_missing_cells_still_give_a_verdict():
    records = planted_records(SHRINKING, failed=2)
    records = [r for r in records if not (r.spec.arch == "mlp" and r.spec.target_params == 30_000)]
    v = verdict(records, n_boot=50).datasets[0]
    assert v.n_runs == 24 and v.n_excluded == 2
    text = words(v)
    assert "26 runs" not in text and ", 2 left out" in text
    assert "24 runs (of the 27 cells of 3 families × 3 sizes × 3 data sizes)" in text
    assert all(np.isfinite([s.share.value, s.share.lo, s.share.hi]).all() for s in shares(v).shares)
    assert shares(v).share("architecture").lo > 0
    assert contrasts(v).between("mlp", "conv").cells == 6  # over the cells both ran


def test_families_at_different_model_sizes_are_compared_at_their_data_sizes_and_say_what_they_cannot_give():
    """An MLP at 15k against the others at 5k, as the MNIST-1D paper compares them: model size cannot be told
    apart from the architecture, and the verdict says so instead of putting 0% on it."""
    law = Law(effect={"conv": 0.0, "mlp": 0.2, "transformer": 0.05}, tau=0.02)
    records = [r for r in planted_records(law, sizes=(5_000, 15_000), **{"data_sizes": QUICK["data_sizes"]})
               if (r.spec.arch == "mlp") == (r.spec.target_params == 15_000)]
    v = verdict(records, n_boot=50).datasets[0]
    s = shares(v)
    assert "model size" in s.aliased and s.share("model size") is None and s.confounded is not None
    text = words(v)
    assert "No share for model size" in text and "not separable from the other factors" in text
    c = contrasts(v)
    assert c.between("mlp", "conv").matched == "data size" and c.between("conv", "transformer").matched == "cell"
    assert "never ran at the same model size" in text
    assert [a for a, _ in v.statistics["ranking"].ranking] == ["conv", "transformer", "mlp"]


def test_the_shares_and_the_best_family_are_computed_again_without_each_family():
    v = verdict(planted_records(Law(effect={"conv": 0.0, "mlp": 0.3, "transformer": 0.02})), n_boot=50).datasets[0]
    without = {w.family: w for w in shares(v).without}
    assert set(without) == {"conv", "mlp", "transformer"}
    assert without["mlp"].shares["architecture"] < shares(v).share("architecture").lo
    assert without["conv"].best == "transformer" and without["mlp"].best == "conv"


def test_the_headline_says_when_leaving_one_family_out_reverses_which_factor_leads():
    v = verdict(planted_records(Law(effect={"conv": 0.0, "mlp": 0.8, "transformer": 0.0})), n_boot=50).datasets[0]
    s = shares(v)
    flips = [w.family for w in s.without if w.leading != s.leading]
    assert s.leading == "architecture" and flips == ["mlp"]
    assert "data size leads without mlp" in dataset_section(v).headline[0]


def test_scope_names_the_design_and_the_runs_to_read_with_care():
    law = Law(effect={"conv": 0.0, "mlp": 0.3, "transformer": 0.05}, tau=0.02)
    records = planted_records(law, **QUICK)
    flagged = [dataclasses.replace(r, converged=False) if r.spec.arch == "transformer" and r.spec.data_size == 4000
               else dataclasses.replace(r, lr_at_edge=True) if r.spec.arch == "mlp" and r.spec.data_size == 400
               else r for r in records]
    v = verdict(flagged, n_boot=50).datasets[0]
    scope = v.statistics["scope"]
    assert len(scope.unconverged) == 3 and len(scope.at_edge) == 3 and scope.checked
    text = words(v)
    assert dataset_section(v).headline[-1].startswith(
        "Scope: 36 runs (3 families × 3 sizes × 4 data sizes), 2.5k–10k parameters, 400–4,000")
    assert "3 of 36 runs had not converged and 3 chose a learning rate at an edge of the search" in text
    assert "; without them" in text


SHUFFLE = DatasetContrast("mnist1d", "mnist1d-shuffled", "input order destroyed")


def test_a_declared_contrast_measures_what_the_variant_does_to_each_family():
    base = planted_records(Law(effect={"conv": -0.2, "mlp": 0.0, "transformer": -0.05}), dataset="mnist1d")
    shuffled = planted_records(Law(effect={"conv": 0.05, "mlp": 0.0, "transformer": 0.0}),
                               dataset="mnist1d-shuffled", rng=1)
    v = verdict(base + shuffled, n_boot=200, contrasts=[SHUFFLE])
    assert [d.dataset for d in v.datasets] == ["mnist1d", "mnist1d-shuffled"]
    (c,) = v.contrasts
    assert c.leader == "conv" and c.cells == {"conv": 9, "mlp": 9, "transformer": 9}
    assert c.change["conv"].lo > 0.2  # planted: +0.25 in log loss
    assert abs(c.change["mlp"].value) < 0.01  # planted: no change
    assert c.gaps["mlp"].base.lo > 0.15 and c.gaps["mlp"].variant.hi < 0  # mlp trails conv, then beats it
    assert c.gaps["mlp"].change.hi < -0.2  # planted: −0.25
    assert "The variant raises the loss of conv" in contrast_section(c).text()
    assert contrast_section(c).text(bullets=False) in verdict_text(v)  # a section after the first: its headline
    assert contrast_section(c).text(details=True) in verdict_text(v, details=True)


def test_datasets_named_alike_are_not_contrasted_unless_declared():
    base = planted_records(Law(), dataset="mnist1d")
    shuffled = planted_records(Law(), dataset="mnist1d-shuffled", rng=1)
    assert verdict(base + shuffled, n_boot=50).contrasts == []
    assert verdict(base, n_boot=50, contrasts=[SHUFFLE]).contrasts == []  # the variant has no runs: nothing to say


def test_verdict_is_json_ready():
    d = verdict(planted_records(SHRINKING), n_boot=50).to_dict()
    assert json.loads(json.dumps(d))["datasets"][0]["dataset"] == "synthetic"


def test_one_seed_per_run_gives_numbers_without_intervals_or_claims():
    v = verdict(planted_records(SHRINKING, seeds=(0,)), n_boot=50).datasets[0]
    assert not v.has_intervals and np.isnan(shares(v).share("architecture").lo)
    text = words(v)
    assert "no estimate of seed noise" in text and "[no interval]" in text
    assert "Best family" not in text and " above " not in text and "per tenfold" not in text


@dataclasses.dataclass(frozen=True)
class ArchSpread:  # the example of docs/adding-a-statistic.md
    spread: Estimate | None
    claims: tuple[Claim, ...] = ()

    def to_dict(self) -> dict:
        return {"arch_spread": self.spread.to_dict() if self.spread else None}


def _arch_spread(runs, earlier) -> ArchSpread:
    _, means, _ = runs.arch_means()
    sd = means.std(axis=1, ddof=1)
    spread = Estimate.recentred(sd[0], sd[1:])
    claim = from_estimate(spread, shown=lambda v: 100 * v, null=None, statistic="arch_spread", quantity="spread",
                          subject="the families", unit="percent", scope=f"{runs.dataset}, every cell all ran")
    return ArchSpread(spread=spread, claims=(claim,))


def test_a_registered_statistic_is_computed_stored_and_said_and_moves_nothing_else(monkeypatch):
    records = planted_records(SHRINKING)
    before = verdict_dict(verdict(records, n_boot=100))
    verdict_statistics.registered()  # the built-in statistics, imported once
    monkeypatch.setitem(verdict_statistics._REGISTRY, "arch_spread",
                        RegisteredStatistic("arch_spread", 50, _arch_spread, "families"))
    after = verdict_dict(verdict(records, n_boot=100))
    spread = after["datasets"][0].pop("arch_spread")
    assert spread["lo"] < spread["value"] < spread["hi"]
    assert any("the families' losses spread by" in b for b in after["datasets"][0]["words"]["bullets"]["families"])
    mine = [c for c in after["datasets"][0]["claims"] if c["statistic"] == "arch_spread"]
    assert len(mine) == 1
    for d in (before, after):
        d.pop("sections")
        for ds in d["datasets"]:
            ds.pop("words")
            ds["claims"] = [c for c in ds["claims"] if c["statistic"] != "arch_spread"]
    assert json.dumps(after) == json.dumps(before)



@dataclasses.dataclass(frozen=True)
class SuiteSpread:  # a statistic of the suite: each dataset's spread, as one statistic over every dataset
    claims: tuple[Claim, ...] = ()

    def to_dict(self) -> dict:
        return {"suite_spread": [c.to_dict() for c in self.claims]}


def _suite_spread(suite, earlier) -> SuiteSpread:
    return SuiteSpread(tuple(c for runs in suite.datasets.values() for c in _arch_spread(runs, {}).claims))


def test_a_registered_statistic_of_the_suite_is_computed_stored_and_said_and_moves_nothing_else(monkeypatch):
    records = planted_records(SHRINKING, dataset="mnist1d") + planted_records(SHRINKING, dataset="mnist1d-shuffled", rng=1)
    before = verdict_dict(verdict(records, n_boot=100, contrasts=[SHUFFLE]))
    verdict_statistics.registered()
    monkeypatch.setitem(verdict_statistics._REGISTRY, "suite_spread",
                        RegisteredStatistic("suite_spread", 300, _suite_spread, "families", "suite"))
    after = verdict_dict(verdict(records, n_boot=100, contrasts=[SHUFFLE]))
    assert [c["scope"] for c in after.pop("suite_spread")] == ["mnist1d, every cell all ran",
                                                               "mnist1d-shuffled, every cell all ran"]
    (mine,) = [s for s in after["sections"] if s["title"] == "suite_spread"]
    assert all("the families' losses spread by" in line for line in mine["headline"])
    after["sections"].remove(mine)
    assert json.dumps(after) == json.dumps(before)


def test_the_declared_contrasts_and_quality_levels_are_statistics_of_the_suite():
    names = {s.name for s in verdict_statistics.registered("suite")}
    assert {"dataset_contrasts", "quality"} <= names
    assert not names & {s.name for s in verdict_statistics.registered()}  # and not of a dataset


def test_each_statistics_table_is_made_from_its_claims_alone():
    """The tables of the claims fits.json stores are the tables of the claims computed; every interval a table
    shows is a claim's number, as the words say it."""
    base = planted_records(Law(effect={"conv": -0.2, "mlp": 0.0, "transformer": -0.05}, gamma=0.3), **QUICK)
    shuffled = planted_records(Law(effect={"conv": 0.05, "mlp": 0.0, "transformer": 0.0}), **QUICK,
                               dataset="mnist1d-shuffled", rng=1)
    v = verdict(base + shuffled, n_boot=100, contrasts=[SHUFFLE])
    drawn = 0
    for over, of in (("dataset", [d.statistics for d in v.datasets]), ("suite", [v.statistics])):
        for statistics in of:
            for s in verdict_statistics.registered(over):
                if s.table is None or s.name not in statistics:
                    continue
                claims = statistics[s.name].claims
                stored = [Claim.from_dict(json.loads(json.dumps(c.to_dict()))) for c in claims]
                tables = s.table(claims)
                assert tables == s.table(stored), s.name
                numbers = {number(c) for c in claims}
                cells = [x for t in tables for row in t.rows for x in row if "[" in x]
                assert all(any(n in x for n in numbers) for x in cells), (s.name, cells)
                drawn += len(tables)
    assert drawn >= 8
def test_a_contrast_with_one_seed_per_run_states_numbers_but_no_claim():
    base = planted_records(Law(), dataset="mnist1d", seeds=(0,))
    shuffled = planted_records(Law(effect={"conv": 0.3, "mlp": 0.0, "transformer": 0.0}), dataset="mnist1d-shuffled",
                               seeds=(0,), rng=1)
    (c,) = verdict(base + shuffled, n_boot=50, contrasts=[SHUFFLE]).contrasts
    assert not c.has_intervals and "support no claim" in contrast_section(c).text()


def test_architectures_each_at_their_own_size_are_said_to_be_confounded_not_without_effect():
    """Each family at its own size, one data size: neither factor has a share, the verdict says why, and the
    families are still compared, at their own sizes (the paper merge's test, on the aliased terms of the ANOVA)."""
    law = Law(effect={"conv": 0.0, "mlp": 0.5}, sigma=0.02)  # a large planted effect
    own_size = [r for r in planted_records(law, sizes=(10_000, 30_000), data_sizes=(1_000,))
                if (r.spec.arch, r.spec.target_params) in {("conv", 10_000), ("mlp", 30_000)}]
    v = verdict(own_size, n_boot=100).datasets[0]
    assert shares(v).aliased == ("architecture", "model size") and not shares(v).shares
    assert shares(v).to_dict()["not_separable"] == ["architecture", "model size"]
    text = words(v)
    assert "No variance shares: architecture and model size cannot be separated" in text
    assert "mlp above conv by" in text and "no effect" not in text.lower()
    assert not shares(verdict(planted_records(law), n_boot=100).datasets[0]).aliased


def test_the_order_of_the_records_moves_nothing():
    """Records are put in a canonical order before anything is drawn: shuffled lines give the same verdict."""
    records = planted_records(SHRINKING, failed=2)
    shuffled = [records[i] for i in np.random.default_rng(3).permutation(len(records))]
    assert json.dumps(verdict_dict(verdict(shuffled, n_boot=50))) == json.dumps(verdict_dict(verdict(records, n_boot=50)))


def test_a_loss_peak_inside_the_model_sizes_is_found_and_a_falling_curve_has_none():
    """A peak as double descent has one: a bump over several sizes. (One run 1.5× above its neighbours, of three,
    is what a bad learning-rate choice looks like too: seed_noise.run_level counts it as run noise; with 5 triples
    of its own, κ's degrees of freedom are few, and the reference's heavy tails make them fewer.)"""
    law = Law(effect={"mlp": 0.0}, sigma=0.02)
    sizes = (1_250, 2_500, 5_000, 10_000, 20_000, 40_000, 80_000)
    records = planted_records(law, sizes=sizes, data_sizes=(1_000,))
    bump = {2_500: 1.25, 5_000: 1.6, 10_000: 1.25}
    bumped = [dataclasses.replace(r, seeds=[dataclasses.replace(s, test_loss=bump.get(r.spec.target_params, 1.0)
                                                                * s.test_loss) for s in r.seeds]) for r in records]
    (peak,) = verdict(bumped, n_boot=50).datasets[0].statistics["peak"].claims
    assert peak.lo > 0 and "mlp's loss peaks at 5k parameters" in dataset_section(verdict(bumped, n_boot=50)
                                                                                   .datasets[0]).headline[1]
    (flat,) = verdict(records, n_boot=50).datasets[0].statistics["peak"].claims
    assert flat.hi < 0
