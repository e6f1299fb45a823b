"""The selective SSM (`architectures/mamba.py`): the scan is the recurrence, causality (the
convolution included), the paper's initialisation and the parameter group of A and D."""

import jax
import numpy as np
from causality import assert_causal
from flax import nnx

from architectures.mamba import MambaConfig, MambaMixer, causal_depthwise_conv, selective_scan

CFG = MambaConfig(width=8, depth=2, inner=12, states=4, conv=3)


def test_the_parallel_scan_equals_the_selective_recurrence_one_position_at_a_time():
    keys = jax.random.split(jax.random.key(0), 4)
    x, dt = jax.random.normal(keys[0], (2, 7, 3)), jax.nn.softplus(jax.random.normal(keys[1], (2, 7, 3)))
    b, c = jax.random.normal(keys[2], (2, 2, 7, 4))
    a = -np.exp(np.asarray(jax.random.normal(keys[3], (3, 4))))
    x, dt, b, c = (np.asarray(v) for v in (x, dt, b, c))
    h_BxExN, want = np.zeros((2, 3, 4), np.float32), []
    for t in range(7):  # h_t = exp(Δ_t A) h_{t-1} + Δ_t B_t x_t;  y_t = C_t h_t
        h_BxExN = np.exp(dt[:, t, :, None] * a) * h_BxExN + (dt[:, t] * x[:, t])[..., None] * b[:, t, None, :]
        want.append(np.einsum("ben,bn->be", h_BxExN, c[:, t]))
    np.testing.assert_allclose(np.asarray(jax.jit(selective_scan)(x, dt, a, b, c)), np.stack(want, axis=1), rtol=1e-4, atol=1e-5)


def test_the_convolution_reads_the_current_and_the_kernel_minus_one_earlier_positions():
    x_BxLxE = np.zeros((1, 6, 2), np.float32)
    x_BxLxE[0, 2] = 1.0  # an impulse at position 2
    kernel_KxE = np.arange(1, 7, dtype=np.float32).reshape(3, 2)
    y = np.asarray(causal_depthwise_conv(x_BxLxE, kernel_KxE, np.zeros(2, np.float32)))
    np.testing.assert_array_equal(y[0, :2], 0)  # nothing before the impulse
    np.testing.assert_array_equal(y[0, 2:5], kernel_KxE[::-1])  # y_t = sum_k w_k x_{t-K+1+k}
    np.testing.assert_array_equal(y[0, 5], 0)


def test_no_output_of_the_mixer_depends_on_a_later_position():
    mixer = MambaMixer(CFG, nnx.Rngs(0))
    x = np.asarray(jax.random.normal(jax.random.key(2), (2, 10, CFG.width)))
    changed = x.copy()
    changed[:, 6] += 1.0
    run = nnx.jit(lambda module, x: module(x))
    assert_causal(lambda x: run(mixer, x), x, changed, 6)


def test_initialisation_is_the_papers_and_a_and_d_are_not_decayed():
    mixer = MambaMixer(CFG, nnx.Rngs(0))
    np.testing.assert_allclose(-np.exp(np.asarray(mixer.a_log_ExN[...])), -np.tile(np.arange(1, 5), (12, 1)), rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(mixer.d_E[...]), 1.0)  # S4D-real A, skip D = 1
    dt_E = np.asarray(jax.nn.softplus(mixer.dt_proj.bias[...]))
    assert np.all((dt_E >= 1e-3 * 0.999) & (dt_E <= 0.1 * 1.001))  # Δ log-uniform in [0.001, 0.1] at init
    assert [p.get_metadata().get("weight_decay", True) for p in (mixer.a_log_ExN, mixer.d_E, mixer.conv_KxE)] == [
        False, False, True]
    assert all("lr_scale" not in p.get_metadata() for p in (mixer.a_log_ExN, mixer.d_E))  # one rate for all
