"""Transformer: a pre-LayerNorm encoder (ViT style) with a mean-pooled linear head.

Inputs become a sequence by `layers.SequenceEmbed`: signals in patches (MNIST-1D:
40 -> 10 patches of 4), images in p x p patches (8x8 -> 2x2 patches, 32x32 -> 4x4
patches), tokens one position each (up to 512). A learned positional embedding is
added; each block is x + Attn(LN(x)), x + Mlp(LN(x)) with bidirectional multi-head
self-attention. Heads: of size 64 where the width is a multiple of 64 (from 128 on;
from 1M parameters on the sizing solver rounds widths of 256 or more to such
multiples, see `benchmarks.running.sizing`), else the largest divisor of the width that is
at most width/16 (head size >= 16), so the width is kept a multiple of 8.

On a next-token task (`TaskSpec.causal`, docs/language.md) attention is causal (position i attends to
j <= i), every token is its own position (at most 512: `CONTEXT_LIMIT`), and the head is a LayerNorm and
a linear layer at every position (`layers.TokenHead`) instead of the mean-pooled one.

Shape: width = d_model, depth = blocks, hidden = MLP hidden units (4 x width by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
from flax import nnx

from architectures import register
from architectures.layers import DEFAULT_MAX_POSITIONS, Mlp, SequenceEmbed, check_context, num_positions, patch_size, task_head
from architectures.spec import ArchShape, TaskSpec

# Positions a next-token task may ask for: the budget for token sequences (classification groups longer ones,
# which a prediction per token cannot).
CONTEXT_LIMIT = DEFAULT_MAX_POSITIONS["tokens"]


@dataclass(frozen=True)
class TransformerConfig:
    width: int  # D, model width
    depth: int  # encoder blocks
    mlp_hidden: int  # hidden units of each block's MLP
    num_heads: int  # attention heads; divides width
    max_positions: int | None = None  # position budget for SequenceEmbed (None: its default per input kind)


def num_heads_for(width: int, min_head_dim: int = 16, head_dim: int = 64) -> int:
    """Heads of `head_dim` (ViT's 64) where the width is a multiple of it and at least two heads fit;
    else the largest divisor of `width` that keeps heads at least `min_head_dim` wide (at least 1)."""
    if width % head_dim == 0 and width >= 2 * head_dim:
        return width // head_dim
    return max(h for h in range(1, max(1, width // min_head_dim) + 1) if width % h == 0)


class SelfAttention(nnx.Module):
    """Bidirectional multi-head self-attention: x_BxLxD -> x_BxLxD.

    `attend(q, k, v)` mixes the positions (softmax attention here); a subclass may replace it alone
    (`linear_attention.py`), keeping the projections, heads and parameters.
    """

    def __init__(self, dim: int, num_heads: int, rngs: nnx.Rngs):
        self.num_heads = num_heads
        self.qkv = nnx.Linear(dim, 3 * dim, rngs=rngs)
        self.out = nnx.Linear(dim, dim, rngs=rngs)

    @staticmethod
    def attend(q_BxLxNxE: jax.Array, k_BxLxNxE: jax.Array, v_BxLxNxE: jax.Array) -> jax.Array:
        return jax.nn.dot_product_attention(q_BxLxNxE, k_BxLxNxE, v_BxLxNxE)  # softmax in float32

    def __call__(self, x_BxLxD: jax.Array) -> jax.Array:
        b, length, d = x_BxLxD.shape
        qkv = self.qkv(x_BxLxD).reshape(b, length, 3, self.num_heads, d // self.num_heads)
        out_BxLxNxE = self.attend(qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2])
        return self.out(out_BxLxNxE.reshape(b, length, d))


class CausalSelfAttention(SelfAttention):
    """Causal multi-head self-attention: position i attends to positions j <= i (next-token prediction)."""

    attend = staticmethod(partial(jax.nn.dot_product_attention, is_causal=True))


class EncoderBlock(nnx.Module):
    """x + Attn(LN(x)), x + Mlp(LN(x)); `attention(dim, num_heads, rngs)` builds Attn (`SelfAttention`)."""

    def __init__(self, cfg: TransformerConfig, rngs: nnx.Rngs, attention: type[nnx.Module] = SelfAttention):
        self.norm1 = nnx.LayerNorm(cfg.width, rngs=rngs)
        self.attn = attention(cfg.width, cfg.num_heads, rngs)
        self.norm2 = nnx.LayerNorm(cfg.width, rngs=rngs)
        self.mlp = Mlp(cfg.width, cfg.mlp_hidden, cfg.width, rngs)

    def __call__(self, x_BxLxD: jax.Array) -> jax.Array:
        x_BxLxD = x_BxLxD + self.attn(self.norm1(x_BxLxD))
        return x_BxLxD + self.mlp(self.norm2(x_BxLxD))


class Transformer(nnx.Module):
    def __init__(self, task: TaskSpec, cfg: TransformerConfig, rngs: nnx.Rngs,
                 attention: type[nnx.Module] = SelfAttention):
        self.embed = SequenceEmbed(task, cfg.width, rngs, cfg.max_positions)
        self.pos_LxD = nnx.Param(0.02 * jax.random.normal(rngs.params(), (self.embed.positions, cfg.width)))
        self.blocks = nnx.List([EncoderBlock(cfg, rngs, attention) for _ in range(cfg.depth)])
        self.head = task_head(task, cfg.width, rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x_BxLxD = self.embed(x)
        x_BxLxD = x_BxLxD + self.pos_LxD[...].astype(x_BxLxD.dtype)
        for block in self.blocks:
            x_BxLxD = block(x_BxLxD)
        return self.head(x_BxLxD)


def _depth(target_params: int) -> int:
    return 2 if target_params < 100_000 else 4 if target_params < 1_000_000 else 6


def kv_cache_size(task: TaskSpec, shape: ArchShape, **options) -> int:
    """Keys and values of every position, every block, at the task's length."""
    return 2 * num_positions(task, patch_size(task)) * shape.width * shape.depth


@register(
    "transformer", depth_for=_depth, hidden_ratio=4.0, width_multiple=8, min_width=8, version="3",
    state_size=kv_cache_size,
    description="pre-LN Transformer encoder (ViT style), patch/token embedding, mean-pooled head",
)
def build(task: TaskSpec, shape: ArchShape, rngs: nnx.Rngs) -> nnx.Module:
    check_context(task, "transformer", CONTEXT_LIMIT, "its position budget for tokens")
    cfg = TransformerConfig(shape.width, shape.depth, shape.hidden, num_heads_for(shape.width))
    return Transformer(task, cfg, rngs, attention=CausalSelfAttention if task.causal else SelfAttention)
