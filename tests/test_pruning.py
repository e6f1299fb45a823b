import numpy as np
import pytest

from benchmarks.running import pruning


def _mask(*shapes):
    return {f"l{i}/kernel": np.ones(s, bool) for i, s in enumerate(shapes)}


def test_per_layer_pruning_removes_each_layers_smallest_weights():
    w = {"l0/kernel": np.arange(1, 11, dtype=float).reshape(2, 5) * np.array([1, -1, 1, -1, 1]),
         "l1/kernel": np.arange(100, 104, dtype=float)}
    m = pruning.magnitude_prune(w, _mask((2, 5), (4,)), 0.5, "layer")
    assert m["l0/kernel"].ravel().tolist() == [False] * 5 + [True] * 5  # |1..5| pruned, sign ignored
    assert m["l1/kernel"].tolist() == [False, False, True, True]


def test_global_pruning_uses_one_threshold_over_every_layer():
    w = {"l0/kernel": np.array([1.0, 2.0, 3.0, 4.0]), "l1/kernel": np.array([10.0, 20.0, 30.0, 40.0])}
    m = pruning.magnitude_prune(w, _mask((4,), (4,)), 0.5, "global")
    assert not m["l0/kernel"].any() and m["l1/kernel"].all()


def test_pruning_takes_its_fraction_of_the_survivors_only():
    rng = np.random.default_rng(0)
    w = {"l0/kernel": rng.normal(size=(20, 10))}
    m = _mask((20, 10))
    for kept in (160, 128, 102):  # 200 -> 20% of the survivors at each round
        m = pruning.magnitude_prune(w, m, 0.2, "layer")
        assert m["l0/kernel"].sum() == kept
    # a pruned weight never comes back, whatever its magnitude
    w2 = {"l0/kernel": -w["l0/kernel"] * 100}
    assert not (pruning.magnitude_prune(w2, m, 0.2, "layer")["l0/kernel"] & ~m["l0/kernel"]).any()


def test_random_control_keeps_every_layers_count():
    rng = np.random.default_rng(1)
    ticket = {"a/kernel": rng.random((40, 50)) < 0.3, "b/kernel": rng.random((50, 10)) < 0.7}
    control = pruning.random_like(ticket, np.random.default_rng(2))
    assert pruning.kept_counts(control) == pruning.kept_counts(ticket)
    assert not np.array_equal(control["a/kernel"], ticket["a/kernel"])


@pytest.mark.parametrize("fraction, target, rounds", [(0.2, 0.95, 14), (0.5, 0.75, 2), (0.2, 0.2, 1)])
def test_rounds_to_reach_a_target(fraction, target, rounds):
    assert pruning.rounds_to_reach(fraction, target) == rounds
    assert pruning.nominal_sparsity(fraction, rounds) >= target - 1e-12


def test_masks_round_trip_through_disk(tmp_path):
    masks = {0: _mask((3, 4)), 7: {"x/kernel": np.array([True, False])}}
    pruning.save_masks(tmp_path / "m.npz", masks)
    back = pruning.load_masks(tmp_path / "m.npz")
    assert back.keys() == masks.keys()
    assert all(np.array_equal(back[s][k], masks[s][k]) for s in masks for k in masks[s])
