"""MLP-Mixer (Tolstikhin et al. 2021): token-mixing and channel-mixing MLP blocks.

Inputs become a sequence by `layers.SequenceEmbed`: signals in patches (MNIST-1D:
40 -> 10 patches of 4), images in p x p patches (8x8 -> 2x2 patches, 32x32 -> 4x4
patches), tokens grouped so that at most 64 positions remain (length 512 -> 64
groups of 8 tokens), because the token-mixing weights grow with the positions.
A block is x + TokenMlp(LN(x)^T)^T, then x + ChannelMlp(LN(x)); token-mixing
hidden units are width/2, as in the paper's configurations (so widths are even).

Shape: width = channels, depth = blocks, hidden = channel-mixing MLP hidden units (4 x width by default).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
from flax import nnx

from architectures import register
from architectures.layers import DEFAULT_MAX_POSITIONS, Mlp, SequenceClassifier, SequenceEmbed
from architectures.spec import ArchShape, TaskSpec

MAX_POSITIONS = {**DEFAULT_MAX_POSITIONS, "tokens": 64}  # token-mixing weights grow with the positions


@dataclass(frozen=True)
class MixerConfig:
    width: int  # D, channels
    depth: int  # mixer blocks
    channel_hidden: int  # hidden units of the channel-mixing MLP
    token_hidden: int  # hidden units of the token-mixing MLP


class MixerBlock(nnx.Module):
    def __init__(self, cfg: MixerConfig, positions: int, rngs: nnx.Rngs):
        self.norm1 = nnx.LayerNorm(cfg.width, rngs=rngs)
        self.token_mlp = Mlp(positions, cfg.token_hidden, positions, rngs)
        self.norm2 = nnx.LayerNorm(cfg.width, rngs=rngs)
        self.channel_mlp = Mlp(cfg.width, cfg.channel_hidden, cfg.width, rngs)

    def __call__(self, x_BxLxD: jax.Array) -> jax.Array:
        x_BxLxD = x_BxLxD + self.token_mlp(self.norm1(x_BxLxD).swapaxes(1, 2)).swapaxes(1, 2)
        return x_BxLxD + self.channel_mlp(self.norm2(x_BxLxD))


class Mixer(SequenceClassifier):
    def __init__(self, task: TaskSpec, cfg: MixerConfig, rngs: nnx.Rngs):
        embed = SequenceEmbed(task, cfg.width, rngs, MAX_POSITIONS[task.input_kind])
        blocks = [MixerBlock(cfg, embed.positions, rngs) for _ in range(cfg.depth)]
        super().__init__(embed, blocks, cfg.width, task.num_classes, rngs)


def _depth(target_params: int) -> int:
    return 2 if target_params < 100_000 else 4 if target_params < 1_000_000 else 6


@register(
    "mixer", depth_for=_depth, hidden_ratio=4.0, width_multiple=2, min_width=8,
    description="MLP-Mixer: patch/token embedding, token-mixing and channel-mixing MLPs",
)
def build(task: TaskSpec, shape: ArchShape, rngs: nnx.Rngs) -> nnx.Module:
    cfg = MixerConfig(shape.width, shape.depth, channel_hidden=shape.hidden, token_hidden=max(1, shape.width // 2))
    return Mixer(task, cfg, rngs)
