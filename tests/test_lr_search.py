"""The learning-rate search: the full grid and successive halving, behind one interface."""

import dataclasses

import jax
import numpy as np
import pytest

from benchmarks.running import lr_search
from benchmarks.running.checkpoint import RunCheckpoint
from benchmarks.running.lr_search import LrPolicy
from benchmarks.running.runner import execute
from benchmarks.spec import RunSpec, Splits, UserError
from tests.conftest import make_view

GRID = (1e-4, 1e-3, 1e-2, 1e-1)


class FakeTrainer:
    """Each rate's validation curve is a fixed function of the rate (best near 1e-2, the large rates fast at first,
    the small ones catching up late), one tuning seed; records every call."""

    def __init__(self, n_evals: int):
        self.n_evals, self.calls = n_evals, []

    def curve(self, lr: float) -> np.ndarray:
        t = np.arange(1, self.n_evals + 1) / self.n_evals
        d = np.log10(lr) + 2  # 0 at 1e-2
        return 1 + d ** 2 * 0.1 + np.exp(-t * (3 - d)) * (1 + 0.5 * d)

    def __call__(self, rates, until=None, start=None):
        from benchmarks.running.train import TrainOutput

        self.calls.append((list(rates), until, start is not None))
        val = np.stack([self.curve(r) for r in rates])
        first = 0 if start is None else len(start.history)
        val[:, :first] = np.stack([h["val_loss"] for h in start.history], axis=1) if first else val[:, :first]
        if until is not None:
            val[:, until:] = np.nan
        m = len(rates)
        return TrainOutput(curves={"val_loss": val}, steps=list(range(10, 10 * self.n_evals + 1, 10)),
                           evals_run=np.full(m, until or self.n_evals), diverged_step=np.full(m, -1),
                           state=np.zeros(m), compile_s=0.0, train_s=1.0)


def test_halving_trains_every_trial_to_the_rung_and_only_the_kept_ones_on():
    policy = LrPolicy(trials=GRID, extend=2, search="halving", rung=0.25, keep=2)
    fake = FakeTrainer(n_evals=20)
    found = lr_search.search(policy, 20, fake)
    (grid_rates, r0, s0), (ext, r1, s1), (kept, r2, s2) = fake.calls
    assert grid_rates == list(GRID) and r0 == 5 and not s0  # a quarter of 20 evaluations
    assert len(ext) == 2 and r1 == 5 and not s1
    assert len(kept) == 2 and r2 is None and s2  # the kept trials go on from their rung
    assert sum(t.finished for t in found.trials) == 2 and found.rung_evals == 5
    at_rung = {t.lr: np.nanmin(t.val_loss_SxE[:, :5]) for t in found.trials}
    assert set(kept) == set(sorted(at_rung, key=at_rung.get)[:2])  # the two best so far at the rung
    for t in found.trials:
        ran = np.isfinite(t.val_loss_SxE[0])
        assert ran.sum() == (20 if t.finished else 5)
        assert t.score == pytest.approx(np.nanmin(t.val_loss_SxE))  # a dropped trial scores its best at the rung
    assert found.trials[found.chosen].finished


def test_the_grid_trains_every_trial_to_the_end_and_halving_matches_it_when_it_keeps_all():
    fake = FakeTrainer(n_evals=20)
    full = lr_search.search(LrPolicy(trials=GRID, extend=2, search="grid"), 20, fake)
    assert [c[1] for c in fake.calls] == [None, None] and all(t.finished for t in full.trials)
    every = lr_search.search(LrPolicy(trials=GRID, extend=2, search="halving", keep=6), 20, FakeTrainer(20))
    assert every.rung_evals is None and every.rates == full.rates and every.chosen == full.chosen


@pytest.mark.parametrize("policy, key", [
    (LrPolicy(trials=GRID, search="annealing"), "search"),
    (LrPolicy(trials=GRID, search="halving", rung=1.0), "rung"),
    (LrPolicy(trials=GRID, search="halving", keep=0), "keep"),
    (LrPolicy(trials=(1e-3, 1e-3)), "trials"),
])
def test_a_bad_policy_is_named_by_its_key_and_refused_by_the_run_spec(policy, key):
    assert key in [k for k, _ in policy.problems()]
    with pytest.raises(UserError):
        RunSpec(arch="mlp", dataset="toy", target_params=1000, data_size=64, **policy.spec_fields())


def test_the_spec_carries_the_policy_and_its_defaults_leave_old_run_ids_alone():
    policy = LrPolicy(trials=GRID, extend=2, tune_seeds=1, search="halving", rung=0.3, keep=3)
    spec = RunSpec(arch="mlp", dataset="toy", target_params=1000, data_size=64, seeds=(0, 1), **policy.spec_fields())
    assert LrPolicy.of_spec(spec) == policy
    plain = RunSpec(arch="mlp", dataset="toy", target_params=1000, data_size=64)
    ids = {s.run_id(arch_version="1", data_version="d") for s in (plain, dataclasses.replace(plain, lr_search="grid"))}
    assert len(ids) == 1  # a default is left out of the hash: records made before the search had a name keep their ids
    unsearched = {dataclasses.replace(plain, lr_search=k, lr_rung=0.5, lr_keep=1).run_id(arch_version="1", data_version="d")
                  for k in ("grid", "halving")}
    assert unsearched == ids  # without trials the search reads none of its settings: the run is the same run
    grid = dataclasses.replace(spec, lr_search="grid")
    assert grid.run_id(arch_version="1", data_version="d") == dataclasses.replace(grid, lr_keep=1).run_id(
        arch_version="1", data_version="d")  # the full search never reads keep
    assert spec.run_id(arch_version="1", data_version="d") != dataclasses.replace(spec, lr_keep=2).run_id(
        arch_version="1", data_version="d")


def _splits() -> Splits:
    v = make_view(n_train=512, n_eval=128, length=16)
    return Splits(v.task, v.x_train, v.y_train, v.x_val, v.y_val, v.x_test, v.y_test, version="toy-1")


HALVING = RunSpec(arch="mlp", dataset="toy", target_params=5_000, data_size=256, seeds=(0, 1), steps=80, batch_size=32,
                  eval_every=10, lr_trials=(1e-4, 1e-3, 1e-2, 1e-1), lr_extend=1, lr_tune_seeds=1, lr_search="halving",
                  lr_rung=0.25, lr_keep=2)


def test_a_halving_run_keeps_the_full_searchs_curves_for_its_finished_trials_and_records_where_each_stopped():
    splits = _splits()
    halving = execute(HALVING, splits=splits)
    grid = execute(dataclasses.replace(HALVING, lr_search="grid"), splits=splits)
    assert halving.lr_search["method"] == "halving" and halving.lr_search["rung_step"] == 20
    trials = {t["lr"]: t for t in halving.lr_search["trials"]}
    full = {t["lr"]: t for t in grid.lr_search["trials"]}
    assert set(trials) == set(full)  # the extension is placed at the rung as the grid places it at the end here
    finished = [lr for lr, t in trials.items() if t["finished"]]
    assert len(finished) == 2 and halving.lr in finished
    for lr, t in trials.items():
        if t["finished"]:  # the same program, state and schedule: the full search's trial, bit for bit
            assert t["val_loss"] == full[lr]["val_loss"] and t["score"] == full[lr]["score"]
        else:
            assert t["stopped_step"] == [20] and len(t["val_loss"][0]) == 2
            assert t["score"] >= full[lr]["score"]  # its best at the rung, never below its best of the whole run
    best_kept = min(finished, key=lambda lr: full[lr]["score"])
    assert halving.lr == best_kept
    if grid.lr == halving.lr:  # then every seed trained the same members
        assert [s.test_loss for s in halving.seeds] == [s.test_loss for s in grid.seeds]
    assert halving.steps_per_s > 0 and halving.lr_trials.keys() == grid.lr_trials.keys()


class Killed(Exception):
    pass


def test_a_halving_run_killed_after_its_rung_resumes_without_training_the_rung_again(tmp_path):
    splits = _splits()
    seen = []

    def kill_in_the_kept_trials(members, out):
        seen.append(len(members))
        if len(seen) == 3:  # grid to the rung, extension to the rung, then the kept trials: killed as they finish
            raise Killed

    ck = RunCheckpoint.for_run(tmp_path, "r", every_s=1e9)
    with pytest.raises(Killed):
        execute(HALVING, splits=splits, checkpoint=ck, on_phase=kill_in_the_kept_trials)
    ck.close()
    trained = []

    def count(done, total):
        trained.append(done)

    ck = RunCheckpoint.for_run(tmp_path, "r", every_s=1e9)
    resumed = execute(HALVING, splits=splits, checkpoint=ck, on_progress=count)
    clean = execute(HALVING, splits=splits)
    n, rung = HALVING.steps // HALVING.eval_every, 2
    # The two rung phases come back from their checkpoints (one report each, at the rung): nothing of them re-ran;
    # the kept trials go on from the rung.
    assert trained[:3] == [rung, n + rung, 2 * n + rung] and trained[3] == 2 * n + rung + 1
    assert resumed.lr_search == clean.lr_search and [s.test_loss for s in resumed.seeds] == [s.test_loss for s in clean.seeds]
    jax.clear_caches()
