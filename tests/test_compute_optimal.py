"""Compute frontiers per family (benchmarks/analysis/compute_optimal.py), on runs planted from known laws."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from benchmarks.analysis.compute_optimal import (
    MIN_BRACKETED,
    FlopsModel,
    envelope,
    envelope_frontier,
    family_frontier,
    init_share,
    isoflop_vertex,
    within_noise_at,
)
from benchmarks.analysis.fits import fit_dataset
from benchmarks.analysis.stats import SeedNoise
from benchmarks.analysis.verdict import DatasetVerdict
from benchmarks.analysis.verdict_statistics.frontiers import FrontierVerdict
from benchmarks.analysis.verdict_words import _frontier_lead
from benchmarks.analysis.wording import short_count
from tests.reference_world import reference_world
from tests.synthetic_results import Law, planted_online_records, true_frontier

LAWS = {
    "conv": Law(E=0.3, A=40.0, alpha=0.5, B=60.0, beta=0.4, sigma=0.01, effect={"conv": 0.0}),
    "mlp": Law(E=0.6, A=15.0, alpha=0.35, B=30.0, beta=0.35, sigma=0.01, effect={"mlp": 0.0}),
}
FLOPS_PER_PARAM = {"conv": 40.0, "mlp": 2.0}  # the conv pays 20x the FLOPs per parameter


def _truth(arch: str, log_c: np.ndarray) -> dict[str, float]:
    """γ and a of a planted family, read off its brute-force frontier (no formula of the module)."""
    loss, n_opt = true_frontier(LAWS[arch], FLOPS_PER_PARAM[arch], log_c)
    gamma = -np.polyfit(log_c, np.log(loss - LAWS[arch].E), 1)[0]
    return {"gamma": float(gamma), "a": float(np.polyfit(log_c, np.log(n_opt), 1)[0])}


def _needed(arch: str, loss: float) -> float:
    """Compute at which a planted family's true frontier reaches `loss` (bisection on the brute-force frontier)."""
    lo, hi = np.log(1e6), np.log(1e20)
    for _ in range(50):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if true_frontier(LAWS[arch], FLOPS_PER_PARAM[arch], np.array([mid]))[0][0] > loss else (lo, mid)
    return float(np.exp(hi))


@pytest.fixture(scope="module")
def frontiers():
    return fit_dataset(planted_online_records(LAWS, FLOPS_PER_PARAM, rng=1), n_boot=200).frontiers


def test_planted_frontiers_recover_their_exponents_within_their_intervals(frontiers):
    for arch in LAWS:
        f = frontiers.families[arch]
        assert f.status == "ok", f.reason
        truth = _truth(arch, np.linspace(*f.log_c_range, 9))
        for name, value in truth.items():
            est = f.estimates[name]
            assert est.lo <= value <= est.hi, (arch, name, value, est)
        assert abs(f.flops.phi - 1) < 1e-6  # FLOPs per example planted proportional to parameters


def test_planted_frontier_losses_cover_the_brute_force_frontier(frontiers):
    for arch in LAWS:
        rows = frontiers.families[arch].table(frontiers.log_levels)
        loss, _ = true_frontier(LAWS[arch], FLOPS_PER_PARAM[arch], frontiers.log_levels)
        measured = [(r, t) for r, t in zip(rows, loss) if r["measured"]]
        assert measured and all(r["loss"]["lo"] <= t <= r["loss"]["hi"] for r, t in measured)


def test_planted_compute_multiplier_is_recovered_within_its_interval(frontiers):
    (m,) = frontiers.multipliers
    target = {a: true_frontier(LAWS[a], FLOPS_PER_PARAM[a], np.log([m.compute]))[0][0] for a in LAWS}
    assert target[m.weaker] > target[m.stronger]  # the weaker is the truly weaker at that compute
    truth = _needed(m.weaker, float(target[m.stronger])) / m.compute
    assert m.factor.lo <= truth <= m.factor.hi and m.factor.lo > 1, (truth, m.factor)
    assert frontiers.holders[-1]["arch"] == min(target, key=target.get) == frontiers.leader


def test_the_gap_between_frontiers_follows_its_planted_trend(frontiers):
    (trend,) = frontiers.convergence
    log_c = np.log(trend.compute)
    gap = [np.log(true_frontier(LAWS[a], FLOPS_PER_PARAM[a], log_c)[0]) for a in (trend.other, trend.leader)]
    truth = (gap[0] - gap[1])[1] - (gap[0] - gap[1])[0]
    truth_per_decade = truth / np.log10(trend.compute[1] / trend.compute[0])
    assert trend.per_decade.lo <= truth_per_decade <= trend.per_decade.hi
    assert trend.verdict == ("converging" if truth_per_decade < 0 else "diverging")


def test_without_an_identified_law_the_envelope_local_slope_recovers_its_noise_free_value():
    """Noisier runs (5% seed noise): the joint law is not identified, and the local line through the
    envelope stands in; its exponents cover what the same procedure gives on the noise-free runs."""
    noisy = {a: dataclasses.replace(law, sigma=0.05) for a, law in LAWS.items()}
    clean = {a: dataclasses.replace(law, sigma=0.0) for a, law in LAWS.items()}
    got = fit_dataset(planted_online_records(noisy, FLOPS_PER_PARAM, rng=0), n_boot=100).frontiers.families
    runs = planted_online_records(clean, FLOPS_PER_PARAM, rng=0)
    for arch in LAWS:
        assert got[arch].status == "slope" and "not identified" in got[arch].reason
        truth = envelope_frontier(arch, [r for r in runs if r.spec.arch == arch], SeedNoise(0.0, 1.0), n_boot=2,
                                  rng=np.random.default_rng(0))
        est, value = got[arch].estimates["gamma"], truth.estimates["gamma"].value
        assert est.lo <= value <= est.hi, (arch, value, est)


def test_finite_regime_runs_get_the_envelope_but_no_law_frontier():
    """Runs that reuse their data: the law's D is not the examples seen, so only the envelope's local line
    (and finite suites' reports stay as they were: no compute frontiers there)."""
    records = planted_online_records({"conv": LAWS["conv"]}, FLOPS_PER_PARAM, rng=1)
    finite = [dataclasses.replace(r, spec=dataclasses.replace(r.spec, regime="finite", data_size=r.spec.data_size // 4))
              for r in records]
    fitted = fit_dataset(finite, n_boot=20)
    assert fitted.frontiers is None
    f = family_frontier("conv", finite, fitted.archs["conv"].joint, fitted.archs["conv"].noise, n_boot=20,
                        rng=np.random.default_rng(0))
    assert f.status == "slope" and "finite regime" in f.reason and f.points


def test_isoflop_vertex_finds_the_optimum_between_measured_sizes_and_says_where_it_only_bounds_it():
    log_n = np.log([1e3, 2e3, 4e3, 8e3])
    loss = ((log_n - np.log(3e3)) ** 2)[:, None, None] + 1.0  # a parabola with its bottom at N = 3,000
    n_opt, bracketed = isoflop_vertex(log_n, loss)
    assert np.exp(n_opt[0, 0]) == pytest.approx(3e3) and bracketed[0, 0]
    n_opt, bracketed = isoflop_vertex(log_n, (log_n - np.log(1e4))[:, None, None] ** 2)  # the bottom past 8,000
    assert n_opt[0, 0] == pytest.approx(np.log(8e3)) and not bracketed[0, 0]


def test_a_local_line_states_no_trend_of_n_star_where_the_sizes_do_not_bracket_it():
    """Planted runs whose compute-optimal size lies below the smallest size at every compute: the envelope's
    N* is the smallest size covering each compute, a bound and not a measurement; the frontier has no `a`
    and says why."""
    law = dataclasses.replace(LAWS["conv"], sigma=0.0)
    runs = planted_online_records({"conv": law}, FLOPS_PER_PARAM, rng=0)
    small = min(r.spec.target_params for r in runs)
    # the smallest size made far better than every larger one: the optimum sits at (or below) it everywhere
    runs = [dataclasses.replace(r, seeds=[dataclasses.replace(s, test_loss=s.test_loss * (0.5 if r.spec.target_params == small
                                                                                          else 1.5)) for s in r.seeds])
            for r in runs]
    f = envelope_frontier("conv", runs, SeedNoise(0.0, 1.0), n_boot=2, rng=np.random.default_rng(0))
    assert f.status == "slope" and "a" not in f.estimates and "its trend a is not measured" in f.reason
    rows = f.table(np.zeros(0))  # past the smallest size's compute, the next size is the smallest covering it
    assert len(rows) == 9 and sum(row["measured"] for row in rows) < MIN_BRACKETED
    assert "a" not in f.to_dict(np.zeros(0)) and "gamma" in f.to_dict(np.zeros(0))


def test_flops_model_fits_a_power_of_the_size():
    n = np.array([1e3, 4e3, 1.6e4])
    model = FlopsModel.fit(n, 7.0 * n**1.2)
    assert model.phi == pytest.approx(1.2) and np.exp(model.log_kappa) == pytest.approx(7.0)


def test_the_leader_is_not_a_family_whose_local_line_is_read_far_past_its_runs():
    """A family that spends 20x fewer FLOPs per parameter stops 1.3 decades short of the top of the compute;
    planted with a far lower floor E and noisy enough that no law is identified, its local line read out to
    the top would be the lowest there. Such a line does not lead: the leader is the lowest of the families
    whose runs reach within half a decade of the top."""
    laws = {"conv": dataclasses.replace(LAWS["conv"], sigma=0.05),
            "mlp": dataclasses.replace(LAWS["mlp"], E=0.02, sigma=0.05)}
    fr = fit_dataset(planted_online_records(laws, FLOPS_PER_PARAM, rng=3), n_boot=20).frontiers
    top = fr.log_levels[-1:]
    assert fr.families["mlp"].status == "slope" and fr.families["mlp"].log_c_range[1] < top[0] - np.log(10)
    assert fr.families["mlp"].log_loss_RxK(top)[0, 0] < fr.families["conv"].log_loss_RxK(top)[0, 0]
    assert fr.leader == "conv" and all(t.leader == "conv" for t in fr.convergence)


def test_the_leader_is_not_separated_from_a_family_planted_on_its_frontier():
    """Two families planted from one law, at the same FLOPs per parameter, share one true frontier: whichever
    leads, the other's frontier at the top is within noise of its, and the verdict names it beside the leader; a
    family planted from a law with a floor twice as high is separated from it."""
    twin = dataclasses.replace(LAWS["conv"], sigma=0.03)
    laws = {"conv": twin, "twin": twin, "high": dataclasses.replace(twin, E=0.6)}
    fr = fit_dataset(planted_online_records(laws, dict.fromkeys(laws, 40.0), rng=5), n_boot=40).frontiers
    other = {"conv": "twin", "twin": "conv"}[fr.leader]
    assert fr.tied == (other,) and fr.to_dict()["tied"] == [other]
    top = fr.log_levels[-1]
    assert within_noise_at(fr.families[other], fr.families[fr.leader], top)
    assert not within_noise_at(fr.families["high"], fr.families[fr.leader], top)
    v = DatasetVerdict("synthetic", 75, 0, list(laws), [], [], 3.0, True, {"frontiers": FrontierVerdict(fr)})
    (line,) = _frontier_lead(v)
    assert f"{fr.leader}'s is lowest at {short_count(float(np.exp(top)))} FLOPs" in line
    assert line.endswith(f", not separated from {other}'s.")


def test_the_envelope_replicates_move_a_sizes_runs_together_by_their_init_share():
    """A size's initial weights depend on its seed alone, so one init trains at every length of that size. With
    all of the seed variance in the init (shared 1, no run noise) a replicate moves every run of one size by one
    draw, and its envelope by the same amount at every level; with none shared its runs move apart. Each run's
    variance is the same either way."""
    runs = planted_online_records({"conv": LAWS["conv"]}, FLOPS_PER_PARAM, sizes=(4_000,))
    noise = SeedNoise(0.05, float("inf"))
    levels = np.linspace(*np.log([runs[0].train_flops, runs[-1].train_flops]), 5)
    moved = {}
    for shared in (0.0, 1.0):
        loss_RxK, _, _ = envelope(runs, noise, 400, np.random.default_rng(0), levels, shared)
        moved[shared] = loss_RxK[1:] - loss_RxK[:1]
    assert np.ptp(moved[1.0], axis=1).max() < 1e-9 < np.ptp(moved[0.0], axis=1).min()
    assert np.std(moved[1.0][:, 0]) == pytest.approx(0.05 / np.sqrt(3), rel=0.15)


def test_the_init_share_is_read_off_the_runs_split_plot():
    """The frontier reference's world plants mingru's init at half of its seed variance and the convnet's at 2%:
    the share read off one rerun of their runs is near each."""
    world = reference_world("frontier")
    drawn = world.draw(np.random.default_rng(0))
    share = {a: init_share([r for r in drawn if r.spec.arch == a]) for a in ("convnet", "mingru")}
    planted = {a: world.noise[a].tau**2 / (world.noise[a].tau**2 + world.noise[a].sigma**2) for a in share}
    assert planted["mingru"] == pytest.approx(0.5, abs=0.05) and planted["convnet"] < 0.05
    assert share["mingru"] == pytest.approx(planted["mingru"], abs=0.25) and share["convnet"] < 0.2
