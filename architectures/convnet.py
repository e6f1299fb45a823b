"""ConvNet: a pre-activation residual network (ResNet v2 style) with global average pooling.

Signals and token sequences use 1-D convolutions (tokens are embedded first),
images 2-D convolutions, all channels-last. A stem convolution maps the input to
`width` channels; then up to 3 stages of residual blocks, each stage at half the
resolution and twice the channels of the one before (a LayerNorm and a stride-2
convolution of kernel 2 between stages: MNIST-1D runs at lengths 40, 20, 10).
A block is x + conv(relu(LN(conv(relu(LN(x)))))) with kernel 3 and `hidden`
inner channels (doubled per stage like the width). LayerNorm over channels
keeps no batch statistics.

Shape: width = stem channels, depth = residual blocks over all stages,
hidden = inner channels of the first stage's blocks (= width by default).

Options: `head=pool` (default: LayerNorm, global average pooling, linear) or
`head=dense` (LayerNorm, a linear layer over every position and channel of the
last stage, as the MNIST-1D paper's CNN ends: `convnet?head=dense`).

On a next-token task (`TaskSpec.causal`, docs/language.md): one stage (no downsampling) of
causal convolutions (padded on the left only, so position t reads positions t and before: the
receptive field is 1 + 4 x depth tokens at kernel 3), and a LayerNorm and a linear layer at
every position (`layers.TokenHead`); `head=dense` cannot be causal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
from flax import nnx

from architectures import register
from architectures.layers import HEADS, Conv, TokenHead, make_head
from architectures.spec import ArchShape, TaskSpec, Unsupported


@dataclass(frozen=True)
class ConvNetConfig:
    width: int  # channels of the first stage (doubled at every later stage)
    depth: int  # residual blocks, spread over the stages (earlier stages take the remainder)
    hidden: int  # inner channels of a first-stage block (doubled at every later stage)
    kernel: int = 3  # kernel side of the block convolutions
    max_stages: int = 3
    head: str = "pool"  # "pool": global average pooling; "dense": a weight per position and channel


class ResidualBlock(nnx.Module):
    """Pre-activation block: x_Bx...xD -> x_Bx...xD."""

    def __init__(self, dim: int, hidden: int, kernel: tuple[int, ...], rngs: nnx.Rngs, padding: str = "SAME"):
        self.norm1 = nnx.LayerNorm(dim, rngs=rngs)
        self.conv1 = Conv(dim, hidden, kernel, rngs, padding=padding)
        self.norm2 = nnx.LayerNorm(hidden, rngs=rngs)
        self.conv2 = Conv(hidden, dim, kernel, rngs, padding=padding)

    def __call__(self, x: jax.Array) -> jax.Array:
        h = self.conv1(jax.nn.relu(self.norm1(x)))
        return x + self.conv2(jax.nn.relu(self.norm2(h)))


class Downsample(nnx.Module):
    """LayerNorm, then a stride-2 convolution of kernel 2: half the resolution, `out` channels."""

    def __init__(self, dim: int, out: int, spatial_dims: int, rngs: nnx.Rngs):
        self.norm = nnx.LayerNorm(dim, rngs=rngs)
        self.conv = Conv(dim, out, (2,) * spatial_dims, rngs, strides=2, padding="VALID")

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.conv(self.norm(x))


def stage_blocks(depth: int, max_stages: int, min_side: int) -> list[int]:
    """Blocks per stage: as many stages as depth, `max_stages` and the resolution allow."""
    stages = max(1, min(max_stages, depth, min_side.bit_length()))  # each later stage halves min_side
    return [depth // stages + (i < depth % stages) for i in range(stages)]


class ConvNet(nnx.Module):
    def __init__(self, task: TaskSpec, cfg: ConvNetConfig, rngs: nnx.Rngs):
        spatial = task.input_shape[:2] if task.input_kind == "image" else task.input_shape[:1]
        kernel = (cfg.kernel,) * len(spatial)
        if task.input_kind == "tokens":
            self.stem = nnx.Embed(task.vocab_size, cfg.width, rngs=rngs)  # ids_BxL -> x_BxLxD
        else:
            self.stem = Conv(task.input_shape[-1], cfg.width, kernel, rngs)
        # Next tokens: one stage (a downsampling would merge positions) of left-padded convolutions.
        blocks = [cfg.depth] if task.causal else stage_blocks(cfg.depth, cfg.max_stages, min(spatial))
        padding = "CAUSAL" if task.causal else "SAME"
        layers = []
        for s, n_blocks in enumerate(blocks):
            dim, hidden = cfg.width << s, cfg.hidden << s
            down = [Downsample(dim >> 1, dim, len(spatial), rngs)] if s > 0 else []
            layers += down + [ResidualBlock(dim, hidden, kernel, rngs, padding) for _ in range(n_blocks)]
        self.layers = nnx.List(layers)
        positions = math.prod(side >> (len(blocks) - 1) for side in spatial)  # each later stage halves every side
        if task.causal:
            self.head = TokenHead(cfg.width, task.num_classes, rngs)
        else:
            self.head = make_head(cfg.head, positions, cfg.width << (len(blocks) - 1), task.num_classes, rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = self.stem(x)
        for layer in self.layers:
            x = layer(x)
        return self.head(x)


def _depth(target_params: int) -> int:
    return 2 if target_params < 100_000 else 4 if target_params < 1_000_000 else 6 if target_params < 10_000_000 else 8


@register(
    # cpu_vmap: 7 members vmapped ran 1.5x the member-steps/s of one at a time on one CPU thread (5k parameters,
    # batch 128); the transformer ran 0.8x, the mixer, gru and mingru 1.0-1.16x (docs/protocol.md, Throughput).
    "convnet", depth_for=_depth, hidden_ratio=1.0, min_width=4, version="2", cpu_vmap=True,
    description="pre-activation residual ConvNet (1-D for sequences, 2-D for images), global pooling",
    options={"head": HEADS},
)
def build(task: TaskSpec, shape: ArchShape, rngs: nnx.Rngs, *, head: str) -> nnx.Module:
    if task.causal and head == "dense":
        raise Unsupported("convnet?head=dense reads every position at once: it cannot predict the next token causally")
    return ConvNet(task, ConvNetConfig(shape.width, shape.depth, shape.hidden, head=head), rngs)
