"""Layers shared by several families (input embedding, MLP block)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from architectures.spec import TaskSpec


class TokenEmbed(nnx.Module):
    """Token ids_BxL -> x_BxLxD; identity-shaped pass-through for float inputs."""

    def __init__(self, task: TaskSpec, dim: int, rngs: nnx.Rngs):
        self.embed = nnx.Embed(task.vocab_size, dim, rngs=rngs) if task.input_kind == "tokens" else None

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.embed(x) if self.embed is not None else x


def flat_features(task: TaskSpec, token_dim: int) -> int:
    """Size of one flattened example after `TokenEmbed`."""
    n = 1
    for d in task.input_shape:
        n *= d
    return n * token_dim if task.input_kind == "tokens" else n


class Mlp(nnx.Module):
    """x_...xD -> Dense(hidden) -> GELU -> Dense(out)."""

    def __init__(self, dim: int, hidden: int, out: int, rngs: nnx.Rngs):
        self.fc1 = nnx.Linear(dim, hidden, rngs=rngs)
        self.fc2 = nnx.Linear(hidden, out, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.fc2(jax.nn.gelu(self.fc1(x)))


def flatten(x: jax.Array) -> jax.Array:
    return jnp.reshape(x, (x.shape[0], -1))
