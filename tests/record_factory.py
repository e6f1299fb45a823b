"""RunRecords as the trainer writes them, built with chosen per-seed metrics for leaderboard and compare tests."""

from __future__ import annotations

from collections.abc import Sequence

from benchmarks.spec import RESULTS_VERSION, Curves, RunRecord, RunSpec, SeedResult

SUITE = "quick"
ARCHS = ("convnet", "transformer", "mixer", "rnn", "mlp")


def make_record(
    arch: str,
    test_losses: Sequence[float],
    test_accs: Sequence[float] | None = None,
    *,
    dataset: str = "mnist1d",
    target_params: int = 10_000,
    data_size: int = 4000,
    status: str = "ok",
    reason: str = "",
    created_at: str = "2026-11-23T10:00:00+00:00",
    steps: int = 400,
    batch_size: int = 64,
    suite: str = SUITE,
    data_version: str = "1",
    env: dict[str, str] | None = None,
) -> RunRecord:
    """One run of `arch` whose seed i finished with test_losses[i] (and test_accs[i])."""
    accs = list(test_accs) if test_accs is not None else [max(0.0, 1.0 - 0.7 * loss) for loss in test_losses]
    seeds = tuple(range(len(test_losses)))
    spec = RunSpec(
        arch=arch, dataset=dataset, target_params=target_params, data_size=data_size, seeds=seeds,
        steps=steps, batch_size=batch_size, lr=3e-3, eval_every=100, suite=suite,
    )  # fmt: skip
    params = int(target_params * (1 + 0.004 * (len(arch) - 4)))  # matched within the ±2% tolerance
    results = [
        SeedResult(
            seed=s, train_loss=loss * 0.8, val_loss=loss * 1.02, val_acc=acc, test_loss=loss, test_acc=acc,
            diverged_step=120 if status == "diverged" else None,
        )  # fmt: skip
        for s, loss, acc in zip(seeds, test_losses, accs, strict=True)
    ]
    curve_steps = list(range(100, steps + 1, 100))
    return RunRecord(
        run_id=spec.run_id(arch_version="1", data_version=data_version),
        spec=spec,
        status=status,  # type: ignore[arg-type]
        reason=reason,
        shape={"width": 32, "depth": 2, "hidden": 64},
        params=params,
        flops_per_example=2.0 * params * 40,
        lr=3e-3,
        seeds=results,
        curves=Curves(
            step=curve_steps,
            train_loss=[[r.train_loss] * len(curve_steps) for r in results],
            test_loss=[[r.test_loss] * len(curve_steps) for r in results],
            test_acc=[[r.test_acc] * len(curve_steps) for r in results],
        ),
        wall_s=12.5,
        compile_s=3.1,
        steps_per_s=400 / 9.4,
        examples_per_s=64 * 400 / 9.4,
        data_version=data_version,
        env=env if env is not None else {
            "results_version": RESULTS_VERSION, "jax": "0.10.2", "flax": "0.12.8",
            "device_kind": "cpu", "device_count": "1",
        },  # fmt: skip
        created_at=created_at,
    )


# Mean test loss per arch at 10k params / 4000 examples; the others shift from it with size.
BASE_LOSS = {"convnet": 0.42, "transformer": 0.55, "mixer": 0.65, "rnn": 0.80, "mlp": 1.05}
SPREAD = (-0.012, 0.004, 0.008)  # per-seed offsets: sd 0.0106, 95% half-width ≈ 0.026


def grid_records(*, worse: dict[str, float] | None = None, suite: str = SUITE) -> list[RunRecord]:
    """A small suite: 5 archs × 2 model sizes × 2 data sizes × 3 seeds; `worse` adds to an arch's losses."""
    worse = worse or {}
    out = []
    for target_params, size_gain in ((10_000, 0.0), (40_000, -0.06)):
        for data_size, data_gain in ((1000, 0.25), (4000, 0.0)):
            for arch in ARCHS:
                mean = BASE_LOSS[arch] + size_gain + data_gain + worse.get(arch, 0.0)
                losses = [mean + d for d in SPREAD]
                out.append(make_record(arch, losses, target_params=target_params, data_size=data_size, suite=suite))
    return out
