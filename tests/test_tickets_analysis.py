"""The tickets' statistics on planted data: the truth is known, the intervals must cover it."""

import dataclasses
import math

import numpy as np
import pytest

from benchmarks.analysis.tickets import (
    HIGH_SPARSITY,
    advantage_trend,
    high_advantage,
    locality,
    slope_ci,
    ticket_curves,
)
from benchmarks.analysis.tickets_report import summary_text
from tests.record_factory import make_record

SPARSITIES = (0.2, 0.36, 0.488, 0.59, 0.672, 0.738, 0.79, 0.832, 0.866, 0.893)


def _pruned(record, kind, round_, sparsity, accs, found_on=""):
    mask = f"{kind}:layer:p=0.2:round={round_}:rewind=25" + (f":from={found_on}" if found_on else "")
    spec = dataclasses.replace(record.spec, mask=mask, sparsity=sparsity)
    seeds = [dataclasses.replace(s, test_acc=a) for s, a in zip(record.seeds, accs)]
    return dataclasses.replace(record, spec=spec, run_id=spec.run_id(arch_version="1", data_version="1"), seeds=seeds)


def _chain(rng, params, dense_acc, advantage, sd=0.01, seeds=3, arch="mlp"):
    """A chain whose ticket holds the dense accuracy and whose random mask loses `advantage` at high sparsity."""
    dense = make_record(arch, [1.0] * seeds, list(dense_acc + rng.normal(0, sd, seeds)), target_params=params)
    out = [dense]
    for r, s in enumerate(SPARSITIES, start=1):
        drop = advantage if s >= HIGH_SPARSITY else 0.0
        out.append(_pruned(dense, "ticket", r, s, list(dense_acc + rng.normal(0, sd, seeds))))
        out.append(_pruned(dense, "random", r, s, list(dense_acc - drop + rng.normal(0, sd, seeds))))
    return out


def test_curves_read_planted_accuracies_and_the_advantage_interval_covers_it():
    rng = np.random.default_rng(0)
    covered, n = 0, 200
    for _ in range(n):
        (curve,) = ticket_curves(_chain(rng, 10_000, 0.8, 0.05))
        adv = high_advantage(curve)
        covered += adv.lo <= 0.05 <= adv.hi
    assert 0.90 <= covered / n <= 0.99
    assert [p.sparsity for p in curve.points] == list(SPARSITIES)


def test_matched_sparsity_is_the_last_round_before_the_ticket_falls_off():
    rng = np.random.default_rng(1)
    records = _chain(rng, 10_000, 0.8, 0.0, sd=0.0)
    # the ticket falls 5 points below dense from round 6 on (sparsity 0.738): matched up to 0.672
    records = [_pruned(r, "ticket", int(r.spec.mask.split("round=")[1].split(":")[0]), r.spec.sparsity, [0.75] * 3)
               if r.spec.mask.startswith("ticket") and r.spec.sparsity >= 0.738 else r for r in records]
    (curve,) = ticket_curves(records)
    assert curve.matched_sparsity(0.01) == pytest.approx(0.672)
    assert curve.matched_sparsity(0.06) == pytest.approx(0.893)


def test_the_slope_interval_covers_a_planted_trend_at_its_nominal_rate():
    rng = np.random.default_rng(2)
    x = np.repeat(np.log10([2_500, 5_000, 10_000]), 3)
    covered = 0
    for _ in range(400):
        y = 0.01 + 0.04 * x + rng.normal(0, 0.02, x.size)
        e = slope_ci(x, y)
        covered += e.lo <= 0.04 <= e.hi
    assert 0.92 <= covered / 400 <= 0.98


def test_advantage_trend_finds_a_planted_growth_with_size():
    rng = np.random.default_rng(3)
    records = []
    for params, adv in ((2_500, 0.02), (5_000, 0.04), (10_000, 0.06)):  # +0.02 per doubling: 0.0664 per decade
        records += _chain(rng, params, 0.8, adv, sd=0.005, seeds=4)
    (trend,) = advantage_trend(ticket_curves(records))
    truth = 0.02 / math.log10(2)
    assert trend.slope.lo <= truth <= trend.slope.hi and trend.slope.lo > 0
    assert [n for n, _ in trend.by_size] == sorted(n for n, _ in trend.by_size)


def test_locality_is_zero_for_random_masks_and_exact_for_contiguous_windows():
    rng = np.random.default_rng(4)
    random = [locality(rng.random((40, 200)) < 0.3) for _ in range(20)]
    assert abs(np.mean(random)) < 0.01
    window = np.zeros((40, 5), bool)
    for u in range(5):
        window[3 * u:3 * u + 8, u] = True  # 8 contiguous inputs per unit
    assert locality(window) == pytest.approx(1 - 9 / 41)
    assert math.isnan(locality(np.eye(40, dtype=bool)))  # one input per unit: no distance to measure


def test_transfer_curves_are_told_apart_from_tickets_found_there():
    rng = np.random.default_rng(5)
    records = _chain(rng, 10_000, 0.8, 0.05)
    shuffled_dense = dataclasses.replace(records[0], spec=dataclasses.replace(records[0].spec, dataset="mnist1d-shuffled"),
                                         run_id="x")
    moved = [dataclasses.replace(_pruned(shuffled_dense, r.spec.mask.split(":")[0], i // 2 + 1, r.spec.sparsity,
                                         [s.test_acc for s in r.seeds], found_on="mnist1d"), run_id=f"m{i}")
             for i, r in enumerate(records[1:])]
    curves = ticket_curves(records + [shuffled_dense] + moved)
    assert sorted((c.dataset, c.found_on, c.transferred) for c in curves) == [
        ("mnist1d", "mnist1d", False), ("mnist1d-shuffled", "mnist1d", True)]
    text = summary_text(records + [shuffled_dense] + moved, 0.01)
    assert "Tickets carried to another dataset" in text and "from mnist1d to mnist1d-shuffled" in text
