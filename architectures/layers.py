"""Layers shared by several families: input embeddings, the MLP block, the heads (pooled, per token).

How each input kind reaches a sequence model (transformer, mixer, recurrent),
as x_BxLxD with L positions:
  signal1d x_BxLxC   -> patches of p samples             L = L_in / p
  image    x_BxHxWxC -> p x p patches, row-major          L = HW / p^2
  tokens   ids_BxL   -> embedded; p consecutive grouped   L = L_in / p
`patch_size` picks p from the input shape and a family's position budget. A next-token task
(`TaskSpec.causal`) keeps one position per token (p = 1): there is a prediction at every one.
"""

from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
from flax import nnx

from architectures.spec import TaskSpec, Unsupported

# Sequence length (positions) a sequence model sees at most, by input kind. Short signals
# become ~10 patches (MNIST-1D: 40 -> 10 of 4), images at most 8x8 patches (8x8 -> 2x2
# patches, 32x32 -> 4x4 patches), token sequences stay one position per token.
DEFAULT_MAX_POSITIONS: dict[str, int] = {"signal1d": 16, "image": 64, "tokens": 512}


class TokenEmbed(nnx.Module):
    """Token ids_BxL -> x_BxLxD; identity-shaped pass-through for float inputs."""

    def __init__(self, task: TaskSpec, dim: int, rngs: nnx.Rngs):
        self.embed = nnx.Embed(task.vocab_size, dim, rngs=rngs) if task.input_kind == "tokens" else None

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.embed(x) if self.embed is not None else x


def flat_features(task: TaskSpec, token_dim: int) -> int:
    """Size of one flattened example after `TokenEmbed`."""
    n = math.prod(task.input_shape)
    return n * token_dim if task.input_kind == "tokens" else n


def flatten(x: jax.Array) -> jax.Array:
    return jnp.reshape(x, (x.shape[0], -1))


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def patch_size(task: TaskSpec, max_positions: int | None = None) -> int:
    """Patch side p: the smallest that leaves at most `max_positions` positions.

    Images take p >= 2 where a common divisor of H and W allows it; where none
    leaves few enough positions the largest common divisor is used.
    """
    limit = max_positions or DEFAULT_MAX_POSITIONS[task.input_kind]
    if task.input_kind == "image":
        h, w, _ = task.input_shape
        sides = _divisors(math.gcd(h, w))
        fits = [p for p in sides if (h // p) * (w // p) <= limit]
        return next((p for p in fits if p >= 2), fits[0] if fits else sides[-1])
    length = task.input_shape[0]
    return next(p for p in _divisors(length) if length // p <= limit)


def num_positions(task: TaskSpec, patch: int) -> int:
    """Positions L of `SequenceEmbed`'s output at patch side `patch`."""
    if task.input_kind == "image":
        h, w, _ = task.input_shape
        return (h // patch) * (w // patch)
    return task.input_shape[0] // patch


def patchify(x: jax.Array, patch: int) -> jax.Array:
    """x_BxLxC -> x_Bx(L/p)x(pC), or x_BxHxWxC -> x_Bx(HW/p^2)x(p*p*C) with patches in row-major order."""
    if x.ndim == 3:
        b, length, c = x.shape
        return x.reshape(b, length // patch, patch * c)
    b, h, w, c = x.shape
    x = x.reshape(b, h // patch, patch, w // patch, patch, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, (h // patch) * (w // patch), patch * patch * c)


class SequenceEmbed(nnx.Module):
    """Any input kind -> x_BxLxD (see the module docstring); `positions` is L.

    `patch` fixes p (1: every sample, pixel or token its own position) instead of the budget's; a
    next-token task takes p = 1 whatever the budget (a family that cannot read that many positions says
    so with `check_context`)."""

    def __init__(
        self, task: TaskSpec, dim: int, rngs: nnx.Rngs, max_positions: int | None = None, patch: int | None = None,
    ):
        # patch=1: one position per sample (or token); a next-token task always (a prediction per token)
        self.patch = 1 if task.causal else patch or patch_size(task, max_positions)
        length = task.input_shape[0] if task.input_kind != "image" else math.gcd(*task.input_shape[:2])
        if length % self.patch:
            raise ValueError(f"patch {self.patch} does not divide the input's {length} positions")
        self.positions = num_positions(task, self.patch)
        if task.input_kind == "tokens":
            self.embed = nnx.Embed(task.vocab_size, dim, rngs=rngs)
            self.proj = nnx.Linear(self.patch * dim, dim, rngs=rngs) if self.patch > 1 else None
        else:
            self.embed = None
            spatial_dims = 2 if task.input_kind == "image" else 1
            in_features = self.patch**spatial_dims * task.input_shape[-1]
            self.proj = nnx.Linear(in_features, dim, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        if self.embed is not None:
            x = self.embed(x)  # ids_BxL -> x_BxLxD
        if self.patch > 1 or self.embed is None:
            x = patchify(x, self.patch)
        return self.proj(x) if self.proj is not None else x


class Mlp(nnx.Module):
    """x_...xD -> Dense(hidden) -> GELU -> Dense(out)."""

    def __init__(self, dim: int, hidden: int, out: int, rngs: nnx.Rngs):
        self.fc1 = nnx.Linear(dim, hidden, rngs=rngs)
        self.fc2 = nnx.Linear(hidden, out, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.fc2(jax.nn.gelu(self.fc1(x)))


class PooledHead(nnx.Module):
    """x_Bx...xD -> LayerNorm -> mean over every axis but batch and features -> logits_BxK."""

    def __init__(self, dim: int, num_classes: int, rngs: nnx.Rngs):
        self.norm = nnx.LayerNorm(dim, rngs=rngs)
        self.head = nnx.Linear(dim, num_classes, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = self.norm(x)
        return self.head(jnp.mean(x, axis=tuple(range(1, x.ndim - 1))))


class DenseHead(nnx.Module):
    """x_BxPxD (P positions, or pixels) -> LayerNorm -> flatten -> linear -> logits_BxK.

    A weight for every position and feature, as the MNIST-1D paper's CNN and GRU end: unlike
    `PooledHead` it is not invariant to where a feature occurs, and it grows with the positions.
    """

    def __init__(self, positions: int, dim: int, num_classes: int, rngs: nnx.Rngs):
        self.norm = nnx.LayerNorm(dim, rngs=rngs)
        self.head = nnx.Linear(positions * dim, num_classes, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.head(flatten(self.norm(x)))


class TokenHead(nnx.Module):
    """x_BxLxD -> LayerNorm -> linear at every position -> logits_BxLxV: next-token prediction, each
    position's logits from its own features alone (so the head keeps whatever causality the blocks have)."""

    def __init__(self, dim: int, vocab_size: int, rngs: nnx.Rngs):
        self.norm = nnx.LayerNorm(dim, rngs=rngs)
        self.head = nnx.Linear(dim, vocab_size, rngs=rngs)

    def __call__(self, x_BxLxD: jax.Array) -> jax.Array:
        return self.head(self.norm(x_BxLxD))


def task_head(task: TaskSpec, dim: int, rngs: nnx.Rngs) -> nnx.Module:
    """The head of a sequence family: `PooledHead` for a class per example, `TokenHead` for next tokens."""
    return TokenHead(dim, task.num_classes, rngs) if task.causal else PooledHead(dim, task.num_classes, rngs)


def check_context(task: TaskSpec, family: str, limit: int, why: str) -> None:
    """`Unsupported` where a next-token task's context is longer than `limit` positions, which `family`
    cannot read (`why` says what grows with it)."""
    if task.causal and task.input_shape[0] > limit:
        raise Unsupported(f"{family} reads at most {limit} positions of context ({why}); "
                          f"{task.name} asks for {task.input_shape[0]}")


HEADS = ("pool", "dense")  # a family's `head` option: `PooledHead` or `DenseHead`


def make_head(head: str, positions: int, dim: int, num_classes: int, rngs: nnx.Rngs) -> nnx.Module:
    """The head a family's `head` option names, over `positions` positions of `dim` features."""
    return PooledHead(dim, num_classes, rngs) if head == "pool" else DenseHead(positions, dim, num_classes, rngs)


class SequenceClassifier(nnx.Module):
    """embed -> blocks in turn -> PooledHead (or, `causal`, TokenHead): the skeleton of the sequence families.

    A family builds its embedding, then its blocks (that order fixes which random
    draws initialise what) and passes them here; the head is made last. `causal=task.causal`:
    logits at every position (next-token prediction), causal where the blocks are.
    """

    def __init__(self, embed: nnx.Module, blocks: list[nnx.Module], dim: int, num_classes: int, rngs: nnx.Rngs,
                 causal: bool = False):
        self.embed = embed
        self.blocks = nnx.List(blocks)
        self.head = TokenHead(dim, num_classes, rngs) if causal else PooledHead(dim, num_classes, rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x_BxLxD = self.embed(x)
        for block in self.blocks:
            x_BxLxD = block(x_BxLxD)
        return self.head(x_BxLxD)


def diagonal_scan(a: jax.Array, b: jax.Array, axis: int = 1) -> jax.Array:
    """h_t = a_t * h_{t-1} + b_t from h_{-1} = 0, along `axis`, as a parallel `lax.associative_scan`.

    Elementwise (diagonal) linear recurrences of any shape and dtype (complex too): minGRU, the LRU
    and the selective SSM. The pairs (a, b) compose associatively, so the L steps take log L rounds;
    the scan has no loop, so XLA's cost analysis counts every step's FLOPs.
    """

    def combine(left, right):
        (a_l, b_l), (a_r, b_r) = left, right
        return a_l * a_r, a_r * b_l + b_r

    return jax.lax.associative_scan(combine, (a, b), axis=axis)[1]


def conv_patches(
    x: jax.Array, kernel: tuple[int, ...], strides: tuple[int, ...], padding: str, dilation: tuple[int, ...] | None = None,
) -> jax.Array:
    """x_Bx...xC -> patches_Bx...x(K*C): each output position's receptive field, by shifted slices (no FLOPs).

    Tap t of a kernel reads the input `t * dilation` positions on; CAUSAL pads on the left only, so
    output position i sees inputs i and before (SAME centres the window, VALID pads nothing)."""
    dilation = dilation or (1,) * len(kernel)
    span = [(k - 1) * r for k, r in zip(kernel, dilation)]  # extent of a dilated window, less one
    if padding == "SAME":
        x = jnp.pad(x, [(0, 0)] + [(e // 2, e - e // 2) for e in span] + [(0, 0)])
    elif padding == "CAUSAL":
        x = jnp.pad(x, [(0, 0)] + [(e, 0) for e in span] + [(0, 0)])
    sizes = [(x.shape[1 + d] - e - 1) // s + 1 for d, (e, s) in enumerate(zip(span, strides))]
    cols = []
    for taps in itertools.product(*(range(k) for k in kernel)):
        window = tuple(slice(t * r, t * r + (n - 1) * s + 1, s) for t, r, n, s in zip(taps, dilation, sizes, strides))
        cols.append(x[(slice(None), *window)])
    return jnp.concatenate(cols, axis=-1)


class Conv(nnx.Module):
    """Channels-last convolution computed as patches @ kernel.

    Same parameters and function as `nnx.Conv` (`kernel_dilation`, and `padding="CAUSAL"` for a
    temporal ConvNet), but when seeds are vmapped (one kernel per seed) this is a batched matmul,
    whereas a vmapped `lax.conv` becomes a grouped convolution, which XLA runs ~50x slower on CPU.
    An int `kernel_size` is a 1-D kernel.
    """

    def __init__(
        self, in_features: int, out_features: int, kernel_size: int | tuple[int, ...], rngs: nnx.Rngs,
        strides: int = 1, padding: str = "SAME", dilation: int = 1,
    ):
        if padding not in ("SAME", "VALID", "CAUSAL"):
            raise ValueError(f"padding {padding!r}: expected SAME, VALID or CAUSAL")
        self.kernel_size = (kernel_size,) if isinstance(kernel_size, int) else tuple(kernel_size)
        self.strides = (strides,) * len(self.kernel_size)
        self.dilation = (dilation,) * len(self.kernel_size)
        self.padding = padding
        fan_in = math.prod(self.kernel_size) * in_features
        self.kernel = nnx.Param(nnx.initializers.lecun_normal()(rngs.params(), (fan_in, out_features)))
        self.bias = nnx.Param(jnp.zeros((out_features,)))

    def __call__(self, x: jax.Array) -> jax.Array:
        patches = conv_patches(x, self.kernel_size, self.strides, self.padding, self.dilation)
        return patches @ self.kernel[...].astype(x.dtype) + self.bias[...].astype(x.dtype)
