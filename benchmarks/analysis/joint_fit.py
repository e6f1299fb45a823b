"""The joint law L(N, D) = E + A·N^−α + B·D^−β over parameters and data, fitted to every run of one family."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from benchmarks.analysis.curve_fit import (
    N_BOOT,
    bootstrap_curve,
    fit_curve_point,
    log_model,
    seed_arrays,
)
from benchmarks.analysis.stats import (
    Estimate,
    SeedNoise,
    pooled_seed_noise,
)


@dataclass(frozen=True)
class JointFit:
    """L(N, D) = E + A/N^α + B/D^β over a grid of model and data sizes."""

    status: str
    reason: str
    n: np.ndarray  # (P,) parameters
    d: np.ndarray  # (P,) training examples
    loss: np.ndarray  # (P,)
    log_ref: np.ndarray = field(default_factory=lambda: np.zeros(2))  # log N_ref, log D_ref
    theta: np.ndarray | None = None  # (E, log A, α, log B, β), A and B at the reference sizes
    boot: np.ndarray | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def _params(self, th: np.ndarray) -> tuple[np.ndarray, ...]:
        return (th[..., 0], np.exp(th[..., 1] + th[..., 2] * self.log_ref[0]), th[..., 2],
                np.exp(th[..., 3] + th[..., 4] * self.log_ref[1]), th[..., 4])

    @property
    def estimates(self) -> dict[str, Estimate]:
        if not self.ok or self.boot is None:
            return {}
        point, boot = self._params(self.theta), self._params(self.boot)
        return {name: Estimate.bootstrap(p, b) for name, p, b in zip(("E", "A", "alpha", "B", "beta"), point, boot,
                                                              strict=True)}

    def predict(self, n: np.ndarray, d: np.ndarray) -> np.ndarray:
        u = np.stack([np.log(n) - self.log_ref[0], np.log(d) - self.log_ref[1]], axis=-1)
        return np.exp(log_model(self.theta[None], u[None])[0][0])

    def to_dict(self) -> dict:
        d = {"status": self.status, "reason": self.reason, "n_points": int(self.n.size),
             "points": {"params": self.n.tolist(), "data_size": self.d.tolist(), "loss": self.loss.tolist()}}
        return d | {name: e.to_dict() for name, e in self.estimates.items()}


def fit_joint(n: Sequence[float], d: Sequence[float], y: Sequence[Sequence[float] | float], *,
              n_boot: int = N_BOOT, rng: np.random.Generator | int | None = 0,
              noise: SeedNoise | None = None) -> JointFit:
    """Fit L(N, D) = E + A/N^α + B/D^β; needs the law's threshold of points on both axes."""
    rng = np.random.default_rng(rng)
    n, d = np.asarray(n, dtype=float), np.asarray(d, dtype=float)
    seeds = seed_arrays(y)
    noise = noise if noise is not None else pooled_seed_noise(seeds)
    names = ["parameters", "training examples"]
    point = fit_curve_point(np.log(np.stack([n, d], axis=1)), seeds, names=names)
    fitted = bootstrap_curve(point, noise, n_boot=n_boot, rng=rng, names=names)
    return JointFit(fitted.status, fitted.reason, n, d, np.exp([s.mean() for s in seeds]),
                    fitted.log_ref_K, fitted.law, fitted.law_boot)
