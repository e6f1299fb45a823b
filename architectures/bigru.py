"""Bidirectional GRU: the classic recurrent classifier (a stacked `torch.nn.GRU` with a linear
readout), as the MNIST-1D paper's GRU.

Each layer is two GRUs, one reading the sequence forwards and one backwards, their outputs
concatenated (2 x width features per step) and read by the next layer; no normalisation,
residual or MLP (the residual design is `gru`). A linear layer over every step's features
gives the logits, as the paper's model ends. Inputs are read as they come, one step per
sample: MNIST-1D is 40 steps of 1 value; images in p x p patches (`layers.patch_size`: 8x8 is
16 steps of 2x2 pixels), tokens embedded (width features), one step per token.

Shape: width = state size of each direction, depth = layers (1 below 100k parameters). There
is no hidden knob (`hidden_ratio=0`): the solver sizes width alone, so the readout over every
step makes counts coarse (on MNIST-1D one unit of width is ~900 parameters) and only some
targets are reachable within the tolerance; 5,134 is width 6, one layer: the paper's model,
to the parameter. Kept out of `architectures = ["*"]`: a suite runs it where it names it.
It cannot be causal: on a next-token task (docs/language.md) building it is `Unsupported`.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import nnx

from architectures import register
from architectures.layers import flatten, patch_size, patchify
from architectures.recurrent import Gru
from architectures.spec import ArchShape, TaskSpec, Unsupported


@dataclass(frozen=True)
class BiGruConfig:
    width: int  # D, state size of each direction
    depth: int  # layers


class BiGruLayer(nnx.Module):
    """x_BxLxC -> h_BxLx2D: a forward and a backward GRU, outputs concatenated."""

    def __init__(self, in_features: int, dim: int, rngs: nnx.Rngs):
        self.forward = Gru(dim, rngs, in_features)
        self.backward = Gru(dim, rngs, in_features)

    def __call__(self, x_BxLxC: jax.Array) -> jax.Array:
        backward_BxLxD = jnp.flip(self.backward(jnp.flip(x_BxLxC, axis=1)), axis=1)
        return jnp.concatenate([self.forward(x_BxLxC), backward_BxLxD], axis=-1)


class BiGru(nnx.Module):
    def __init__(self, task: TaskSpec, cfg: BiGruConfig, rngs: nnx.Rngs):
        self.embed = nnx.Embed(task.vocab_size, cfg.width, rngs=rngs) if task.input_kind == "tokens" else None
        self.patch = patch_size(task) if task.input_kind == "image" else 1
        if task.input_kind == "tokens":
            steps, features = task.input_shape[0], cfg.width
        elif task.input_kind == "image":
            h, w, c = task.input_shape
            steps, features = (h // self.patch) * (w // self.patch), self.patch**2 * c
        else:
            steps, features = task.input_shape
        sizes = [features] + [2 * cfg.width] * (cfg.depth - 1)
        self.layers = nnx.List([BiGruLayer(n, cfg.width, rngs) for n in sizes])
        self.readout = nnx.Linear(steps * 2 * cfg.width, task.num_classes, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        if self.embed is not None:
            x = self.embed(x)  # ids_BxL -> x_BxLxD
        elif x.ndim == 4:
            x = patchify(x, self.patch)  # x_BxHxWxC -> x_BxLx(p*p*C)
        for layer in self.layers:
            x = layer(x)
        return self.readout(flatten(x))


def _depth(target_params: int) -> int:
    return 1 if target_params < 100_000 else 2 if target_params < 1_000_000 else 3


def state_size(task: TaskSpec, shape: ArchShape) -> int:
    """A state of `width` floats in each direction, every layer."""
    return 2 * shape.width * shape.depth


@register(
    "bigru", depth_for=_depth, hidden_ratio=0.0, min_width=1, wildcard=False, state_size=state_size,
    description="bidirectional GRU layers, linear readout over every step (the MNIST-1D paper's GRU; not in \"*\")",
)
def build(task: TaskSpec, shape: ArchShape, rngs: nnx.Rngs) -> nnx.Module:
    if task.causal:
        raise Unsupported("bigru reads the sequence backwards too: it cannot predict the next token causally (use gru)")
    return BiGru(task, BiGruConfig(shape.width, shape.depth), rngs)
