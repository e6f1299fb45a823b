"""Lottery tickets: iterative magnitude pruning with rewinding, in the harness's own loop and records.

For one family, size, dataset and data size (a **chain**), every seed on its own:

1. the dense run trains as any run of the suite does (`runner.execute`, learning-rate search included), and
   keeps each seed's parameters at `rewind_step` and at the end;
2. each round prunes `prune_fraction` of the surviving prunable weights with the smallest magnitude at the
   end of the previous round's training (per layer, or globally), rewinds the survivors to their values at
   `rewind_step`, and retrains on the same protocol: the same steps, schedule, minibatch stream and the dense
   run's chosen learning rate; the pruned weights stay exactly zero (`train.Sparse`);
3. the control: the same retraining from the same rewound weights with a **random mask** of the same
   number of survivors in every layer (`pruning.random_like`), a fresh draw at every round;
4. transfer: each round's ticket mask is retrained on every `transfer` dataset, from the rewound weights of
   that dataset's own dense run (same seed), against a random mask of the same per-layer sparsity there.

Each retraining is a RunRecord in the suite's store, with `spec.sparsity` (the realised fraction of prunable
weights pruned) and `spec.mask` (what made the mask: rule, round, rewind step, source dataset), so its run id
differs from the dense run's, and every seed's mask is kept in `masks/RUN_ID.npz` beside the records.
A chain whose every record exists is skipped; an interrupted chain trains again from its dense run (the
runs are deterministic on one machine) and appends only the records that are missing.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import architectures
from benchmarks import data
from benchmarks.formatting import write_text
from benchmarks.layout import MASKS_DIR, TICKETS_PLAN_FILE
from benchmarks.running import distributed, pruning, runner
from benchmarks.running.programs import Sparse
from benchmarks.running.store import ResultsStore
from benchmarks.running.suite import Suite
from benchmarks.running.tickets_plan import TicketsPlan
from benchmarks.running.workers import _sigterm_interrupts, cores, thread_env  # the sweep's rules for workers
from benchmarks.spec import RunRecord, RunSpec, UserError


@dataclass(frozen=True)
class Chain:
    """The runs of one family, size and data size whose tickets are found on `dense.dataset`."""

    dense: RunSpec
    transfers: tuple[RunSpec, ...] = ()  # the dense runs on the datasets the tickets are carried to


def chains(suite: Suite, plan: TicketsPlan, archs: Sequence[str] | None = None) -> list[Chain]:
    """Every chain of a suite (its dense RunSpecs, and those of `also_on`), optionally of some families only."""
    also = dict(plan.also_on)
    out = []
    for base in suite.run_specs():
        family = architectures.get(base.arch).name
        if archs and base.arch not in archs and family not in archs:
            continue
        for spec in [base] + [dataclasses.replace(base, **data.spec_fields(ds)) for ds in also.get(family, ())
                              if ds not in suite.datasets]:
            carried = not plan.transfer_archs or family in plan.transfer_archs
            others = tuple(dataclasses.replace(spec, **data.spec_fields(ds)) for ds in plan.transfer
                           if ds != spec.dataset and carried)
            out.append(Chain(spec, others))
    return out


def _abstract_params(spec: RunSpec) -> nnx.State:
    task = data.task(spec.dataset)
    shape = runner.solve_size(spec.arch, task, spec.target_params, spec.param_tolerance).shape
    return nnx.state(nnx.eval_shape(lambda: architectures.build(spec.arch, task, shape, nnx.Rngs(0))), nnx.Param)


def layer_sizes(spec: RunSpec) -> dict[str, int]:
    """Prunable weights per layer of a run's model; refuses a family with none."""
    sizes = {k: int(np.prod(v.shape)) for k, v in pruning.prunable(_abstract_params(spec)).items()}
    if not sizes:
        raise UserError(f"architecture {spec.arch} has nothing prunable on {spec.dataset}: tickets prune the kernels of "
                        "linear and convolutional layers (docs/tickets.md), and it has none")
    return sizes


def check_chains(todo: Sequence[Chain], plan: TicketsPlan) -> None:
    """Everything that can be refused before training: a family with nothing prunable, transfer datasets of
    another input shape or class count."""
    for chain in todo:
        layer_sizes(chain.dense)
        task = data.task(chain.dense.dataset)
        for other in chain.transfers:
            t = data.task(other.dataset)
            if (t.input_kind, t.input_shape, t.num_classes, t.vocab_size) != (
                    task.input_kind, task.input_shape, task.num_classes, task.vocab_size):
                raise UserError(f"[tickets] transfer {other.dataset}: its inputs or classes differ from {task.name}'s, "
                                "so a mask found on one cannot be carried to the other")


def sparsities(sizes: dict[str, int], plan: TicketsPlan) -> list[float]:
    """The realised sparsity after each round (known before training: only the counts matter)."""
    kept = dict(sizes)
    total = sum(sizes.values())
    out = []
    for _ in range(plan.n_rounds):
        if plan.scope == "layer":
            kept = {k: n - round(plan.prune_fraction * n) for k, n in kept.items()}
        else:
            remaining = sum(kept.values())
            kept = {"all": remaining - round(plan.prune_fraction * remaining)}
        out.append(round(1 - sum(kept.values()) / total, 6))
    return out


def pruned_spec(dense: RunSpec, lr: float, sparsity: float, mask: str) -> RunSpec:
    """A retraining of `dense` under a mask: the same protocol at the dense run's chosen rate."""
    return dataclasses.replace(dense, lr=lr, lr_trials=(), lr_extend=0, lr_tune_seeds=0, sparsity=sparsity, mask=mask)


def _member(tree: nnx.State, j: int) -> nnx.State:
    return jax.tree.map(lambda x: x[j], tree)


def _stack(trees: Sequence[object]) -> object:
    return jax.tree.map(lambda *xs: jnp.stack([jnp.asarray(x) for x in xs]), *trees)


@dataclass
class _Trained:
    record: RunRecord
    final: dict[int, nnx.State]  # seed -> parameters at the end of training, at the record's rate
    rewind: dict[int, nnx.State]  # seed -> parameters at the rewind step (dense runs only)


class ChainRunner:
    """Trains one chain, appending each record (and its masks) to the store as it comes."""

    def __init__(self, plan: TicketsPlan, store: ResultsStore, on_record: Callable[[RunRecord], None] | None = None):
        self.plan, self.store, self.on_record = plan, store, on_record

    def _train(self, spec: RunSpec, masks: dict[int, pruning.Mask] | None = None,
               start: dict[int, nnx.State] | None = None) -> _Trained:
        by_member: dict[tuple[float, int], tuple[nnx.State, nnx.State | None]] = {}

        def on_phase(members: Sequence[tuple[float, int]], out) -> None:
            for j, key in enumerate(members):
                by_member[key] = (_member(out.state.params, j), None if out.kept is None else _member(out.kept, j))

        sparse_for = None
        if masks is not None and start is not None:
            def sparse_for(seeds: Sequence[int]) -> Sparse:
                return Sparse(mask=_stack([pruning.full_tree(start[s], masks[s]) for s in seeds]),
                              start=_stack([start[s] for s in seeds]))

        record = runner.execute(spec, sparse_for=sparse_for, keep_step=self.plan.rewind_step if masks is None else None,
                                on_phase=on_phase)
        if masks is not None:
            pruning.save_masks(mask_path(self.store, record.run_id), masks)
        if self.store.append_new(record) and self.on_record is not None:
            self.on_record(record)
        final = {s: by_member[(record.lr, s)][0] for s in spec.seeds}
        rewind = {s: by_member[(record.lr, s)][1] for s in spec.seeds}
        return _Trained(record, final, rewind)

    def run(self, chain: Chain) -> None:
        plan, a = self.plan, chain.dense
        dense = self._train(a)
        others = [self._train(b) for b in chain.transfers]
        masks = {s: pruning.dense_mask(dense.final[s]) for s in a.seeds}
        final = dense.final
        for r, sparsity in enumerate(sparsities(layer_sizes(a), plan), start=1):
            masks = {s: pruning.magnitude_prune(pruning.prunable(final[s]), masks[s], plan.prune_fraction, plan.scope)
                     for s in a.seeds}
            ticket = self._train(pruned_spec(a, dense.record.lr, sparsity, plan.mask_name("ticket", r)),
                                 masks, dense.rewind)
            final = ticket.final
            control = {s: pruning.random_like(masks[s], np.random.default_rng([s, r, 0])) for s in a.seeds}
            self._train(pruned_spec(a, dense.record.lr, sparsity, plan.mask_name("random", r)), control, dense.rewind)
            for i, (b, there) in enumerate(zip(chain.transfers, others), start=1):
                lr = there.record.lr
                self._train(pruned_spec(b, lr, sparsity, plan.mask_name("ticket", r, a.dataset)), masks, there.rewind)
                control = {s: pruning.random_like(masks[s], np.random.default_rng([s, r, i])) for s in a.seeds}
                self._train(pruned_spec(b, lr, sparsity, plan.mask_name("random", r, a.dataset)), control, there.rewind)


def mask_path(store: ResultsStore, run_id: str) -> Path:
    return store.dir / MASKS_DIR / f"{run_id}.npz"


def is_done(chain: Chain, plan: TicketsPlan, records: Sequence[RunRecord]) -> bool:
    """Whether every record of the chain is stored: its dense runs, and each round's ticket and control."""
    by_id = {r.run_id: r for r in records}
    dense = [by_id.get(runner.run_id(s)) for s in (chain.dense, *chain.transfers)]  # pruned ids need their rates
    if any(r is None for r in dense):
        return False
    sparse = sparsities(layer_sizes(chain.dense), plan)
    a_lr, wanted = dense[0].lr, []
    for r, s in enumerate(sparse, start=1):
        wanted += [pruned_spec(chain.dense, a_lr, s, plan.mask_name(k, r)) for k in ("ticket", "random")]
        wanted += [pruned_spec(b, d.lr, s, plan.mask_name(k, r, chain.dense.dataset))
                   for b, d in zip(chain.transfers, dense[1:]) for k in ("ticket", "random")]
    return all(runner.run_id(w) in by_id for w in wanted)


def _work(plan: TicketsPlan, results_dir: str, suite: str, chain: Chain, plugins: Sequence[str]) -> list[str]:
    """One chain in a worker process; the run ids it appended."""
    distributed.enable_compilation_cache()
    for plugin in plugins:
        architectures.load_plugin(plugin)
    added: list[str] = []
    ChainRunner(plan, ResultsStore(results_dir, suite), lambda r: added.append(r.run_id)).run(chain)
    return added


def run_tickets(suite: Suite, plan: TicketsPlan, results_dir: str | Path, *, archs: Sequence[str] | None = None,
                workers: int = 1, plugins: Sequence[str] = (),
                on_record: Callable[[RunRecord], None] | None = None) -> list[Chain]:
    """Train every chain of the suite that is not complete; returns the chains it trained."""
    todo = chains(suite, plan, archs)
    if not todo:
        raise UserError(f"no run of suite {suite.name} is of the architectures {', '.join(archs or [])}")
    check_chains(todo, plan)
    store = ResultsStore(results_dir, suite.name)
    store.ensure_writable()
    write_text(store.dir / TICKETS_PLAN_FILE, json.dumps(dataclasses.asdict(plan), indent=1) + "\n")
    records = store.records()
    todo = [c for c in todo if not is_done(c, plan, records)]
    if workers <= 1 or len(todo) <= 1:
        chain_runner = ChainRunner(plan, store, on_record)
        for chain in todo:
            chain_runner.run(chain)
        return todo
    saved = dict(os.environ)
    os.environ.update(thread_env(max(1, cores() // workers), saved))
    try:
        seen = {r.run_id for r in records}
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_die_with_parent) as pool:
            pending = {pool.submit(_work, plan, str(results_dir), suite.name, c, tuple(plugins)) for c in todo}
            try:
                _follow(pending, store, seen, on_record)
            except BaseException:  # Ctrl-C, SIGTERM: the chains in hand stop now (their finished runs are saved)
                for process in list(pool._processes.values()):
                    process.kill()
                raise
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return todo


def _die_with_parent() -> None:
    """A chain worker dies with the process that started it (Linux: PR_SET_PDEATHSIG)."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def _follow(pending: set, store: ResultsStore, seen: set[str], on_record: Callable[[RunRecord], None] | None) -> None:
    """Until every chain is done: the records the workers appended, as they come."""
    with _sigterm_interrupts():
        while pending:
            done, pending = wait(pending, timeout=5.0)
            for future in done:
                future.result()  # a worker's exception is raised here
            for r in store.records():  # the records the workers appended since the last look
                if r.run_id not in seen:
                    seen.add(r.run_id)
                    if on_record is not None:
                        on_record(r)
