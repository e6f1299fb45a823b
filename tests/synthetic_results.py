"""RunRecords built from a known law, so fits and verdicts can be checked against the truth.

log L(arch, N, D, seed) = log(E + A·N^−α + B·D^−β) + effect[arch]·(D/D_min)^−γ + u + ε

`effect` plants an architecture effect (0 for all: none) that shrinks with the
training set when γ > 0. Seed noise as the trainer makes it: u ~ N(0, τ²) is the
init's effect, one per (arch, N, seed) and shared by every data size, ε ~ N(0, σ²)
each seed's own; `noise_scale` makes some families noisier than others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from benchmarks.running.protocol import steps_for
from benchmarks.spec import RunRecord, RunSpec, SeedResult

# The default suite's design (benchmarks/suites/quick.toml): 3 model sizes × 4 data sizes × 3 seeds, and an
# epoch budget of batch 128 (16 epochs, 100 to 1,000 steps: quick's budget when the coverage figures were made;
# only the compute axis reads it), so compute varies with the data as it does there.
QUICK = dict(sizes=(2_500, 5_000, 10_000), data_sizes=(400, 1_000, 2_000, 4_000), seeds=(0, 1, 2), epochs=16.0)
QUICK_FAMILIES = ("convnet", "gru", "mingru", "mixer", "mlp", "transformer")


@dataclass(frozen=True)
class Law:
    E: float = 1.0
    A: float = 30.0
    alpha: float = 0.4
    B: float = 20.0
    beta: float = 0.3
    effect: Mapping[str, float] = field(default_factory=lambda: {"conv": 0.0, "mlp": 0.0, "transformer": 0.0})
    gamma: float = 0.0  # how fast the architecture effect shrinks with data
    sigma: float = 0.01  # each seed's own noise, in log loss
    tau: float = 0.0  # the init's effect, shared by the data sizes of one (arch, size, seed)
    noise_scale: Mapping[str, float] = field(default_factory=dict)  # per arch: × sigma and tau (default 1)
    run_sigma: float = 0.0  # noise shared by a run's seeds (its learning rate, its data subset), in log loss

    def log_loss(self, arch: str, n: float, d: float, d_min: float) -> float:
        clean = np.log(self.E + self.A * n**-self.alpha + self.B * d**-self.beta)
        return float(clean + self.effect[arch] * (d / d_min) ** -self.gamma)


FLOPS_PER_PARAM = {"conv": 20.0, "mlp": 2.0, "transformer": 8.0}  # forward FLOPs per example per parameter


def planted_records(
    law: Law,
    *,
    dataset: str = "synthetic",
    sizes: Sequence[int] = (10_000, 30_000, 100_000),
    data_sizes: Sequence[int] = (1_000, 3_000, 10_000),
    seeds: Sequence[int] = (0, 1, 2),
    rng: int = 0,
    failed: int = 0,
    epochs: float | None = None,
) -> list[RunRecord]:
    """One ok RunRecord per (arch, size, data size), plus `failed` failed runs at the largest size.

    Steps are 1,000 for every run, or, with `epochs`, the quick suite's budget rule at each data size."""
    gen = np.random.default_rng(rng)
    records = []
    for arch in law.effect:
        scale = law.noise_scale.get(arch, 1.0)
        for n in sizes:
            params = int(round(n * (1 + 0.01 * gen.uniform(-1, 1))))
            init = {s: scale * law.tau * gen.standard_normal() for s in seeds} if law.tau else dict.fromkeys(seeds, 0.0)
            for d in data_sizes:
                budget = {} if epochs is None else {"steps": steps_for(d, 128, epochs, 100, 1000, 25),
                                                     "eval_every": 25, "budget_epochs": epochs}
                spec = RunSpec(arch=arch, dataset=dataset, target_params=n, data_size=d, seeds=tuple(seeds),
                               **({"steps": 1000} | budget), batch_size=128, suite="synthetic")
                mean = law.log_loss(arch, params, d, min(data_sizes))
                if law.run_sigma:
                    mean += law.run_sigma * gen.standard_normal()
                results = []
                for s in seeds:
                    loss = float(np.exp(mean + init[s] + scale * law.sigma * gen.standard_normal()))
                    results.append(SeedResult(seed=s, train_loss=loss * 0.9, val_loss=loss, val_acc=0.5,
                                              test_loss=loss, test_acc=0.5))
                records.append(RunRecord(
                    run_id=f"{dataset}-{arch}-{n}-{d}", spec=spec, status="ok", params=params,
                    flops_per_example=FLOPS_PER_PARAM.get(arch, 4.0) * params, seeds=results,
                ))
    for i in range(failed):
        arch = list(law.effect)[i % len(law.effect)]
        spec = RunSpec(arch=arch, dataset=dataset, target_params=max(sizes) * 3, data_size=max(data_sizes),
                       seeds=tuple(seeds), suite="synthetic")
        records.append(RunRecord(run_id=f"{dataset}-{arch}-failed-{i}", spec=spec, status="diverged",
                                 reason="loss was NaN at step 40"))
    return records


# The frontier suite's design (benchmarks/suites/frontier.toml): 5 sizes x 5 training lengths x 3 seeds online.
FRONTIER = dict(sizes=(1_000, 2_000, 4_000, 8_000, 16_000), budgets=(40, 80, 160, 320, 640), seeds=(0, 1, 2))


def planted_online_records(
    laws: Mapping[str, Law],
    flops_per_param: Mapping[str, float],
    *,
    dataset: str = "synthetic",
    sizes: Sequence[int] = FRONTIER["sizes"],
    budgets: Sequence[int] = FRONTIER["budgets"],
    seeds: Sequence[int] = FRONTIER["seeds"],
    batch_size: int = 128,
    rng: int = 0,
) -> list[RunRecord]:
    """Online runs of each family from its own law L(N, D) (D = the examples a run sees, steps × batch):
    one ok RunRecord per (family, size, budget), forward FLOPs per example = flops_per_param × N."""
    gen = np.random.default_rng(rng)
    records = []
    for arch, law in laws.items():
        for n in sizes:
            params = int(round(n * (1 + 0.01 * gen.uniform(-1, 1))))
            for steps in budgets:
                d = steps * batch_size
                spec = RunSpec(arch=arch, dataset=dataset, target_params=n, data_size=d, seeds=tuple(seeds), steps=steps,
                               batch_size=batch_size, eval_every=steps, regime="online", suite="synthetic")
                mean = float(np.log(law.E + law.A * params**-law.alpha + law.B * d**-law.beta))
                results = []
                for s in seeds:
                    loss = float(np.exp(mean + law.sigma * gen.standard_normal()))
                    results.append(SeedResult(seed=s, train_loss=loss, val_loss=loss, val_acc=0.5, test_loss=loss,
                                              test_acc=0.5))
                flops = flops_per_param[arch] * params
                records.append(RunRecord(run_id=f"{dataset}-{arch}-{n}-{steps}", spec=spec, status="ok", params=params,
                                         flops_per_example=flops, train_flops=3 * flops * d, seeds=results))
    return records


def true_frontier(law: Law, flops_per_param: float, log_c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(L*(C), N*(C)) of a law by brute force: the lowest loss over a fine grid of sizes at each compute."""
    log_n = np.linspace(np.log(10.0), np.log(1e9), 200_001)
    d = np.exp(log_c[:, None] - np.log(3 * flops_per_param) - log_n[None])
    loss = law.E + law.A * np.exp(-law.alpha * log_n)[None] + law.B * d**-law.beta
    best = np.argmin(loss, axis=1)
    return loss[np.arange(len(log_c)), best], np.exp(log_n[best])

