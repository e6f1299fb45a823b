"""Solve an architecture's shape for a target parameter count, and measure its FLOPs.

The family's depth rule fixes the depth; the solver then searches the coarse
knob (`width`, in the family's multiples) with `hidden` at the family's ratio,
and finally the fine knob (`hidden`) at the best widths, so the measured count
lands within the tolerance. Counts are measured on the abstract module
(`nnx.eval_shape`), never estimated by formula, so every parameter counts.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import architectures
from benchmarks.spec import ArchShape, TaskSpec, UserError

MAX_WIDTH = 1 << 14


@dataclass(frozen=True)
class SizedArch:
    arch: str
    target_params: int
    shape: ArchShape
    params: int

    @property
    def deviation(self) -> float:
        return self.params / self.target_params - 1.0


@functools.lru_cache(maxsize=4096)
def count_params(arch: str, task: TaskSpec, shape: ArchShape) -> int:
    """Measured parameter count of `arch` at `shape` (no arrays are allocated)."""
    family = architectures.get(arch)
    abstract = nnx.eval_shape(lambda: family.build(task, shape, nnx.Rngs(0)))
    leaves = jax.tree.leaves(nnx.state(abstract, nnx.Param))
    return int(sum(math.prod(leaf.shape) for leaf in leaves))


def _shape(family: architectures.Family, width: int, depth: int, hidden: int | None = None) -> ArchShape:
    return ArchShape(width=width, depth=depth, hidden=max(1, hidden if hidden is not None else round(family.hidden_ratio * width)))


@functools.lru_cache(maxsize=1024)
def solve(arch: str, task: TaskSpec, target_params: int, tolerance: float = 0.02) -> SizedArch:
    """The shape of `arch` whose measured count is closest to `target_params`, within `tolerance`."""
    family = architectures.get(arch)
    depth = max(1, int(family.depth_for(target_params)))
    m = family.width_multiple

    def count(width: int, hidden: int | None = None) -> int:
        return count_params(arch, task, _shape(family, width, depth, hidden))

    # Largest width (in multiples of m) whose default-ratio count stays at or below the target.
    lo_k, hi_k = max(1, math.ceil(family.min_width / m)), MAX_WIDTH // m
    smallest = count(lo_k * m, 1)
    if smallest > target_params * (1 + tolerance):
        raise UserError(
            f"{arch} cannot be as small as {target_params:,} parameters on {task.name} "
            f"(depth {depth}); the nearest feasible target is {smallest:,}"
        )
    if count(lo_k * m) > target_params:
        k = lo_k
    else:
        while lo_k < hi_k:
            mid = (lo_k + hi_k + 1) // 2
            if count(mid * m) <= target_params:
                lo_k = mid
            else:
                hi_k = mid - 1
        k = lo_k

    best: SizedArch | None = None
    for width in (k * m, (k + 1) * m, max(m, (k - 1) * m)):
        # Fine knob: hidden is monotone in the count; bisect for the closest.
        lo_h, hi_h = 1, max(2, 8 * round(family.hidden_ratio * width) + 8)
        while lo_h < hi_h:
            mid = (lo_h + hi_h + 1) // 2
            if count(width, mid) <= target_params:
                lo_h = mid
            else:
                hi_h = mid - 1
        for hidden in (lo_h, lo_h + 1):
            n = count(width, hidden)
            cand = SizedArch(arch, target_params, _shape(family, width, depth, hidden), n)
            if best is None or abs(cand.deviation) < abs(best.deviation):
                best = cand
    assert best is not None
    if abs(best.deviation) > tolerance:
        raise UserError(
            f"{arch} cannot match {target_params:,} parameters within {tolerance:.0%} on {task.name} "
            f"(closest: {best.params:,} at width {best.shape.width}, depth {depth}, hidden {best.shape.hidden}); "
            f"the nearest feasible target is {best.params:,}"
        )
    return best


def flops_per_example(arch: str, task: TaskSpec, shape: ArchShape, batch: int = 8) -> float:
    """Forward-pass FLOPs per example, from XLA's cost analysis of the compiled forward pass."""
    model = architectures.build(arch, task, shape, nnx.Rngs(0))
    graphdef, state = nnx.split(model)
    x = jnp.zeros((batch, *task.input_shape), dtype=task.input_dtype)

    def fwd(state, x):
        return nnx.merge(graphdef, state)(x)

    compiled = jax.jit(fwd).lower(state, x).compile()
    cost = compiled.cost_analysis()
    if isinstance(cost, list):  # older jax returns one dict per device program
        cost = cost[0]
    flops = float((cost or {}).get("flops", float("nan")))
    return flops / batch if np.isfinite(flops) else float("nan")


def parse_count(text: str) -> int:
    """'10k' -> 10_000, '1.5M' -> 1_500_000, '2500' -> 2500."""
    t = text.strip().lower().replace("_", "").replace(",", "")
    scale = {"k": 1_000, "m": 1_000_000, "b": 1_000_000_000}.get(t[-1:], 1)
    try:
        value = float(t[:-1] if scale > 1 else t) * scale
    except ValueError:
        raise ValueError(f"not a parameter count: {text!r} (e.g. 10k, 100k, 1.5M)") from None
    if value <= 0 or value != int(value):
        raise ValueError(f"not a positive whole parameter count: {text!r}")
    return int(value)
