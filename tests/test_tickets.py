import dataclasses

import jax
import numpy as np
import pytest

from benchmarks.analysis.leaderboard import build_leaderboard
from benchmarks.running import pruning, tickets
from benchmarks.running.programs import Members, Model, Sparse, TrainConfig, compiled_init, device_data, train_step
from benchmarks.running.store import ResultsStore
from benchmarks.running.tickets_plan import TicketsPlan
from benchmarks.running.train import train
from benchmarks.spec import ArchShape, RunSpec

SHAPE = ArchShape(width=16, depth=2, hidden=16)
STEPS = 40


def _one(tree, j=0):
    return jax.tree.map(lambda x: np.asarray(x[j]), tree)


def _half_mask(params, seed=0):
    rng = np.random.default_rng(seed)
    return {k: rng.random(v.shape) < 0.5 for k, v in pruning.prunable(params).items()}


def test_a_pruned_weight_stays_exactly_zero_through_training_even_under_weight_decay(toy_view):
    cfg = TrainConfig(batch_size=16, eval_every=20, warmup_frac=0.1, weight_decay=0.5)
    model = Model.create("mlp", toy_view.task, SHAPE)
    data = device_data(toy_view)
    dense = train(model, cfg, data, seeds=[0], lrs=[3e-2], n_train=[256], steps=STEPS)
    start = _one(dense.state.params)  # trained weights: none of them zero before masking
    mask = _half_mask(start)
    sparse = Sparse(mask=jax.tree.map(lambda x: x[None], pruning.full_tree(start, mask)),
                    start=jax.tree.map(lambda x: x[None], start))
    out = train(model, cfg, data, seeds=[0], lrs=[3e-2], n_train=[256], steps=STEPS, sparse=sparse)
    final = pruning.prunable(_one(out.state.params))
    for name, kept in mask.items():
        assert (final[name][~kept] == 0).all(), name  # exactly zero, not small
        assert (final[name][kept] != pruning.prunable(start)[name][kept]).any(), name  # the survivors trained
    assert np.isfinite(out.final("test_loss")).all()


def test_rewinding_restores_the_recorded_early_weights_exactly(toy_view):
    cfg = TrainConfig(batch_size=16, eval_every=20, warmup_frac=0.1, weight_decay=1e-4)
    model = Model.create("mlp", toy_view.task, SHAPE)
    data = device_data(toy_view)
    dense = train(model, cfg, data, seeds=[3], lrs=[3e-3], n_train=[256], steps=STEPS, keep_step=20)
    # the kept weights are the weights after step 20 of this run: the step-by-step loop agrees
    step = jax.jit(jax.vmap(train_step, in_axes=(None, None, 0, 0, None)), static_argnums=(0, 1))
    members, seeds = Members.of([3e-3], [256], [STEPS]), np.array([3], np.uint32)
    state = compiled_init(model, cfg, seeds)(seeds)
    for _ in range(20):
        state, _ = step(model, cfg, state, members, data)
    for a, b in zip(jax.tree.leaves(dense.kept), jax.tree.leaves(state.params)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    # a retraining from them starts from exactly those values (masked), bit for bit
    rewind = _one(dense.kept)
    mask = _half_mask(rewind)
    full = pruning.full_tree(rewind, mask)
    sparse = Sparse(mask=jax.tree.map(lambda x: x[None], full), start=jax.tree.map(lambda x: x[None], rewind))
    again = train(model, cfg, data, seeds=[3], lrs=[3e-3], n_train=[256], steps=STEPS, sparse=sparse, keep_step=0)
    for got, want, m in zip(jax.tree.leaves(_one(again.kept)), jax.tree.leaves(rewind), jax.tree.leaves(full)):
        assert np.array_equal(got, want * m)


def test_unmasked_training_is_unchanged_by_the_sparse_machinery(toy_view):
    cfg = TrainConfig(batch_size=16, eval_every=20, warmup_frac=0.1, weight_decay=1e-4)
    model = Model.create("mlp", toy_view.task, SHAPE)
    data = device_data(toy_view)
    plain = train(model, cfg, data, seeds=[1], lrs=[3e-3], n_train=[256], steps=STEPS)
    init = train(model, cfg, data, seeds=[1], lrs=[3e-3], n_train=[256], steps=STEPS, keep_step=0)
    ones = pruning.full_tree(_one(init.kept), pruning.dense_mask(_one(init.kept)))
    masked = train(model, cfg, data, seeds=[1], lrs=[3e-3], n_train=[256], steps=STEPS,
                   sparse=Sparse(jax.tree.map(lambda x: x[None], ones), init.kept))
    for a, b, c in zip(*(jax.tree.leaves(o.state.params) for o in (plain, init, masked))):
        assert np.array_equal(np.asarray(a), np.asarray(b))  # keep_step changes nothing
        np.testing.assert_allclose(np.asarray(a), np.asarray(c), rtol=1e-6, atol=1e-7)  # an all-ones mask neither


PLAN = TicketsPlan(prune_fraction=0.5, target_sparsity=0.7, rewind_step=20, transfer=("mnist1d-shuffled",))
DENSE = RunSpec(arch="mlp", dataset="mnist1d", target_params=2500, data_size=400, seeds=(0, 1), steps=STEPS,
                eval_every=20, lr=3e-3, suite="t")


@pytest.fixture(scope="module")
def chain_store(tmp_path_factory):
    store = ResultsStore(tmp_path_factory.mktemp("tickets"), "t")
    chain = tickets.Chain(DENSE, (dataclasses.replace(DENSE, dataset="mnist1d-shuffled"),))
    tickets.ChainRunner(PLAN, store).run(chain)
    return chain, store


def test_a_chain_records_tickets_controls_and_transfers_with_sparsity_and_mask(chain_store):
    chain, store = chain_store
    records = store.records()
    kinds = sorted((r.spec.dataset, r.spec.mask.split(":")[0] if r.spec.mask else "dense", round(r.spec.sparsity, 2))
                   for r in records)  # realised sparsity: each layer's count rounded
    assert kinds == sorted([("mnist1d", "dense", 0.0), ("mnist1d-shuffled", "dense", 0.0)]
                           + [(ds, k, s) for ds in ("mnist1d", "mnist1d-shuffled") for k in ("ticket", "random")
                              for s in (0.5, 0.75)])
    dense = [r for r in records if not r.spec.mask]
    assert all(r.lr == dense[0].lr for r in records if r.spec.mask and r.spec.dataset == "mnist1d")
    assert tickets.is_done(chain, PLAN, records)
    tickets.ChainRunner(PLAN, store).run(chain)  # again: the same runs, nothing appended twice
    assert len(store.records()) == len(records)
    # the leaderboard ranks the dense runs only: a pruned run never shadows its dense model
    board = build_leaderboard(store.records())
    assert sorted(e.arch for c in board.cells for e in c.entries) == ["mlp", "mlp"]


def test_the_random_control_has_the_tickets_per_layer_sparsity_at_every_round(chain_store):
    _, store = chain_store
    by_mask = {(r.spec.dataset, r.spec.mask): r for r in store.records() if r.spec.mask}
    previous = None
    for r in (1, 2):
        ticket = pruning.load_masks(tickets.mask_path(store, by_mask[("mnist1d", PLAN.mask_name("ticket", r))].run_id))
        control = pruning.load_masks(tickets.mask_path(store, by_mask[("mnist1d", PLAN.mask_name("random", r))].run_id))
        for seed in DENSE.seeds:
            assert pruning.kept_counts(control[seed]) == pruning.kept_counts(ticket[seed])
            assert pruning.sparsity(ticket[seed]) == pytest.approx(by_mask[("mnist1d", PLAN.mask_name("ticket", r))]
                                                                   .spec.sparsity, abs=1e-6)
            if previous is not None:  # a weight pruned at one round stays pruned at the next
                assert all(not (ticket[seed][k] & ~previous[seed][k]).any() for k in ticket[seed])
        previous = ticket
        moved = pruning.load_masks(tickets.mask_path(
            store, by_mask[("mnist1d-shuffled", PLAN.mask_name("ticket", r, "mnist1d"))].run_id))
        assert all(np.array_equal(moved[s][k], ticket[s][k]) for s in DENSE.seeds for k in ticket[s])


def test_new_record_fields_keep_the_reference_run_ids():
    from benchmarks.running import runner

    for suite in ("quick", "paper"):
        records = ResultsStore("results/reference", suite).records()
        assert records and all(r.spec.sparsity == 0.0 and r.spec.mask == "" for r in records)
        assert all(runner.run_id(r.spec, r.data_version) == r.run_id for r in records)
    pruned = dataclasses.replace(records[0].spec, sparsity=0.5, mask="ticket:layer:p=0.5:round=1:rewind=0")
    assert runner.run_id(pruned, records[0].data_version) != records[0].run_id


def test_chains_follow_the_plan_transfers_and_extra_datasets():
    from benchmarks.running.suite import load_suite

    suite = load_suite("tickets")
    todo = tickets.chains(suite, suite.tickets)
    mlp = [c for c in todo if c.dense.arch == "mlp"]
    assert {c.dense.dataset for c in mlp} == {"mnist1d", "mnist1d-shuffled"}  # also_on
    assert all(c.transfers == () for c in todo if c.dense.arch != "mlp")  # transfer_archs = ["mlp"]
    assert {tuple(t.dataset for t in c.transfers) for c in mlp if c.dense.dataset == "mnist1d"} == {
        ("mnist1d-fresh", "mnist1d-shuffled")}
    assert len({c.dense.arch for c in todo}) == 6 and all(c.dense.seeds == (0, 1, 2) for c in todo)
    assert tickets.sparsities(tickets.layer_sizes(todo[0].dense), suite.tickets)[-1] >= 0.95
