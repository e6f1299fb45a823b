"""Every registered family passes the architecture checks (`benchmarks/running/arch_checks.py`)
on every input kind: builds, maps inputs to logits in float32 and bfloat16, has finite
gradients on every parameter, matches parameter targets, and learns a tiny task.

Parametrised over `architectures.names()`, so a family added as one file in
architectures/ is tested with no edit here; a family outside the repo runs the same
checks with `archbench check-arch --plugin FILE`.
"""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import architectures
from architectures.layers import patch_size
from benchmarks.running import arch_checks, sizing
from benchmarks.spec import TaskSpec

ARCHS = architectures.names()


@pytest.mark.parametrize("case", arch_checks.CASES, ids=str)
@pytest.mark.parametrize("arch", ARCHS)
def test_family_passes_every_architecture_check(arch, case):
    case.run(arch, case.kind)


def test_unreachable_target_names_the_nearest_feasible_one():
    with pytest.raises(sizing.UserError, match=r"nearest feasible target is [\d,]+"):
        sizing.solve("transformer", arch_checks.TASKS["tokens"], 100)


@pytest.mark.parametrize(
    ("shape", "kind", "patch"),
    [((40, 1), "signal1d", 4), ((8, 8, 1), "image", 2), ((32, 32, 3), "image", 4), ((28, 28, 1), "image", 4),
     ((512,), "tokens", 1)],
)
def test_sequence_models_see_short_sequences_of_patches(shape, kind, patch):
    task = TaskSpec("t", kind, shape, 10, vocab_size=16 if kind == "tokens" else 0)
    assert patch_size(task) == patch


# Options (`convnet?head=dense`): at their defaults every family is what it was before it had options.
# Parameter counts and the first logits of one example, measured on the commit before options existed
# (shape width 8, depth 2, hidden 12; nnx.Rngs(0); x from jax.random.key(0)).
BEFORE_OPTIONS = {
    "convnet": (3582, [0.6879013776779175, -0.9777805209159851, -0.14127010107040405]),
    "gru": (1498, [-0.05624137073755264, -0.16269533336162567, -0.3097798526287079]),
    "mingru": (922, [-0.06113892048597336, 0.6409637928009033, 0.24953655898571014]),
    "mixer": (822, [0.47018784284591675, -0.19862733781337738, -0.1578836590051651]),
    "mlp": (566, [0.33259889483451843, 0.07389231771230698, -0.2490594983100891]),
    "transformer": (1290, [0.35462144017219543, -0.20017307996749878, 0.39565494656562805]),
}


def _spelled_out(arch: str) -> str:
    """`convnet` with every option written at its default: `convnet?head=pool`."""
    options = architectures.get(arch).options
    return arch + ("?" + "&".join(f"{k}={v}" for k, v in options.items()) if options else "")


@pytest.mark.parametrize("arch", BEFORE_OPTIONS)
def test_default_options_leave_parameters_outputs_and_run_ids_unchanged(arch):
    from benchmarks.spec import RunSpec

    task, shape = arch_checks.TASKS["signal1d"], architectures.ArchShape(8, 2, 12)
    x = jax.random.normal(jax.random.key(0), (2, 40, 1))
    count, logits = BEFORE_OPTIONS[arch]
    for name in (arch, _spelled_out(arch)):
        module = architectures.build(name, task, shape, nnx.Rngs(0))
        assert sum(p.size for p in jax.tree.leaves(nnx.state(module, nnx.Param))) == count
        np.testing.assert_allclose(np.asarray(module(x))[0, :3], logits, rtol=1e-5, atol=1e-6)
    assert architectures.canonical(_spelled_out(arch)) == arch
    ids = {RunSpec(arch=architectures.canonical(n), dataset="mnist1d", target_params=10_000, data_size=1000)
           .run_id(arch_version="1", data_version="d") for n in (arch, _spelled_out(arch))}
    assert len(ids) == 1


@pytest.fixture
def registry(monkeypatch):
    """A copy of the registry for the test: families it registers are gone afterwards."""
    architectures.names()
    monkeypatch.setattr(architectures, "_REGISTRY", dict(architectures._REGISTRY))


def test_option_names_are_canonical_defaults_left_out_the_rest_sorted(registry):
    assert architectures.canonical("convnet?head=pool") == "convnet"
    assert architectures.canonical("convnet?head=dense") == "convnet?head=dense"
    assert architectures.get("convnet?head=dense") is architectures.get("convnet")

    @architectures.register("options_test", depth_for=lambda n: 1, options={"mode": ("a", "b"), "kernel": 3})
    def build(task, shape, rngs, *, mode, kernel):
        return architectures.build("mlp", task, shape, rngs)

    assert architectures.canonical("options_test?mode=b&kernel=5") == "options_test?kernel=5&mode=b"
    assert architectures.canonical("options_test?kernel=3&mode=a") == "options_test"
    assert architectures.parse("options_test?kernel=5").options == {"mode": "a", "kernel": 5}
    with pytest.raises(architectures.PluginError, match="option kernel of options_test must be int"):
        architectures.parse("options_test?kernel=five")


@pytest.mark.parametrize(
    ("name", "message"),
    [("convnet?head=max", "must be one of pool, dense"), ("convnet?width=3", "has no option 'width=3'"),
     ("mlp?head=dense", "has no option"), ("convnet?head", "has no option 'head'"), ("convnt?head=dense", "did you mean")],
)
def test_bad_options_are_errors_that_name_what_is_accepted(name, message):
    with pytest.raises(architectures.PluginError, match=re.escape(message)):
        architectures.parse(name)


VARIANTS = ["convnet?head=dense"]


@pytest.mark.parametrize("arch", VARIANTS)
def test_option_variants_match_sizes_map_to_logits_and_have_gradients_everywhere(arch):
    task = arch_checks.TASKS["signal1d"]
    sized = sizing.solve(arch, task, 5_000)
    assert abs(sized.deviation) <= 0.02 and sized.params == sizing.count_params(arch, task, sized.shape)
    assert sized.params != sizing.count_params(architectures.get(arch).name, task, sized.shape)  # the option is built
    graphdef, params = nnx.split(architectures.build(arch, task, sized.shape, nnx.Rngs(0)), nnx.Param)
    x, y = arch_checks._inputs(task, 4), jnp.arange(4)
    grads = jax.grad(lambda p: optax.softmax_cross_entropy_with_integer_labels(nnx.merge(graphdef, p)(x), y).mean())(params)
    for path, g in jax.tree_util.tree_leaves_with_path(grads):
        assert np.isfinite(np.asarray(g)).all() and np.any(np.asarray(g) != 0), jax.tree_util.keystr(path)


def test_dense_head_has_a_weight_per_last_stage_position_and_channel():
    task, shape = arch_checks.TASKS["signal1d"], architectures.ArchShape(8, 2, 8)
    pooled = architectures.build("convnet", task, shape, nnx.Rngs(0))
    dense = architectures.build("convnet?head=dense", task, shape, nnx.Rngs(0))
    assert pooled.head.head.in_features == 16  # two stages: 2 x 8 channels, averaged over positions
    assert dense.head.head.in_features == 20 * 16  # 40 -> 20 positions in the second stage


def test_bigru_is_the_papers_gru_to_the_parameter_and_names_reachable_targets():
    task = arch_checks.TASKS["signal1d"]
    sized = sizing.solve("bigru", task, 5_134)  # torch.nn.GRU(1, 6, bidirectional) + Linear(40 * 12, 10)
    assert sized.shape == architectures.ArchShape(6, 1, 0) and sized.params == 5_134
    with pytest.raises(sizing.UserError, match="nearest feasible target is 6,030"):
        sizing.solve("bigru", task, 5_600)  # between width 6 (5,134) and 7 (6,030)
    assert "bigru" not in architectures.wildcard_names()


def test_linear_baseline_has_one_size_and_is_not_picked_by_the_wildcard():
    task = arch_checks.TASKS["signal1d"]
    for target in (410, 10_000, 1_000_000):
        sized = sizing.solve("linear", task, target)
        assert sized.fixed and sized.params == 40 * 10 + 10 == sizing.count_params("linear", task, sized.shape)
    assert "linear" in architectures.names() and "linear" not in architectures.wildcard_names()
