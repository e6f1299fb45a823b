"""MLP baseline: flatten the input, a stack of dense layers, a linear head.

No inductive bias about space or order: the reference every family is compared with.
Token inputs are embedded (a small fixed dimension) before flattening.

On a next-token task (`TaskSpec.causal`, docs/language.md) it is a fixed-window neural n-gram
model (Bengio, Ducharme, Vincent and Jauvin 2003): at every position t the embeddings of tokens
t-n+1..t (zeros before the start) are concatenated and go through the same dense layers to logits
over the vocabulary; the window n is the option `window` (8: `mlp?window=16`), the embedding
`NGRAM_TOKEN_DIM` (16) per token. It reads nothing further back than its window, by design.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
from flax import nnx

from architectures import register
from architectures.layers import TokenEmbed, conv_patches, flat_features, flatten
from architectures.spec import ArchShape, TaskSpec

NGRAM_TOKEN_DIM = 16  # embedding size per token of the n-gram model (Bengio et al. used 30 to 100 for 17k words)


@dataclass(frozen=True)
class MlpConfig:
    width: int  # units of every hidden layer but the last
    depth: int  # hidden layers (>= 2)
    last: int  # units of the last hidden layer (the sizing solver's fine knob)
    token_dim: int = 8  # embedding size per token, token tasks only
    window: int = 0  # next-token tasks: tokens each prediction reads (the n-gram's n); 0: the whole input, flattened


class MlpClassifier(nnx.Module):
    def __init__(self, task: TaskSpec, cfg: MlpConfig, rngs: nnx.Rngs):
        self.embed = TokenEmbed(task, cfg.token_dim, rngs)
        self.window = cfg.window
        inputs = cfg.window * cfg.token_dim if cfg.window else flat_features(task, cfg.token_dim)
        sizes = [inputs] + [cfg.width] * (cfg.depth - 1) + [cfg.last]
        self.layers = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:], strict=True)])
        self.head = nnx.Linear(sizes[-1], task.num_classes, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        if self.window:  # ids_BxL -> the window ending at each position, x_BxLx(nE)
            h = conv_patches(self.embed(x), (self.window,), (1,), "CAUSAL")
        else:
            h = flatten(self.embed(x))
        for layer in self.layers:
            h = jax.nn.relu(layer(h))
        return self.head(h)


def _depth(target_params: int) -> int:
    return 2 if target_params < 1_000_000 else 3


@register("mlp", depth_for=_depth, hidden_ratio=1.0, min_width=1, options={"window": 8},
          description="MLP baseline (flattened input; next tokens: a fixed-window neural n-gram)")
def build(task: TaskSpec, shape: ArchShape, rngs: nnx.Rngs, *, window: int) -> nnx.Module:
    if task.causal:
        cfg = MlpConfig(shape.width, max(2, shape.depth), shape.hidden, token_dim=NGRAM_TOKEN_DIM, window=window)
    else:
        cfg = MlpConfig(width=shape.width, depth=max(2, shape.depth), last=shape.hidden)
    return MlpClassifier(task, cfg, rngs)
