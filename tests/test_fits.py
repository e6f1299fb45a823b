"""Scaling fits recover planted laws, say when they cannot, and stay fast."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import numpy as np
import pytest
from synthetic_results import QUICK, QUICK_FAMILIES, Law, planted_records

from benchmarks.analysis import fits
from benchmarks.analysis.stats import usable


def _power_law_points(E, A, alpha, x, sigma, rng, n_seeds=3):
    return [(E + A * xx**-alpha) * np.exp(sigma * rng.standard_normal(n_seeds)) for xx in x]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_power_law_recovers_known_exponent_within_its_interval(seed):
    rng = np.random.default_rng(seed)
    x = np.geomspace(1e3, 1e6, 6)
    fit = fits.fit_power_law(x, _power_law_points(1.0, 30.0, 0.4, x, 0.01, rng), axis="params")
    est = fit.estimates
    assert fit.status == "ok"
    assert est["alpha"].lo <= 0.4 <= est["alpha"].hi
    assert est["E"].lo <= 1.0 <= est["E"].hi
    assert est["A"].lo <= 30.0 <= est["A"].hi
    assert est["alpha"].hi - est["alpha"].lo < 0.3  # an interval that says something


def test_power_law_interval_narrows_with_less_seed_noise():
    x = np.geomspace(1e3, 1e6, 6)
    widths = []
    for sigma in (0.03, 0.003):
        est = fits.fit_power_law(x, _power_law_points(1.0, 30.0, 0.4, x, sigma, np.random.default_rng(0))).estimates
        widths.append(est["alpha"].hi - est["alpha"].lo)
    assert widths[1] < widths[0] / 3


def test_joint_fit_recovers_model_and_data_exponents():
    law = Law(sigma=0.005)
    records = planted_records(law, sizes=(3_000, 10_000, 30_000, 100_000, 300_000),
                              data_sizes=(300, 1_000, 3_000, 10_000, 30_000))
    ok = [r for r in records if r.spec.arch == "conv"]
    fit = fits.fit_joint([r.params for r in ok], [r.spec.data_size for r in ok],
                         [[s.test_loss for s in r.seeds] for r in ok])
    est = fit.estimates
    assert fit.status == "ok"
    assert est["alpha"].lo <= law.alpha <= est["alpha"].hi
    assert est["beta"].lo <= law.beta <= est["beta"].hi
    assert est["E"].lo <= law.E <= est["E"].hi


def test_one_distinct_x_is_not_enough_points():
    fit = fits.fit_power_law([1e3, 1e3], [[2.0, 2.1], [2.05]], axis="data_size")
    assert fit.status == "not enough points" and fit.kind is None
    assert fit.estimates == {} and "alpha" not in fit.to_dict() and "local_exponent" not in fit.to_dict()


def test_fewer_points_than_the_threshold_give_a_local_slope_labelled_as_such():
    """Three points (the old reference's curves): the law would pass through them, so the curve is the local
    log-log slope, with its interval, and no E, A or α (they were status `ok` before, with meaningless intervals)."""
    fit = fits.fit_power_law([1e3, 2e3, 4e3], [[2.0, 2.1], [1.8, 1.83], [1.5, 1.52]], axis="data_size")
    assert fit.status == "slope" and fit.kind == "slope"
    assert "fewer than 5 distinct training examples over 1 decade" in fit.reason
    d = fit.to_dict()
    assert "alpha" not in d and d["local_exponent"]["lo"] < d["local_exponent"]["value"] < d["local_exponent"]["hi"]


def test_loss_that_rises_with_size_is_a_negative_exponent_never_a_law():
    fit = fits.fit_power_law([1e3, 1e4, 1e5], [[1.0, 1.01], [1.1, 1.11], [1.2, 1.22]], axis="params")
    assert fit.status == "slope" and not fit.ok
    assert fit.local_exponent.hi < 0  # the loss rises: −d log L / d log N is negative
    assert fit.log_x_at_rows(np.log([0.5]))[0] == np.inf  # more parameters never reach a lower loss


def test_joint_fit_needs_the_threshold_on_both_axes():
    fit = fits.fit_joint([1e4, 1e4, 1e5, 1e5], [1e3, 1e4, 1e3, 1e4], [2.0, 1.5, 1.8, 1.2])
    assert fit.status == "not enough points"


def test_compute_frontier_holds_the_lowest_loss_at_each_compute():
    records = planted_records(Law(effect={"conv": -0.2, "mlp": 0.1, "transformer": 0.0}))
    frontier = fits.compute_frontier(records)
    runs = [(fits.training_flops(r), np.mean([s.test_loss for s in r.seeds])) for r in records]
    assert [p.compute for p in frontier] == sorted(p.compute for p in frontier)
    assert all(np.diff([p.loss for p in frontier]) < 0)
    for p in frontier:
        assert p.loss <= min(loss for c, loss in runs if c <= p.compute) + 1e-12
    # the cheapest run (the smallest MLP) opens the frontier; the much better conv holds its expensive end
    assert frontier[0].arch == "mlp" and frontier[-1].arch == "conv"
    assert fits.frontier_holders(frontier)[-1][0] == "conv"


def test_failed_runs_are_left_out_of_fits_and_counted():
    records = planted_records(Law(), failed=2)
    out = fits.fit_suite(records, n_boot=50)["datasets"]["synthetic"]
    assert len(out["excluded"]) == 2 and {e["status"] for e in out["excluded"]} == {"diverged"}
    assert out["n_runs"] == 27
    assert all(str(3 * 100_000) not in a["vs_data"] for a in out["archs"].values())


def test_a_rerun_cell_counts_once_with_its_newest_record():
    """`run --force` appends a second record of a cell: fits (and the verdict) use the newest, like the leaderboard."""
    records = planted_records(Law())
    first = records[0]
    worse = replace(first, created_at="2099-01-01T00:00:00+00:00",
                    seeds=tuple(replace(s, test_loss=10 * s.test_loss) for s in first.seeds))
    out = fits.fit_suite([*records, worse], n_boot=50)["datasets"]["synthetic"]
    assert out["n_runs"] == 27 == fits.fit_suite(records, n_boot=50)["datasets"]["synthetic"]["n_runs"]
    assert usable([*records, worse])[0].count(worse) == 1 and first not in usable([*records, worse])[0]


def test_fit_suite_is_json_and_fast_enough_for_a_default_suite():
    effect = {a: 0.05 * i for i, a in enumerate(["conv", "mlp", "transformer", "mixer", "rnn"])}
    records = planted_records(Law(effect=effect))
    start = time.perf_counter()
    out = fits.fit_suite(records)
    elapsed = time.perf_counter() - start
    json.loads(json.dumps(out, allow_nan=False))
    curve = out["datasets"]["synthetic"]["archs"]["conv"]["vs_params"]["1000"]
    e = curve["local_exponent"]  # three sizes: below the law's threshold
    assert curve["status"] == "slope" and e["lo"] < e["value"] < e["hi"]
    print(f"fit_suite on 45 runs: {elapsed:.2f} s")
    assert elapsed < 20  # ~1-2 s on an idle core; loose so a busy CI box does not flake


# ---------------------------------------------------------------------------- noise shared by a run's seeds


def _quick(law: Law, **kw):
    return planted_records(law, **(QUICK | kw))


QUICK_LAW = Law(E=0.5, A=20.0, alpha=0.4, B=8.0, beta=0.3, effect=dict.fromkeys(QUICK_FAMILIES, 0.0), sigma=0.03)


def test_intervals_of_two_seed_runs_do_not_collapse_onto_the_estimate():
    """The old reference's failure: with two seeds, resampling them gives the observed mean in half the draws,
    so intervals ended at the estimate. With pooled noise every interval holds its estimate well inside."""
    df = fits.fit_dataset(_quick(QUICK_LAW, seeds=(0, 1)))
    for af in df.archs.values():
        for f in [*af.vs_data.values(), *af.vs_params.values()]:
            e = f.local_exponent
            assert e.lo + 0.2 * (e.hi - e.lo) < e.value < e.hi - 0.2 * (e.hi - e.lo)


def test_noise_shared_by_a_run_seeds_is_measured_and_widens_the_intervals():
    quiet = fits.fit_dataset(_quick(QUICK_LAW))
    loud = fits.fit_dataset(_quick(replace(QUICK_LAW, run_sigma=0.03)))
    assert quiet.archs["convnet"].noise.run_sd < 0.015  # none planted: its estimate is near 0 (a mean of 3 seeds: 0.017)
    assert 0.02 < loud.archs["convnet"].noise.run_sd < 0.04  # planted: 0.03
    width = lambda df: np.mean([f.local_exponent.hi - f.local_exponent.lo for f in df.archs["mlp"].vs_data.values()])
    assert width(loud) > 1.5 * width(quiet)


def test_compute_varies_apart_from_params_only_where_the_budget_follows_the_data():
    assert not fits.compute_varies(planted_records(Law()))  # 1,000 steps for every run: compute = c × FLOPs
    df = fits.fit_dataset(_quick(QUICK_LAW))
    assert df.compute_varies
    assert df.archs["gru"].vs_compute.status == "slope" and "envelope" in df.archs["gru"].vs_compute.reason


def test_a_compute_frontier_interval_chooses_its_points_again_in_every_replicate():
    """The frontier's runs are picked by their own noise: its replicates pick again, so its slope's interval is
    wider than that of lines through the fixed points, and the point estimate stays the fixed points' line."""
    records = planted_records(Law(E=0.5, A=20.0, alpha=0.4, B=8.0, beta=0.3, sigma=0.05), **QUICK)
    mine = [r for r in usable(records)[0] if r.spec.arch == "mlp"]
    df = fits.fit_dataset(records, n_boot=200)
    f = df.archs["mlp"].vs_compute
    fixed = fits.fit_runs([r for r in mine if (r.spec.target_params, r.spec.data_size) in
                           {(p.target_params, p.data_size) for p in fits.compute_frontier(mine)}],
                          "compute", df.archs["mlp"].noise, n_boot=200)
    width = lambda e: e.hi - e.lo
    assert f.local_exponent.value == pytest.approx(fixed.local_exponent.value)
    assert width(f.local_exponent) > width(fixed.local_exponent)
