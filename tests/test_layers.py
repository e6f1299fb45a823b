"""Shared layers: the parallel scan of the diagonal linear recurrences (`layers.diagonal_scan`)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from architectures.layers import diagonal_scan


def step_by_step(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """h_t = a_t h_{t-1} + b_t from h_{-1} = 0 along axis 1, one position at a time."""
    h, out = np.zeros_like(b[:, 0]), []
    for t in range(b.shape[1]):
        h = a[:, t] * h + b[:, t]
        out.append(h)
    return np.stack(out, axis=1)


@pytest.mark.parametrize("dtype", [np.float32, np.complex64])
@pytest.mark.parametrize("length", [1, 7])
def test_parallel_scan_equals_the_step_by_step_recurrence(dtype, length):
    rng = np.random.default_rng(length)
    draw = lambda: rng.uniform(-1, 1, (3, length, 5)) + (1j * rng.uniform(-1, 1, (3, length, 5)) if dtype == np.complex64 else 0)
    a, b = draw().astype(dtype), draw().astype(dtype)
    np.testing.assert_allclose(np.asarray(diagonal_scan(jnp.asarray(a), jnp.asarray(b))), step_by_step(a, b),
                               rtol=1e-5, atol=1e-6)


def test_the_comparison_catches_a_scan_that_composes_in_the_wrong_order():
    """A combine with the pairs swapped (b_l a_r -> a_l b_r) is still a scan; the recurrence test must see it."""
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0, 1, (2, 2, 9, 4)).astype(np.float32)

    def swapped(left, right):
        (a_l, b_l), (a_r, b_r) = left, right
        return a_l * a_r, a_l * b_r + b_l

    broken = jax.lax.associative_scan(swapped, (jnp.asarray(a), jnp.asarray(b)), axis=1)[1]
    assert not np.allclose(np.asarray(broken), step_by_step(a, b), rtol=1e-3)
