"""The shared layers a family builds from (`architectures/layers.py`), and the guide that documents them."""

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
