"""The shared layers a family builds from (`architectures/layers.py`), the guide that documents them, and the
parallel scan of the diagonal linear recurrences (`layers.diagonal_scan`)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import architectures
from architectures import layers
from architectures.spec import TaskSpec

GUIDE = Path(__file__).parent.parent / "docs" / "adding-an-architecture.md"


@pytest.mark.parametrize("padding, dilation", [("SAME", 1), ("SAME", 2), ("VALID", 3), ("CAUSAL", 1), ("CAUSAL", 4)])
def test_conv_is_lax_conv_with_dilation_and_causal_padding(padding, dilation):
    conv = layers.Conv(3, 5, 3, nnx.Rngs(0), padding=padding, dilation=dilation)
    x_BxLxC = jax.random.normal(jax.random.key(1), (2, 16, 3))
    span = 2 * dilation
    pad = {"SAME": [(span // 2, span - span // 2)], "VALID": [(0, 0)], "CAUSAL": [(span, 0)]}[padding]
    want = jax.lax.conv_general_dilated(x_BxLxC, conv.kernel[...].reshape(3, 3, 5), (1,), pad, rhs_dilation=(dilation,),
                                        dimension_numbers=("NWC", "WIO", "NWC")) + conv.bias[...]
    np.testing.assert_allclose(conv(x_BxLxC), want, rtol=1e-5, atol=1e-5)


def test_a_causal_conv_never_sees_the_future():
    conv = layers.Conv(1, 4, 3, nnx.Rngs(0), padding="CAUSAL", dilation=2)
    x_BxLxC = jnp.ones((1, 12, 1))
    later = x_BxLxC.at[:, 7:].set(-5.0)  # change every input from position 7 on
    np.testing.assert_array_equal(conv(x_BxLxC)[:, :7], conv(later)[:, :7])
    assert not np.allclose(conv(x_BxLxC)[:, 7:], conv(later)[:, 7:])


def test_sequence_embed_with_patch_1_embeds_every_sample_alone():
    task = TaskSpec("mnist1d", "signal1d", (40, 1), 10)
    embed = layers.SequenceEmbed(task, 8, nnx.Rngs(0), patch=1)
    x_BxLxC = jax.random.normal(jax.random.key(0), (2, 40, 1))
    assert embed.positions == 40 and embed(x_BxLxC).shape == (2, 40, 8)
    np.testing.assert_allclose(embed(x_BxLxC)[:, 3], embed.proj(x_BxLxC[:, 3]), rtol=1e-6)  # position 3 from sample 3
    with pytest.raises(ValueError, match="patch 3 does not divide the input's 40 positions"):
        layers.SequenceEmbed(task, 8, nnx.Rngs(0), patch=3)


def _documented_calls() -> list[tuple[str, str]]:
    """(name, parameters) of every `Name(a, b=1)` in the first column of the guide's tables."""
    rows = [line.split("|")[1] for line in GUIDE.read_text().splitlines() if line.startswith("| `")]
    return [m.groups() for row in rows for m in re.finditer(r"`(\w+)\(([^)]*)\)`", row)]


@pytest.mark.parametrize("name, params", _documented_calls(), ids=lambda v: v if "(" not in v else "")
def test_every_helper_the_guide_documents_takes_the_parameters_it_says(name, params):
    helper = getattr(layers, name)
    real = dict(inspect.signature(helper.__init__ if inspect.isclass(helper) else helper).parameters)
    real.pop("self", None)
    documented = [p.strip() for p in params.split(",") if p.strip() not in ("", "...")]
    names = [p.split("=")[0].strip() for p in documented]
    assert names == list(real)[: len(names)], f"{name}: the guide says ({params}), the code ({', '.join(real)})"
    for p in documented:
        if "=" in p:
            key, default = (part.strip() for part in p.split("="))
            assert real[key].default == eval(default), f"{name}: {key}'s default"  # a literal: None, 1, "SAME"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", GUIDE.read_text(), flags=re.S)


def test_every_python_example_of_the_guide_runs(monkeypatch):
    monkeypatch.setattr(architectures, "_REGISTRY", {})  # its `register(...)` calls land in a throwaway registry
    prelude = ("from flax import nnx\nfrom architectures import register\nfrom architectures.spec import ArchShape, "
               "TaskSpec\n_depth = lambda target_params: 2\n")
    blocks = _blocks("python")
    assert blocks
    for block in blocks:
        exec(compile(prelude + block, str(GUIDE), "exec"), {})
    assert {"my_net", "convnet", "gated_net"} <= set(architectures._REGISTRY)
    assert architectures._REGISTRY["gated_net"].hidden_step == 2


def test_every_archbench_command_of_the_guide_parses():
    from benchmarks.cli import build_parser

    commands = [line.split("#")[0].split() for block in _blocks("bash") for line in block.splitlines()]
    commands = [c[1:] for c in commands if c[:1] == ["archbench"]]
    assert len(commands) >= 5
    for argv in commands:
        build_parser().parse_args(argv)  # an unknown command or flag exits 2


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
    np.testing.assert_allclose(np.asarray(layers.diagonal_scan(jnp.asarray(a), jnp.asarray(b))), step_by_step(a, b),
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
