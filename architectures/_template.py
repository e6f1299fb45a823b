"""Template: a residual MLP applied to every position (patch or token) alone, mean-pooled.

`archbench new-arch NAME` makes architectures/NAME.py from architectures/_template.py,
renamed. It runs as it is on every input kind: start from a working family and
change one thing at a time (docs/adding-an-architecture.md).

Contract (architectures/spec.py): `build(task, shape, rngs)` returns an
`nnx.Module` mapping a batch of inputs (x_BxLxC signals, x_BxHxWxC images,
ids_BxL tokens) to logits_BxK. The sizing solver picks `shape`: depth from
`_depth`, then `width` and `hidden` so the measured parameter count matches the
target. Keep every parameter's dimensions affine in width and hidden (d, 3*d,
d // 2 with an even width_multiple, ...) and the solver needs only a few builds.

Shape: width = model width, depth = blocks, hidden = hidden units of each block's MLP.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
from flax import nnx

from architectures import register
from architectures.layers import Mlp, SequenceClassifier, SequenceEmbed
from architectures.spec import ArchShape, TaskSpec


@dataclass(frozen=True)
class TemplateConfig:
    width: int  # D, model width
    depth: int  # residual blocks
    mlp_hidden: int  # hidden units of each block's MLP


class TemplateBlock(nnx.Module):
    """x + Mlp(LN(x)) at every position: x_BxLxD -> x_BxLxD. Mix positions here to make it yours."""

    def __init__(self, cfg: TemplateConfig, rngs: nnx.Rngs):
        self.norm = nnx.LayerNorm(cfg.width, rngs=rngs)  # no batch statistics: LayerNorm, GroupNorm or RMSNorm
        self.mlp = Mlp(cfg.width, cfg.mlp_hidden, cfg.width, rngs)

    def __call__(self, x_BxLxD: jax.Array) -> jax.Array:
        return x_BxLxD + self.mlp(self.norm(x_BxLxD))


class TemplateNet(SequenceClassifier):
    def __init__(self, task: TaskSpec, cfg: TemplateConfig, rngs: nnx.Rngs):
        embed = SequenceEmbed(task, cfg.width, rngs)  # any input kind -> x_BxLxD (patches or tokens)
        blocks = [TemplateBlock(cfg, rngs) for _ in range(cfg.depth)]
        # head: LayerNorm, mean over positions, linear (next-token tasks: LayerNorm, linear at every position)
        super().__init__(embed, blocks, cfg.width, task.num_classes, rngs, causal=task.causal)


def _depth(target_params: int) -> int:
    """Blocks at a parameter target: grow depth slowly, let the solver fit width and hidden."""
    return 2 if target_params < 100_000 else 4 if target_params < 1_000_000 else 6


@register(
    "template",
    depth_for=_depth,
    hidden_ratio=4.0,  # hidden / width before the solver fine-tunes hidden
    width_multiple=1,  # widths are multiples of this (e.g. 8 for attention heads)
    min_width=4,
    hidden_min=1,  # the smallest hidden the blocks take, and its step (2 if a block splits hidden in halves)
    hidden_step=1,
    description="residual per-position MLP over patches or tokens",
)
def build(task: TaskSpec, shape: ArchShape, rngs: nnx.Rngs) -> nnx.Module:
    return TemplateNet(task, TemplateConfig(shape.width, shape.depth, shape.hidden), rngs)
