"""Scaling fits recover planted laws, say when they cannot, and stay fast."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import numpy as np
import pytest
from synthetic_results import Law, planted_records

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
    records = planted_records(law, sizes=(3_000, 10_000, 30_000, 100_000), data_sizes=(300, 1_000, 3_000, 10_000))
    ok = [r for r in records if r.spec.arch == "conv"]
    fit = fits.fit_joint([r.params for r in ok], [r.spec.data_size for r in ok],
                         [[s.test_loss for s in r.seeds] for r in ok])
    est = fit.estimates
    assert fit.status == "ok"
    assert est["alpha"].lo <= law.alpha <= est["alpha"].hi
    assert est["beta"].lo <= law.beta <= est["beta"].hi
    assert est["E"].lo <= law.E <= est["E"].hi


def test_fewer_than_three_distinct_x_is_not_enough_points():
    fit = fits.fit_power_law([1e3, 1e3, 1e4], [[2.0, 2.1], [2.05], [1.5, 1.52]], axis="data_size")
    assert fit.status == "not enough points"
    assert "3 distinct training examples" in fit.reason
    assert fit.estimates == {} and "alpha" not in fit.to_dict()


def test_loss_that_rises_with_size_is_degenerate_not_numbers():
    fit = fits.fit_power_law([1e3, 1e4, 1e5], [[1.0, 1.01], [1.1, 1.11], [1.2, 1.22]], axis="params")
    assert fit.status == "degenerate"
    assert "does not decrease" in fit.reason


def test_joint_fit_needs_three_sizes_of_each_kind():
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
    assert curve["status"] == "ok" and curve["alpha"]["lo"] <= curve["alpha"]["value"] <= curve["alpha"]["hi"]
    print(f"fit_suite on 45 runs: {elapsed:.2f} s")
    assert elapsed < 20  # ~1-2 s on an idle core; loose so a busy CI box does not flake
