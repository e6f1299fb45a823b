"""Linear attention (`linear_attention`): Katharopoulos, Vyas, Pappas and Fleuret, "Transformers
are RNNs: Fast Autoregressive Transformers with Linear Attention", ICML 2020 (arXiv:2006.16236).

The Transformer of `transformer.py` (pre-LN blocks, learned positions, MLPs, mean-pooled head,
the same heads and widths) with its softmax attention replaced by causal linear attention:
the similarity of a query and a key is φ(q)·φ(k) with the positive feature map
φ(x) = elu(x) + 1, so position i reads

    out_i = φ(q_i)ᵀ S_i / φ(q_i)ᵀ z_i      S_i = Σ_{j<=i} φ(k_j) v_jᵀ,  z_i = Σ_{j<=i} φ(k_j)

Causal, where `transformer` attends both ways: the causal form is the one with a recurrent
form (an RNN whose state does not grow with the length), the paper's point.
The model computes the parallel form (the causal-masked L x L matrix φ(Q)φ(K)ᵀ, cheap at the
sequence lengths here); `recurrent_form` computes the same by carrying (S, z) from one position
to the next, the paper's RNN, and a test holds the two equal. There are no recurrence
parameters: every parameter trains under the harness's one rule.

Shape: width = d_model, depth = blocks, hidden = MLP hidden units (4 x width by default).
State carried between positions per block: S and z of every head, D x (E + 1) floats
(E = head size), whatever the sequence's length.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from architectures import register
from architectures.layers import check_context
from architectures.spec import ArchShape, TaskSpec
from architectures.transformer import CONTEXT_LIMIT, SelfAttention, Transformer, TransformerConfig, _depth, num_heads_for

EPS = 1e-6  # keeps the normaliser away from 0


def feature_map(x: jax.Array) -> jax.Array:
    """φ(x) = elu(x) + 1 > 0."""
    return jax.nn.elu(x) + 1


def parallel_form(q_BxLxNxE: jax.Array, k_BxLxNxE: jax.Array, v_BxLxNxE: jax.Array) -> jax.Array:
    """Causal linear attention over every position at once: out_BxLxNxE."""
    fq, fk = feature_map(q_BxLxNxE), feature_map(k_BxLxNxE)
    length = q_BxLxNxE.shape[1]
    causal_LxL = jnp.tril(jnp.ones((length, length), dtype=bool))
    att_BxNxLxL = jnp.where(causal_LxL, jnp.einsum("bine,bjne->bnij", fq, fk), 0)
    num_BxLxNxE = jnp.einsum("bnij,bjne->bine", att_BxNxLxL, v_BxLxNxE)
    return num_BxLxNxE / (att_BxNxLxL.sum(-1).transpose(0, 2, 1)[..., None] + EPS)


def recurrent_form(q_BxLxNxE: jax.Array, k_BxLxNxE: jax.Array, v_BxLxNxE: jax.Array) -> jax.Array:
    """The same, one position at a time (`lax.scan` over (S, z)): the paper's RNN form."""
    fq, fk = feature_map(q_BxLxNxE), feature_map(k_BxLxNxE)
    b, _, n, e = q_BxLxNxE.shape

    def step(carry, inputs):
        s_BxNxExE, z_BxNxE = carry
        fq_BxNxE, fk_BxNxE, v_BxNxE = inputs
        s_BxNxExE = s_BxNxExE + fk_BxNxE[..., :, None] * v_BxNxE[..., None, :]
        z_BxNxE = z_BxNxE + fk_BxNxE
        num = jnp.einsum("bne,bnef->bnf", fq_BxNxE, s_BxNxExE)
        return (s_BxNxExE, z_BxNxE), num / (jnp.sum(fq_BxNxE * z_BxNxE, -1, keepdims=True) + EPS)

    init = (jnp.zeros((b, n, e, v_BxLxNxE.shape[-1]), fq.dtype), jnp.zeros((b, n, e), fq.dtype))
    _, out_LxBxNxE = jax.lax.scan(step, init, tuple(a.swapaxes(0, 1) for a in (fq, fk, v_BxLxNxE)))
    return out_LxBxNxE.swapaxes(0, 1)


class LinearAttention(SelfAttention):
    """Causal multi-head linear attention: x_BxLxD -> x_BxLxD (the parallel form), the Transformer's
    projections and heads with softmax attention's mixing replaced."""

    attend = staticmethod(parallel_form)


def state_size(task: TaskSpec, shape: ArchShape) -> int:
    """S (E x E) and z (E) of every head, every block: D x (E + 1) per block."""
    head = shape.width // num_heads_for(shape.width)
    return shape.depth * shape.width * (head + 1)


@register(
    "linear_attention", depth_for=_depth, hidden_ratio=4.0, width_multiple=8, min_width=8, wildcard=False,
    state_size=state_size,
    description="Transformer with causal linear attention (elu+1 feature map), mean-pooled head",
)
def build(task: TaskSpec, shape: ArchShape, rngs: nnx.Rngs) -> nnx.Module:
    check_context(task, "linear_attention", CONTEXT_LIMIT, "the Transformer's position budget for tokens")
    cfg = TransformerConfig(shape.width, shape.depth, shape.hidden, num_heads_for(shape.width))
    return Transformer(task, cfg, rngs, attention=LinearAttention)
