"""`archbench archs` and `archbench new-arch`, through the real command line parser."""

from __future__ import annotations

import json

import jax
import pytest
from flax import nnx

import architectures
from benchmarks.cli import main
from benchmarks.cli.archs import new_arch
from benchmarks.running import sizing
from benchmarks.running.sizing import parse_counts
from benchmarks.spec import TaskSpec, UserError


@pytest.fixture
def registry(monkeypatch):
    """A copy of the registry for the test: families it loads are gone afterwards."""
    architectures.names()
    monkeypatch.setattr(architectures, "_REGISTRY", dict(architectures._REGISTRY))


def test_archs_json_gives_shape_count_deviation_and_flops_per_family_and_target(capsys):
    assert main(["archs", "--dataset", "mnist1d", "--params", "10k,30k", "--arch", "mlp,transformer", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["arch"], r["target_params"]) for r in rows] == [
        ("mlp", 10_000), ("mlp", 30_000), ("transformer", 10_000), ("transformer", 30_000)
    ]
    for r in rows:
        assert abs(r["params"] / r["target_params"] - 1) <= 0.02 and r["deviation"] == pytest.approx(
            r["params"] / r["target_params"] - 1
        )
        assert set(r["shape"]) == {"width", "depth", "hidden"} and r["flops_per_example"] > r["params"]
        assert r["error"] is None


def test_archs_gives_the_state_each_family_carries_between_positions(capsys):
    assert main(["archs", "--dataset", "mnist1d", "--params", "10k", "--arch", "mlp,transformer,mingru", "--json"]) == 0
    mlp, transformer, mingru = json.loads(capsys.readouterr().out)
    width, depth = (transformer["shape"][k] for k in ("width", "depth"))
    assert mlp["state_size"] is None  # it reads no sequence
    assert transformer["state_size"] == 2 * 10 * width * depth  # keys and values of 10 patches, every block
    assert mingru["state_size"] == mingru["shape"]["width"] * mingru["shape"]["depth"]


def test_archs_table_says_what_the_shapes_were_measured_on(capsys):
    assert main(["archs", "--dataset", "mnist1d", "--params", "10k", "--arch", "mlp"]) == 0
    out = capsys.readouterr().out
    assert "mnist1d: signal1d 40x1, 10 classes" in out and "mlp" in out and "10,000" in out


def test_unreachable_target_is_a_row_naming_the_nearest_feasible_target(capsys):
    assert main(["archs", "--params", "100,10k", "--arch", "transformer", "--json"]) == 0
    small, ok = json.loads(capsys.readouterr().out)
    assert small["params"] is None and "nearest feasible target is" in small["error"]
    assert ok["error"] is None


@pytest.mark.parametrize("text", ["10q", "", "1.5", "-3k"])
def test_unreadable_counts_are_one_line_errors(text, capsys):
    assert main(["archs", f"--params={text}", "--arch", "mlp"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_counts_read_with_suffixes():
    assert parse_counts("10k, 100k,1M,2.5M") == [10_000, 100_000, 1_000_000, 2_500_000]


def test_new_arch_writes_a_family_that_registers_and_matches_sizes(tmp_path, registry, capsys):
    assert main(["new-arch", "my_net", "--dir", str(tmp_path)]) == 0
    assert "MyNetConfig" in capsys.readouterr().out
    path = tmp_path / "my_net.py"
    assert "class MyNetNet" in path.read_text() and '"my_net"' in path.read_text()

    assert architectures.load_plugin(str(path)) == ["my_net"]
    task = TaskSpec("tokens", "tokens", (64,), 4, vocab_size=16)
    sized = sizing.solve("my_net", task, 20_000)
    assert abs(sized.deviation) <= 0.02
    graphdef, state = nnx.split(nnx.eval_shape(lambda: architectures.build("my_net", task, sized.shape, nnx.Rngs(0))))
    logits = jax.eval_shape(lambda s, x: nnx.merge(graphdef, s)(x), state, jax.ShapeDtypeStruct((2, 64), "int32"))
    assert logits.shape == (2, 4)


def test_new_arch_refuses_to_overwrite_or_to_take_a_bad_name(tmp_path):
    (tmp_path / "taken.py").write_text("# mine\n")
    with pytest.raises(UserError, match="already exists"):
        new_arch("taken", tmp_path)
    assert (tmp_path / "taken.py").read_text() == "# mine\n"
    for bad in ("1net", "my-net", "class", "_private", "MyNet"):
        with pytest.raises(UserError, match="not a valid architecture name"):
            new_arch(bad, tmp_path)
    with pytest.raises(UserError, match="already registered"):
        new_arch("transformer", tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.py"]


def test_archs_says_a_fixed_size_family_is_fixed_and_lists_options(capsys):
    assert main(["archs", "--params", "10k", "--arch", "linear,convnet?head=dense"]) == 0
    out = capsys.readouterr().out
    assert "fixed size" in out and "410" in out and "convnet?head=dense" in out
    assert "convnet?KEY=VALUE options (default first): head=pool|dense" in out and 'not in architectures = ["*"]' in out
    assert main(["archs", "--params", "10k", "--arch", "linear", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["fixed_size"] and row["params"] == 410 and row["error"] is None


def test_an_unknown_option_is_a_one_line_error(capsys):
    assert main(["archs", "--params", "10k", "--arch", "convnet?head=max"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "must be one of pool, dense" in err
GATED_PLUGIN = '''
from flax import nnx
import jax
from architectures import register


class Gated(nnx.Module):
    """A gated block: `hidden` is split in two halves (gate and value)."""

    def __init__(self, task, width, hidden, rngs):
        half = hidden // 2
        self.embed = nnx.Linear(task.input_shape[0] * task.input_shape[1], width, rngs=rngs)
        self.gate = nnx.Linear(width, half, rngs=rngs)
        self.value = nnx.Linear(width, half, rngs=rngs)
        self.down = nnx.Linear(half, width, rngs=rngs)
        self.head = nnx.Linear(width, task.num_classes, rngs=rngs)

    def __call__(self, x):
        h = self.embed(x.reshape(x.shape[0], -1))
        return self.head(h + self.down(jax.nn.sigmoid(self.gate(h)) * self.value(h)))


@register("{name}", depth_for=lambda n: 1, hidden_ratio=2.0{limits})
def build(task, shape, rngs):
    return Gated(task, shape.width, shape.hidden, rngs)
'''


def _gated_plugin(tmp_path, name: str, limits: str) -> str:
    """A plugin file registering the gated family as `name` (a fresh name: the solver caches by name)."""
    path = tmp_path / f"{name}.py"
    path.write_text(GATED_PLUGIN.replace("{name}", name).replace("{limits}", limits))
    return str(path)


def test_family_that_declares_an_even_hidden_is_listed_with_its_shapes(tmp_path, registry, capsys):
    plugin = _gated_plugin(tmp_path, "gated_even", ", hidden_step=2")
    assert main(["archs", "--plugin", plugin, "--arch", "gated_even", "--params", "5k", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["error"] is None and row["shape"]["hidden"] % 2 == 0


@pytest.mark.parametrize("command", [
    ["archs", "--arch", "gated_odd", "--params", "5k"],
    ["run", "--arch", "gated_odd", "--params", "5k", "--data-size", "200", "--steps", "100", "--no-compile-cache"],
])
def test_family_whose_builder_fails_at_a_probe_shape_gets_one_line_and_exit_2(tmp_path, registry, capsys, command):
    plugin = _gated_plugin(tmp_path, "gated_odd", "")
    assert main([*command, "--plugin", plugin, "--results-dir", str(tmp_path / "results")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "gated_odd" in err and "hidden 1" in err and "hidden_step=" in err
    assert not (tmp_path / "results").exists()


def test_archs_remembers_each_row_by_the_familys_code_and_measures_again_when_it_changes(tmp_path, monkeypatch,
                                                                                          registry, capsys):
    monkeypatch.setenv("ARCHBENCH_CACHE", str(tmp_path / "cache"))
    plugin = new_arch("cached_net", tmp_path)

    def archs(*flags: str) -> list[dict]:  # a fresh process would load the plugin anew
        architectures._REGISTRY.pop("cached_net", None)
        assert main(["archs", "--plugin", str(plugin), "--arch", "cached_net", "--params", "10k", "--json", *flags]) == 0
        return json.loads(capsys.readouterr().out)

    first = archs()
    (remembered,) = (tmp_path / "cache" / "archs").glob("*.json")
    assert json.loads(remembered.read_text()) == first[0]
    remembered.write_text(json.dumps(first[0] | {"flops_per_example": 1.0}))  # what a second call reads
    assert archs()[0]["flops_per_example"] == 1.0
    assert archs("--fresh") == first
    remembered.write_text(json.dumps(first[0] | {"flops_per_example": 1.0}))
    plugin.write_text(plugin.read_text() + "\n# edited\n")  # the family's code changed: measured again
    assert archs() == first


def test_archs_partly_remembered_gives_every_row_in_order_as_measured_fresh(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ARCHBENCH_CACHE", str(tmp_path / "cache"))

    def archs(params: str, *flags: str) -> list[dict]:
        assert main(["archs", "--arch", "mlp,linear", "--params", params, "--json", *flags]) == 0
        return json.loads(capsys.readouterr().out)

    archs("10k")  # mlp and linear at 10k remembered; 20k missing for both, 30k then for mlp alone
    archs("20k", "--arch", "mlp")
    partly = archs("10k,20k,30k")
    assert [(r["arch"], r["target_params"]) for r in partly] == [
        (a, t) for a in ("mlp", "linear") for t in (10_000, 20_000, 30_000)
    ]
    assert partly == archs("10k,20k,30k", "--fresh")
