"""The Linear Recurrent Unit (`architectures/lru.py`): the scan is the recurrence, the paper's
initialisation, causality, and the parameter group of the recurrence."""

import jax
import numpy as np
from causality import assert_causal
from flax import nnx

from architectures.lru import RECURRENCE, Lru, LruConfig, LruNet
from architectures.spec import TaskSpec

CFG = LruConfig(width=6, depth=2, states=5, r_min=0.4, r_max=0.9, max_phase=1.0)


def test_the_parallel_scan_equals_the_lru_run_one_position_at_a_time():
    lru = Lru(CFG, nnx.Rngs(0))
    x_BxLxH = np.asarray(jax.random.normal(jax.random.key(1), (2, 9, CFG.width)))
    lam_N, b_NxH, c_HxN = (np.asarray(a) for a in lru.coefficients())
    h_BxN, want = np.zeros((2, CFG.states), np.complex64), []
    for t in range(x_BxLxH.shape[1]):  # h_t = λ h_{t-1} + γ B x_t;  y_t = Re(C h_t) + D x_t
        h_BxN = lam_N * h_BxN + x_BxLxH[:, t] @ b_NxH.T
        want.append((h_BxN @ c_HxN.T).real + np.asarray(lru.d_H[...]) * x_BxLxH[:, t])
    got = nnx.jit(lambda module, x: module(x))(lru, x_BxLxH)
    np.testing.assert_allclose(np.asarray(got), np.stack(want, axis=1), rtol=1e-4, atol=1e-5)


def test_initialisation_is_the_papers_ring_with_gamma_normalisation():
    lru = Lru(CFG, nnx.Rngs(0))
    lam_N = np.asarray(lru.coefficients()[0])
    assert np.all((np.abs(lam_N) >= CFG.r_min) & (np.abs(lam_N) <= CFG.r_max))
    assert np.all((np.angle(lam_N) >= 0) & (np.angle(lam_N) <= CFG.max_phase))
    np.testing.assert_allclose(np.exp(np.asarray(lru.gamma_log[...])), np.sqrt(1 - np.abs(lam_N) ** 2), rtol=1e-5)


def test_no_output_depends_on_a_later_position():
    task = TaskSpec("t", "tokens", (12,), 3, vocab_size=7)
    net = LruNet(task, CFG, nnx.Rngs(0))
    run = nnx.jit(lambda n, ids: n.blocks[1](n.blocks[0](n.embed(ids))))
    ids = np.arange(12)[None] % 7
    changed = ids.copy()
    changed[0, 8] = (ids[0, 8] + 1) % 7
    assert_causal(lambda ids: run(net, ids), ids, changed, 8)


def test_the_recurrence_trains_at_half_the_rate_without_weight_decay_and_the_rest_as_usual():
    lru = Lru(CFG, nnx.Rngs(0))
    grouped = {name for name, v in vars(lru).items() if isinstance(v, nnx.Param) and v.get_metadata().get("lr_scale")}
    assert grouped == {"nu_log", "theta_log", "gamma_log", "b_re_NxH", "b_im_NxH"}
    assert RECURRENCE == {"lr_scale": 0.5, "weight_decay": False}
    assert all("lr_scale" not in lru_param.get_metadata() for lru_param in (lru.c_re_HxN, lru.c_im_HxN, lru.d_H))
