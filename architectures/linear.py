"""Linear baseline: logistic regression, one linear layer on the flattened input.

The MNIST-1D paper's first column (32% on `mnist1d` and on `mnist1d-shuffled`): what a
model with no hidden layer reaches. It has no width or depth to scale, so it is
registered with a fixed size (the solver reports its real count, whatever the target:
40 x 10 + 10 = 410 parameters on MNIST-1D) and kept out of `architectures = ["*"]`
(a suite runs it only where it names it). Token inputs are embedded first (a small
fixed dimension, as the MLP does): embedding then linear is still linear in the
one-hot tokens.

On a next-token task (`TaskSpec.causal`, docs/language.md) it is a bigram model: the logits at
position t are a row of a V x V table picked by token t (logistic regression on the one-hot
current token; V² parameters).

Shape: fixed; the solver passes width 0, depth 1, hidden 0, which the builder ignores.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
from flax import nnx

from architectures import register
from architectures.layers import TokenEmbed, flat_features, flatten
from architectures.spec import ArchShape, TaskSpec


@dataclass(frozen=True)
class LinearConfig:
    token_dim: int = 8  # embedding size per token, token tasks only


class LinearClassifier(nnx.Module):
    """x_B... -> flatten -> linear -> logits_BxK."""

    def __init__(self, task: TaskSpec, cfg: LinearConfig, rngs: nnx.Rngs):
        self.embed = TokenEmbed(task, cfg.token_dim, rngs)
        self.head = nnx.Linear(flat_features(task, cfg.token_dim), task.num_classes, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.head(flatten(self.embed(x)))


class Bigram(nnx.Module):
    """ids_BxL -> logits_BxLxV: the row of a V x V table that token t picks, at every position t."""

    def __init__(self, task: TaskSpec, rngs: nnx.Rngs):
        self.table = nnx.Embed(task.vocab_size, task.num_classes, rngs=rngs)

    def __call__(self, ids_BxL: jax.Array) -> jax.Array:
        return self.table(ids_BxL)


@register(
    "linear", depth_for=lambda target_params: 1, fixed_size=True, wildcard=False,
    description="logistic regression: one linear layer on the flattened input (fixed size; not in \"*\")",
)
def build(task: TaskSpec, shape: ArchShape, rngs: nnx.Rngs) -> nnx.Module:
    if task.causal:
        return Bigram(task, rngs)
    return LinearClassifier(task, LinearConfig(), rngs)
