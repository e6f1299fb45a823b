"""Selective state-space model (`mamba`): Gu and Dao, "Mamba: Linear-Time Sequence Modeling
with Selective State Spaces", 2023 (arXiv:2312.00752), the paper's block.

Each block is x + Mixer(RMSNorm(x)) with no MLP (the paper stacks two Mamba blocks where a
Transformer has one attention and one MLP block). The mixer, with E = expand x D inner
channels and N states per channel:

    x, z = in_proj(x)                                  D -> 2E, no bias
    x = SiLU(causal depthwise conv(x))                 kernel d_conv = 4 per channel
    Δ, B, C = softplus(dt_proj(x W_Δ)), x W_B, x W_C  input-dependent: Δ through a rank-R bottleneck
    h_t = exp(Δ_t A) ⊙ h_{t-1} + Δ_t B_t x_t          A = -exp(A_log), E x N (zero-order hold, B Euler)
    y_t = C_t h_t + D ⊙ x_t
    out = out_proj(y ⊙ SiLU(z))                        E -> D, no bias

with the paper's initialisation: A as S4D-real (A_log = log n for n = 1..N on every channel),
D = 1, dt_proj's bias the inverse softplus of Δ drawn log-uniform in [0.001, 0.1] (floor 1e-4)
and its weight uniform in ±R^-1/2, R = ceil(D/16), out_proj scaled by 1/sqrt(depth) (its
prenorm-residual rescaling). The recurrence runs as a parallel associative scan over positions
(`layers.diagonal_scan`), the selective scan's math without its fused kernel.

Optimisation, as the paper's code: A_log and D have no weight decay (`NO_DECAY`, read by the
harness's optimiser: docs/adding-an-architecture.md); every parameter trains at the one rate.

Shape: width = D (model width), depth = blocks, hidden = E (2 x width by default, the paper's
expand = 2). Options: `states` N (16), `conv` the kernel (4). State carried between positions
per block: E x N of the SSM and E x (conv - 1) of the convolution's window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import nnx

from architectures import register
from architectures.layers import SequenceClassifier, SequenceEmbed, diagonal_scan
from architectures.spec import ArchShape, TaskSpec

NO_DECAY = {"weight_decay": False}  # the parameter group of A_log and D: no weight decay
DT_MIN, DT_MAX, DT_FLOOR = 1e-3, 1e-1, 1e-4


@dataclass(frozen=True)
class MambaConfig:
    width: int  # D, model width
    depth: int  # blocks
    inner: int  # E, channels inside the mixer
    states: int  # N, SSM states per channel
    conv: int  # kernel of the causal depthwise convolution

    @property
    def dt_rank(self) -> int:  # R, the bottleneck of Δ's projection
        return math.ceil(self.width / 16)


def _symmetric_uniform(bound: float) -> nnx.Initializer:
    return lambda key, shape, dtype=jnp.float32: jax.random.uniform(key, shape, dtype, -bound, bound)


def causal_depthwise_conv(x_BxLxE: jax.Array, kernel_KxE: jax.Array, bias_E: jax.Array) -> jax.Array:
    """y_t = sum_k kernel_k ⊙ x_{t-K+1+k} + bias, zeros before the start (shifted slices, no lax.conv)."""
    k, length = kernel_KxE.shape[0], x_BxLxE.shape[1]
    padded = jnp.pad(x_BxLxE, ((0, 0), (k - 1, 0), (0, 0)))
    return sum(padded[:, i : i + length] * kernel_KxE[i] for i in range(k)) + bias_E


def selective_scan(x_BxLxE: jax.Array, dt_BxLxE: jax.Array, a_ExN: jax.Array, b_BxLxN: jax.Array,
                   c_BxLxN: jax.Array) -> jax.Array:
    """y_t = C_t h_t with h_t = exp(Δ_t A) h_{t-1} + Δ_t B_t x_t, all positions at once: y_BxLxE."""
    da_BxLxExN = jnp.exp(dt_BxLxE[..., None] * a_ExN)
    dbx_BxLxExN = (dt_BxLxE * x_BxLxE)[..., None] * b_BxLxN[:, :, None, :]
    h_BxLxExN = diagonal_scan(da_BxLxExN, dbx_BxLxExN, axis=1)
    return jnp.einsum("blen,bln->ble", h_BxLxExN, c_BxLxN)


class MambaMixer(nnx.Module):
    """The selective SSM with its convolution and gate: x_BxLxD -> x_BxLxD."""

    def __init__(self, cfg: MambaConfig, rngs: nnx.Rngs):
        e, n, r = cfg.inner, cfg.states, cfg.dt_rank
        self.in_proj = nnx.Linear(cfg.width, 2 * e, use_bias=False, rngs=rngs)
        conv_init = _symmetric_uniform(1 / math.sqrt(cfg.conv))  # PyTorch's depthwise Conv1d default (fan-in K)
        self.conv_KxE = nnx.Param(conv_init(rngs.params(), (cfg.conv, e)))
        self.conv_bias_E = nnx.Param(conv_init(rngs.params(), (e,)))
        self.x_proj = nnx.Linear(e, r + 2 * n, use_bias=False, rngs=rngs)
        dt_E = jnp.exp(jax.random.uniform(rngs.params(), (e,)) * math.log(DT_MAX / DT_MIN) + math.log(DT_MIN))
        dt_E = jnp.maximum(dt_E, DT_FLOOR)
        self.dt_proj = nnx.Linear(r, e, kernel_init=_symmetric_uniform(r**-0.5), rngs=rngs)
        self.dt_proj.bias[...] = dt_E + jnp.log(-jnp.expm1(-dt_E))  # softplus(bias) = Δ at init
        self.a_log_ExN = nnx.Param(jnp.log(jnp.broadcast_to(jnp.arange(1, n + 1, dtype=jnp.float32), (e, n))),
                                   **NO_DECAY)
        self.d_E = nnx.Param(jnp.ones((e,)), **NO_DECAY)
        self.out_proj = nnx.Linear(e, cfg.width, use_bias=False, rngs=rngs)
        self.out_proj.kernel[...] = self.out_proj.kernel[...] / math.sqrt(cfg.depth)
        self.split = (r, r + n)

    def __call__(self, x_BxLxD: jax.Array) -> jax.Array:
        x_BxLxE, z_BxLxE = jnp.split(self.in_proj(x_BxLxD), 2, axis=-1)
        x_BxLxE = jax.nn.silu(causal_depthwise_conv(x_BxLxE, self.conv_KxE[...], self.conv_bias_E[...]))
        dt_BxLxR, b_BxLxN, c_BxLxN = jnp.split(self.x_proj(x_BxLxE), self.split, axis=-1)
        dt_BxLxE = jax.nn.softplus(self.dt_proj(dt_BxLxR))
        a_ExN = -jnp.exp(self.a_log_ExN[...])
        y_BxLxE = selective_scan(x_BxLxE, dt_BxLxE, a_ExN, b_BxLxN, c_BxLxN) + self.d_E[...] * x_BxLxE
        return self.out_proj(y_BxLxE * jax.nn.silu(z_BxLxE))


class MambaBlock(nnx.Module):
    def __init__(self, cfg: MambaConfig, rngs: nnx.Rngs):
        self.norm = nnx.RMSNorm(cfg.width, rngs=rngs)
        self.mixer = MambaMixer(cfg, rngs)

    def __call__(self, x_BxLxD: jax.Array) -> jax.Array:
        return x_BxLxD + self.mixer(self.norm(x_BxLxD))


class Mamba(SequenceClassifier):
    def __init__(self, task: TaskSpec, cfg: MambaConfig, rngs: nnx.Rngs):
        embed = SequenceEmbed(task, cfg.width, rngs)
        blocks = [MambaBlock(cfg, rngs) for _ in range(cfg.depth)]
        super().__init__(embed, blocks, cfg.width, task.num_classes, rngs, causal=task.causal)


def _depth(target_params: int) -> int:
    """Twice the Transformer's blocks: a Mamba block has about half a Transformer block's parameters."""
    return 4 if target_params < 100_000 else 8 if target_params < 1_000_000 else 12


def state_size(task: TaskSpec, shape: ArchShape, *, states: int, conv: int) -> int:
    return shape.depth * shape.hidden * (states + conv - 1)


@register(
    "mamba", depth_for=_depth, hidden_ratio=2.0, min_width=4, wildcard=False, state_size=state_size,
    options={"states": 16, "conv": 4},
    description="Mamba blocks (selective SSM, associative scan; causal conv, SiLU gate), mean-pooled head",
)
def build(task: TaskSpec, shape: ArchShape, rngs: nnx.Rngs, *, states: int, conv: int) -> nnx.Module:
    return Mamba(task, MambaConfig(shape.width, shape.depth, shape.hidden, states, conv), rngs)
