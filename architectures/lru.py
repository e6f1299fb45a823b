"""Linear Recurrent Unit (`lru`): Orvieto, Smith, Gu, Fernando, Gulcehre, Pascanu and De,
"Resurrecting Recurrent Neural Networks for Long Sequences", ICML 2023 (arXiv:2303.06349).

Each block is x + GLU(GELU(LRU(LN(x)))), the paper's layer with pre-LayerNorm (its
reference code's `prenorm`), no dropout. The LRU is a complex diagonal linear recurrence
over N states, read out to real features:

    h_t = λ ⊙ h_{t-1} + γ ⊙ (B x_t)          λ = exp(-exp(ν) + i exp(θ))   (complex, |λ| < 1)
    y_t = Re(C h_t) + D ⊙ x_t                γ = sqrt(1 - |λ|²)            (normalisation)

with the paper's initialisation: |λ| uniform on the ring [r_min, r_max] (ν = log(-½ log u),
u uniform on [r_min², r_max²]), phase θ uniform on [0, max_phase], γ from λ at init and then
trained (log γ), B and C complex Glorot (B ~ N(0, 1/2H), C ~ N(0, 1/N) per real and imaginary
part), D ~ N(0, 1). The recurrence runs as a parallel associative scan (`layers.diagonal_scan`).

Optimisation, as the paper's reference code (minimal-LRU, its `lr_factor`): the recurrence's
own parameters ν, θ, γ and B train at half the learning rate and without weight decay
(`RECURRENCE`, read by the harness's optimiser: docs/adding-an-architecture.md).

Shape: width = H (model width), depth = blocks, hidden = N (complex states per block,
H/2 by default, as the reference code's 128 for 256). Options: r_min (0), r_max (0.99),
max_phase (2π). State carried between positions: 2N floats (real and imaginary) per block.
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

# The parameter group of the recurrence (ν, θ, γ, B): half the learning rate, no weight decay.
RECURRENCE = {"lr_scale": 0.5, "weight_decay": False}


@dataclass(frozen=True)
class LruConfig:
    width: int  # H, model width
    depth: int  # blocks
    states: int  # N, complex states of each block's recurrence
    r_min: float  # smallest |λ| at init
    r_max: float  # largest |λ| at init
    max_phase: float  # largest arg(λ) at init


class Lru(nnx.Module):
    """The recurrence: x_BxLxH -> y_BxLxH through N complex states."""

    def __init__(self, cfg: LruConfig, rngs: nnx.Rngs):
        h, n = cfg.width, cfg.states
        u1, u2 = jax.random.uniform(rngs.params(), (2, n))
        nu_log = jnp.log(-0.5 * jnp.log(u1 * (cfg.r_max**2 - cfg.r_min**2) + cfg.r_min**2))
        theta_log = jnp.log(cfg.max_phase * u2)
        gamma_log = 0.5 * jnp.log(1 - jnp.exp(-2 * jnp.exp(nu_log)))  # log sqrt(1 - |λ|²)
        self.nu_log = nnx.Param(nu_log, **RECURRENCE)
        self.theta_log = nnx.Param(theta_log, **RECURRENCE)
        self.gamma_log = nnx.Param(gamma_log, **RECURRENCE)
        self.b_re_NxH = nnx.Param(jax.random.normal(rngs.params(), (n, h)) / math.sqrt(2 * h), **RECURRENCE)
        self.b_im_NxH = nnx.Param(jax.random.normal(rngs.params(), (n, h)) / math.sqrt(2 * h), **RECURRENCE)
        self.c_re_HxN = nnx.Param(jax.random.normal(rngs.params(), (h, n)) / math.sqrt(n))
        self.c_im_HxN = nnx.Param(jax.random.normal(rngs.params(), (h, n)) / math.sqrt(n))
        self.d_H = nnx.Param(jax.random.normal(rngs.params(), (h,)))

    def coefficients(self) -> tuple[jax.Array, jax.Array, jax.Array]:
        """(λ_N, γ-normalised B_NxH, C_HxN), complex64: the recurrence needs single precision."""
        f32 = lambda p: p[...].astype(jnp.float32)
        lam_N = jnp.exp(-jnp.exp(f32(self.nu_log)) + 1j * jnp.exp(f32(self.theta_log)))
        b_NxH = (f32(self.b_re_NxH) + 1j * f32(self.b_im_NxH)) * jnp.exp(f32(self.gamma_log))[:, None]
        return lam_N, b_NxH, f32(self.c_re_HxN) + 1j * f32(self.c_im_HxN)

    def __call__(self, x_BxLxH: jax.Array) -> jax.Array:
        lam_N, b_NxH, c_HxN = self.coefficients()
        bx_BxLxN = x_BxLxH.astype(jnp.float32) @ b_NxH.T
        h_BxLxN = diagonal_scan(jnp.broadcast_to(lam_N, bx_BxLxN.shape), bx_BxLxN, axis=1)
        y_BxLxH = (h_BxLxN @ c_HxN.T).real.astype(x_BxLxH.dtype)
        return y_BxLxH + self.d_H[...] * x_BxLxH


class LruBlock(nnx.Module):
    """x + GLU(GELU(LRU(LN(x)))): x_BxLxH -> x_BxLxH."""

    def __init__(self, cfg: LruConfig, rngs: nnx.Rngs):
        self.norm = nnx.LayerNorm(cfg.width, rngs=rngs)
        self.lru = Lru(cfg, rngs)
        self.out = nnx.Linear(cfg.width, cfg.width, rngs=rngs)
        self.gate = nnx.Linear(cfg.width, cfg.width, rngs=rngs)

    def __call__(self, x_BxLxH: jax.Array) -> jax.Array:
        y_BxLxH = jax.nn.gelu(self.lru(self.norm(x_BxLxH)))
        return x_BxLxH + self.out(y_BxLxH) * jax.nn.sigmoid(self.gate(y_BxLxH))


class LruNet(SequenceClassifier):
    def __init__(self, task: TaskSpec, cfg: LruConfig, rngs: nnx.Rngs):
        embed = SequenceEmbed(task, cfg.width, rngs)
        blocks = [LruBlock(cfg, rngs) for _ in range(cfg.depth)]
        super().__init__(embed, blocks, cfg.width, task.num_classes, rngs, causal=task.causal)


def _depth(target_params: int) -> int:
    return 2 if target_params < 100_000 else 3 if target_params < 1_000_000 else 4


def state_size(task: TaskSpec, shape: ArchShape, **options) -> int:
    """N complex states per block: 2N floats."""
    return 2 * shape.hidden * shape.depth


@register(
    "lru", depth_for=_depth, hidden_ratio=0.5, min_width=4, wildcard=False, state_size=state_size,
    options={"r_min": 0.0, "r_max": 0.99, "max_phase": 6.28},
    description="Linear Recurrent Unit blocks (complex diagonal, associative scan) with GLU, mean-pooled head",
)
def build(task: TaskSpec, shape: ArchShape, rngs: nnx.Rngs, *, r_min: float, r_max: float,
          max_phase: float) -> nnx.Module:
    return LruNet(task, LruConfig(shape.width, shape.depth, shape.hidden, r_min, r_max, max_phase), rngs)
