"""MLP-Mixer (Tolstikhin et al. 2021): token-mixing and channel-mixing MLP blocks.

Inputs become a sequence by `layers.SequenceEmbed`: signals in patches (MNIST-1D:
40 -> 10 patches of 4), images in p x p patches (8x8 -> 2x2 patches, 32x32 -> 4x4
patches), tokens grouped so that at most 64 positions remain (length 512 -> 64
groups of 8 tokens), because the token-mixing weights grow with the positions.
A block is x + TokenMlp(LN(x)^T)^T, then x + ChannelMlp(LN(x)); token-mixing
hidden units are width/2, as in the paper's configurations (so widths are even).

On a next-token task (`TaskSpec.causal`, docs/language.md) every token is its own position (at
most 512), token mixing is one lower-triangular L x L matrix and a bias (`CausalTokenMixing`:
position t mixes positions s <= t, its L(L+1)/2 weights the only ones counted), and the head is a
LayerNorm and a linear layer at every position.

Shape: width = channels, depth = blocks, hidden = channel-mixing MLP hidden units (4 x width by default).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from architectures import register
from architectures.layers import DEFAULT_MAX_POSITIONS, Mlp, SequenceClassifier, SequenceEmbed, check_context
from architectures.spec import ArchShape, TaskSpec

MAX_POSITIONS = {**DEFAULT_MAX_POSITIONS, "tokens": 64}  # token-mixing weights grow with the positions
CONTEXT_LIMIT = DEFAULT_MAX_POSITIONS["tokens"]  # next tokens: one position per token, at most this many


@dataclass(frozen=True)
class MixerConfig:
    width: int  # D, channels
    depth: int  # mixer blocks
    channel_hidden: int  # hidden units of the channel-mixing MLP
    token_hidden: int  # hidden units of the token-mixing MLP


def lower_triangle(positions: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, columns) of the entries of an L x L matrix on or below its diagonal: where position t reads s <= t."""
    return np.tril_indices(positions)


class CausalTokenMixing(nnx.Module):
    """Token mixing that reads no later position: x_BxDxL -> x_BxDxL, y_t = sum_{s<=t} W_ts x_s + b_t.

    W is lower-triangular and only its L(L+1)/2 entries are parameters (so the count holds no weight
    that could never train); row t starts at N(0, 1/(t+1)), its fan-in."""

    def __init__(self, positions: int, rngs: nnx.Rngs):
        rows, _ = lower_triangle(positions)
        scale = 1 / np.sqrt(rows + 1.0)
        self.weight = nnx.Param(jax.random.normal(rngs.params(), (len(rows),)) * jnp.asarray(scale, jnp.float32))
        self.bias = nnx.Param(jnp.zeros((positions,)))

    def __call__(self, x_BxDxL: jax.Array) -> jax.Array:
        length = x_BxDxL.shape[-1]
        rows, cols = lower_triangle(length)
        w_LxL = jnp.zeros((length, length), x_BxDxL.dtype).at[rows, cols].set(self.weight[...].astype(x_BxDxL.dtype))
        return x_BxDxL @ w_LxL.T + self.bias[...].astype(x_BxDxL.dtype)


class MixerBlock(nnx.Module):
    def __init__(self, cfg: MixerConfig, positions: int, rngs: nnx.Rngs, causal: bool = False):
        self.norm1 = nnx.LayerNorm(cfg.width, rngs=rngs)
        self.token_mlp = CausalTokenMixing(positions, rngs) if causal else Mlp(positions, cfg.token_hidden, positions, rngs)
        self.norm2 = nnx.LayerNorm(cfg.width, rngs=rngs)
        self.channel_mlp = Mlp(cfg.width, cfg.channel_hidden, cfg.width, rngs)

    def __call__(self, x_BxLxD: jax.Array) -> jax.Array:
        x_BxLxD = x_BxLxD + self.token_mlp(self.norm1(x_BxLxD).swapaxes(1, 2)).swapaxes(1, 2)
        return x_BxLxD + self.channel_mlp(self.norm2(x_BxLxD))


class Mixer(SequenceClassifier):
    def __init__(self, task: TaskSpec, cfg: MixerConfig, rngs: nnx.Rngs):
        embed = SequenceEmbed(task, cfg.width, rngs, MAX_POSITIONS[task.input_kind])
        blocks = [MixerBlock(cfg, embed.positions, rngs, task.causal) for _ in range(cfg.depth)]
        super().__init__(embed, blocks, cfg.width, task.num_classes, rngs, causal=task.causal)


def _depth(target_params: int) -> int:
    return 2 if target_params < 100_000 else 4 if target_params < 1_000_000 else 6


@register(
    "mixer", depth_for=_depth, hidden_ratio=4.0, width_multiple=2, min_width=8,
    description="MLP-Mixer: patch/token embedding, token-mixing and channel-mixing MLPs",
)
def build(task: TaskSpec, shape: ArchShape, rngs: nnx.Rngs) -> nnx.Module:
    check_context(task, "mixer", CONTEXT_LIMIT, "its causal token mixing has L(L+1)/2 weights per block")
    cfg = MixerConfig(shape.width, shape.depth, channel_hidden=shape.hidden, token_hidden=max(1, shape.width // 2))
    return Mixer(task, cfg, rngs)
