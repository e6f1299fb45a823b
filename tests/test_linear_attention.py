"""Linear attention (`architectures/linear_attention.py`): its parallel form is its recurrent form,
it is causal, and it is the Transformer to the parameter with softmax attention replaced."""

import jax
import numpy as np
from causality import assert_causal
from flax import nnx

import architectures
from architectures.linear_attention import LinearAttention, parallel_form, recurrent_form
from architectures.spec import ArchShape
from benchmarks.running.arch_checks import TASKS


def test_the_parallel_form_equals_the_rnn_carrying_s_and_z_one_position_at_a_time():
    q, k, v = jax.random.normal(jax.random.key(0), (3, 2, 9, 2, 4))
    np.testing.assert_allclose(np.asarray(jax.jit(parallel_form)(q, k, v)), np.asarray(jax.jit(recurrent_form)(q, k, v)),
                               rtol=1e-5, atol=1e-6)


def test_no_output_depends_on_a_later_position():
    attention = LinearAttention(8, 2, nnx.Rngs(0))
    x = np.asarray(jax.random.normal(jax.random.key(1), (2, 10, 8)))
    changed = x.copy()
    changed[:, 4] += 1.0
    run = nnx.jit(lambda module, x: module(x))
    assert_causal(lambda x: run(attention, x), x, changed, 4)


def test_it_has_the_transformers_parameters_and_a_state_that_does_not_grow_with_the_length():
    count = lambda arch, task: sum(p.size for p in jax.tree.leaves(nnx.state(
        nnx.eval_shape(lambda: architectures.build(arch, task, ArchShape(16, 2, 32), nnx.Rngs(0))), nnx.Param)))
    task = TASKS["tokens"]
    assert count("linear_attention", task) == count("transformer", task)
    shape = ArchShape(16, 2, 32)  # 1 head of 16: S is 16 x 16 and z 16 per block
    assert architectures.state_size("linear_attention", task, shape) == 2 * 16 * 17
    assert architectures.state_size("transformer", task, shape) == 2 * 2 * 64 * 16  # K and V of 64 tokens
