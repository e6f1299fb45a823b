"""Recurrent networks: a classic GRU (`gru`, sequential `lax.scan`) and minGRU
(`mingru`, Feng et al. 2024, a gated linear recurrence trained in parallel with
`lax.associative_scan`).

Both share one residual block, x + Rnn(LN(x)), then x + Mlp(LN(x)), and a head
that mean-pools the outputs over time; only the recurrence differs. Inputs become
a sequence by `layers.SequenceEmbed`, one step per patch: MNIST-1D is 10 steps of
4 samples, 8x8 images 16 steps of 2x2 patches, 32x32 images 64 steps of 4x4
patches, token sequences one step per token.

On a next-token task (docs/language.md) both are causal as they are (each step reads the ones
before it), and the head is a LayerNorm and a linear layer at every step.

Shape: width = recurrent state size (and model width), depth = blocks,
hidden = hidden units of each block's MLP (2 x width by default).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import nnx

from architectures import register
from architectures.layers import Mlp, SequenceClassifier, SequenceEmbed, diagonal_scan
from architectures.spec import ArchShape, TaskSpec


@dataclass(frozen=True)
class RecurrentConfig:
    cell: str  # "gru" or "mingru"
    width: int  # D, state size and model width
    depth: int  # residual blocks
    mlp_hidden: int  # hidden units of each block's MLP


class Gru(nnx.Module):
    """GRU (Cho et al. 2014, PyTorch's gate convention) over time: x_BxLxC -> h_BxLxD (C = D unless given)."""

    def __init__(self, dim: int, rngs: nnx.Rngs, in_features: int | None = None):
        self.input_proj = nnx.Linear(in_features or dim, 3 * dim, rngs=rngs)  # all steps at once, outside the scan
        self.state_proj = nnx.Linear(dim, 3 * dim, rngs=rngs)

    def __call__(self, x_BxLxD: jax.Array) -> jax.Array:
        gx_LxBx3D = self.input_proj(x_BxLxD).swapaxes(0, 1)

        def step(h_BxD: jax.Array, gx_Bx3D: jax.Array) -> tuple[jax.Array, jax.Array]:
            xr, xz, xn = jnp.split(gx_Bx3D, 3, axis=-1)
            hr, hz, hn = jnp.split(self.state_proj(h_BxD), 3, axis=-1)
            r, z = jax.nn.sigmoid(xr + hr), jax.nn.sigmoid(xz + hz)
            h_BxD = (1 - z) * jnp.tanh(xn + r * hn) + z * h_BxD
            return h_BxD, h_BxD

        h0_BxD = jnp.zeros(gx_LxBx3D.shape[1:2] + (gx_LxBx3D.shape[-1] // 3,), gx_LxBx3D.dtype)
        _, h_LxBxD = jax.lax.scan(step, h0_BxD, gx_LxBx3D)
        return h_LxBxD.swapaxes(0, 1)


class MinGru(nnx.Module):
    """minGRU: h_t = (1 - z_t) h_{t-1} + z_t h~_t with z_t, h~_t from x_t alone: x_BxLxD -> h_BxLxD."""

    def __init__(self, dim: int, rngs: nnx.Rngs):
        self.proj = nnx.Linear(dim, 2 * dim, rngs=rngs)

    def __call__(self, x_BxLxD: jax.Array) -> jax.Array:
        gate_BxLxD, candidate_BxLxD = jnp.split(self.proj(x_BxLxD), 2, axis=-1)
        z_BxLxD = jax.nn.sigmoid(gate_BxLxD)
        # h_t = a_t h_{t-1} + b_t is associative in (a, b): compose the pairs with a parallel scan.
        return diagonal_scan(1 - z_BxLxD, z_BxLxD * candidate_BxLxD, axis=1)


class RecurrentBlock(nnx.Module):
    def __init__(self, cfg: RecurrentConfig, rngs: nnx.Rngs):
        self.norm1 = nnx.LayerNorm(cfg.width, rngs=rngs)
        self.rnn = {"gru": Gru, "mingru": MinGru}[cfg.cell](cfg.width, rngs)
        self.norm2 = nnx.LayerNorm(cfg.width, rngs=rngs)
        self.mlp = Mlp(cfg.width, cfg.mlp_hidden, cfg.width, rngs)

    def __call__(self, x_BxLxD: jax.Array) -> jax.Array:
        x_BxLxD = x_BxLxD + self.rnn(self.norm1(x_BxLxD))
        return x_BxLxD + self.mlp(self.norm2(x_BxLxD))


class RecurrentNet(SequenceClassifier):
    def __init__(self, task: TaskSpec, cfg: RecurrentConfig, rngs: nnx.Rngs):
        embed = SequenceEmbed(task, cfg.width, rngs)
        blocks = [RecurrentBlock(cfg, rngs) for _ in range(cfg.depth)]
        super().__init__(embed, blocks, cfg.width, task.num_classes, rngs, causal=task.causal)


def _depth(target_params: int) -> int:
    return 2 if target_params < 100_000 else 3 if target_params < 1_000_000 else 4


def state_size(task: TaskSpec, shape: ArchShape) -> int:
    """One state of `width` floats per block."""
    return shape.width * shape.depth


@register(
    "gru", depth_for=_depth, hidden_ratio=2.0, min_width=4, state_size=state_size,
    description="GRU blocks (sequential lax.scan) with residual MLPs, mean-pooled head",
)
def build_gru(task: TaskSpec, shape: ArchShape, rngs: nnx.Rngs) -> nnx.Module:
    return RecurrentNet(task, RecurrentConfig("gru", shape.width, shape.depth, shape.hidden), rngs)


@register(
    "mingru", depth_for=_depth, hidden_ratio=2.0, min_width=4, state_size=state_size,
    description="minGRU blocks (parallel associative scan) with residual MLPs, mean-pooled head",
)
def build_mingru(task: TaskSpec, shape: ArchShape, rngs: nnx.Rngs) -> nnx.Module:
    return RecurrentNet(task, RecurrentConfig("mingru", shape.width, shape.depth, shape.hidden), rngs)
