"""`archbench tickets` end to end on real MNIST-1D data, its bad input, and its section of the report."""

import json

import pytest

import architectures
from benchmarks.cli import main
from benchmarks.running.store import ResultsStore

SUITE = """
name = "tk"
datasets = ["mnist1d"]
architectures = ["{arch}"]
target_params = [2_500]
data_sizes = [400]
seeds = [0, 1]

[training]
epochs = 4
min_steps = 40
max_steps = 40
eval_every = 20

[tickets]
{tickets}
"""

NO_KERNEL = '''
import jax, jax.numpy as jnp
from flax import nnx
from architectures import register


class NoKernel(nnx.Module):
    def __init__(self, task, rngs):
        n = task.input_shape[0] * task.input_shape[1]
        self.w = nnx.Param(0.01 * jax.random.normal(rngs.params(), (n, task.num_classes)))

    def __call__(self, x):
        return x.reshape(x.shape[0], -1) @ self.w


@register("nokernel", depth_for=lambda n: 1, fixed_size=True, wildcard=False, description="weights not in a kernel")
def build(task, shape, rngs):
    return NoKernel(task, rngs)
'''


def _suite(tmp_path, tickets: str, arch: str = "mlp"):
    path = tmp_path / "tk.toml"
    path.write_text(SUITE.format(arch=arch, tickets=tickets))
    return path


def test_tickets_help_says_what_it_does(capsys):
    with pytest.raises(SystemExit) as e:
        main(["tickets", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "rewind" in out and "random mask" in out and "--prune-fraction" in out


@pytest.mark.parametrize("tickets, flags, says", [
    ("prune_fraction = 1.5", [], "tk.toml:16: [tickets] prune_fraction must be in (0, 1), got 1.5"),
    ("rewind_step = 400", [], "tk.toml:16: [tickets] rewind_step 400 is beyond the training length"),
    ("prune_fraction = 0.2\ntarget_sparsity = 0.99\nrounds = 5", [], "[tickets] target_sparsity 0.99 is out of reach"),
    ("", ["--prune-fraction", "0"], "[tickets] prune_fraction must be in (0, 1), got 0"),
    ("", ["--rewind-step", "60"], "[tickets] rewind_step 60 is beyond the training length"),
    ("", ["--target-sparsity", "0.95", "--rounds", "2"], "is out of reach: 2 rounds of prune_fraction 0.2 reach 0.360"),
    ("scope = \"row\"", [], "[tickets] scope must be one of layer, global, got 'row'"),
    ("pruning = 0.2", [], "tk.toml:16: unknown key 'pruning' in [tickets]"),
    ("transfer = [\"mnist1e\"]", [], "[tickets] transfer: unknown dataset 'mnist1e'; did you mean mnist1d"),
    ("transfer = [\"recall\"]", [], "[tickets] transfer recall: its inputs or classes differ from mnist1d's"),
    ("[tickets.also_on]\nmlpp = [\"mnist1d-shuffled\"]", [], "[tickets.also_on] mlpp: unknown architecture 'mlpp'"),
])
def test_bad_plans_are_one_line_exit_2_and_write_nothing(tmp_path, capsys, tickets, flags, says):
    path = _suite(tmp_path, tickets)
    results = tmp_path / "results"
    assert main(["tickets", str(path), "--results-dir", str(results), *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and len(err.splitlines()) == 1
    assert not results.exists()


def test_a_family_with_nothing_prunable_is_refused_before_anything_is_written(tmp_path, capsys, monkeypatch):
    architectures.names()
    monkeypatch.setattr(architectures, "_REGISTRY", dict(architectures._REGISTRY))  # the plugin's family goes after
    plugin = tmp_path / "nokernel.py"
    plugin.write_text(NO_KERNEL)
    path = _suite(tmp_path, "", arch="nokernel")
    results = tmp_path / "results"
    assert main(["tickets", str(path), "--results-dir", str(results), "--plugin", str(plugin)]) == 2
    err = capsys.readouterr().err.strip()
    assert "architecture nokernel has nothing prunable on mnist1d" in err and len(err.splitlines()) == 1
    assert not results.exists()


def test_tickets_in_two_workers_then_report_shows_the_sparsity_curves(tmp_path, capsys):
    path = _suite(tmp_path, "prune_fraction = 0.5\ntarget_sparsity = 0.5\nrewind_step = 20")
    path.write_text(path.read_text().replace('architectures = ["mlp"]', 'architectures = ["mlp", "linear"]'))
    results = tmp_path / "results"
    assert main(["tickets", str(path), "--results-dir", str(results), "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "ticket:layer:p=0.5:round=1:rewind=20" in out and "random:layer" in out and "On mnist1d" in out
    records = ResultsStore(results, "tk").records()
    assert sorted((r.spec.arch, r.spec.mask.split(":")[0]) for r in records) == [
        (a, k) for a in ("linear", "mlp") for k in ("", "random", "ticket")]
    assert main(["tickets", str(path), "--results-dir", str(results)]) == 0  # resumed: nothing trains again
    assert len(ResultsStore(results, "tk").records()) == 6
    assert main(["report", "tk", "--results-dir", str(results)]) == 0
    page = (results / "tk" / "report.html").read_text()
    assert "<h2>Lottery tickets</h2>" in page and "against random masks (dashed)" in page
    assert (results / "tk" / "plots" / "tickets-mnist1d-from-mnist1d.png").is_file()
    assert (results / "tk" / "plots" / "tickets-first-layer-masks.png").is_file()
    doc = json.loads((results / "tk" / "fits.json").read_text())
    curves = {c["arch"]: c for c in doc["tickets"]["curves"]}
    assert [round(p["sparsity"], 3) for p in curves["mlp"]["points"]] == [0.5]
    assert doc["tickets"]["verdict"] and doc["tickets"]["spatial_prior"]
