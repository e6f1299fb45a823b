"""MLP baseline: flatten the input, a stack of dense layers, a linear head.

No inductive bias about space or order: the reference every family is compared with.
Token inputs are embedded (a small fixed dimension) before flattening.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
from flax import nnx

from architectures import register
from architectures.layers import TokenEmbed, flat_features, flatten
from architectures.spec import ArchShape, TaskSpec


@dataclass(frozen=True)
class MlpConfig:
    width: int  # units of every hidden layer but the last
    depth: int  # hidden layers (>= 2)
    last: int  # units of the last hidden layer (the sizing solver's fine knob)
    token_dim: int = 8  # embedding size per token, token tasks only


class MlpClassifier(nnx.Module):
    def __init__(self, task: TaskSpec, cfg: MlpConfig, rngs: nnx.Rngs):
        self.embed = TokenEmbed(task, cfg.token_dim, rngs)
        sizes = [flat_features(task, cfg.token_dim)] + [cfg.width] * (cfg.depth - 1) + [cfg.last]
        self.layers = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:], strict=True)])
        self.head = nnx.Linear(sizes[-1], task.num_classes, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        h = flatten(self.embed(x))
        for layer in self.layers:
            h = jax.nn.relu(layer(h))
        return self.head(h)


def _depth(target_params: int) -> int:
    return 2 if target_params < 1_000_000 else 3


@register("mlp", depth_for=_depth, hidden_ratio=1.0, min_width=1, description="MLP baseline (flattened input)")
def build(task: TaskSpec, shape: ArchShape, rngs: nnx.Rngs) -> nnx.Module:
    return MlpClassifier(task, MlpConfig(width=shape.width, depth=max(2, shape.depth), last=shape.hidden), rngs)
