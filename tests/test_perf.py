"""`archbench perf`: the report's fields and how its ratios are made (never its timings: those are for `make perf`)."""

import json

import jax
import numpy as np
import pytest

from benchmarks.cli import main
from benchmarks.running import perf
from benchmarks.running.programs import Members, Model, TrainConfig, compiled_init, compiled_run, device_data
from benchmarks.spec import ArchShape


def test_perf_json_reports_throughput_peak_fraction_and_gains(tmp_path, capsys):
    args = ["perf", "--json", "--arch", "mlp", "--params", "3k,6k", "--window", "0.05", "--scan-length", "5",
            "--seeds", "2", "--peak-n", "128", "--results-dir", str(tmp_path)]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == json.loads((tmp_path / "perf.json").read_text())
    on_cpu = jax.default_backend() == "cpu"  # the test also runs on a GPU (checked on an H100)
    assert report["device"]["platform"] == jax.default_backend() and report["device"]["device_count"] == "1"
    precision = report["settings"]["precision"]  # the default suite's: float32 (quick) on a CPU, bf16 (standard) on a GPU
    peak = report["peak_flops_per_s"][precision]
    assert peak > 0 and peak == max(report["peak_before_after"][precision])  # the better of two measurements
    cells, batch = report["results"], report["settings"]["batch_size"]
    assert [(c["arch"], c["target_params"]) for c in cells] == [("mlp", 3000), ("mlp", 6000)]
    for c in cells:
        assert c["skipped"] == "" and abs(c["params"] / c["target_params"] - 1) <= 0.02
        assert c["train_flops_per_step"] == pytest.approx(3 * c["flops_per_example"] * batch)
        assert c["steps_per_s"] > 0 and 2 <= c["scan_length"] <= 5
        assert c["examples_per_s"] == pytest.approx(c["steps_per_s"] * batch)
        assert c["flops_per_s"] == pytest.approx(c["steps_per_s"] * c["train_flops_per_step"])
        assert c["fraction_of_peak"] == pytest.approx(c["flops_per_s"] / peak)
    small, large = cells  # the comparisons run at the smallest size only (by default)
    assert small["fused_speedup"] == pytest.approx(small["steps_per_s"] / small["stepwise_steps_per_s"])
    assert small["vmap_members"] == 2
    assert small["vmap_gain"] == pytest.approx(2 * small["vmap_steps_per_s"] / small["steps_per_s"])
    assert large["stepwise_steps_per_s"] == large["vmap_members"] == 0
    assert {t["target"] for t in report["targets"]} == ({  # a GPU's targets need bf16 or 8 seeds: none here
        "mlp at 3,000 params: fused loop / step-by-step loop", "mlp at 6,000 params: fraction of matmul peak"}
        if on_cpu else set())


def test_perf_rejects_an_unknown_family_in_one_line(tmp_path, capsys):
    assert main(["perf", "--arch", "resnet", "--results-dir", str(tmp_path)]) == 2
    assert "unknown architecture 'resnet'" in capsys.readouterr().err
    assert not (tmp_path / "perf.json").exists()


def test_fused_interval_makes_no_host_round_trips(toy_view):
    """The program `train()` runs between evaluations: no callbacks, transfers or host syncs inside."""
    model = Model.create("mlp", toy_view.task, ArchShape(16, 2, 16))
    cfg = TrainConfig(batch_size=16, eval_every=20, warmup_frac=0.1, weight_decay=1e-4)
    seeds = np.array([0], np.uint32)
    state = compiled_init(model, cfg, seeds)(seeds)
    hlo = compiled_run(model, cfg, state, Members.of([1e-3], [256], [40]), device_data(toy_view)).as_text()
    assert "while" in hlo  # the steps are one loop on the device...
    for op in ("outfeed", "infeed", "send(", "recv(", "host_callback", "xla_python_cpu_callback", "xla_ffi_python"):
        assert op not in hlo  # ...with nothing that stops for the host


def test_timing_takes_the_best_window_after_a_warm_up():
    calls = []

    def call():
        calls.append(1)
        return jax.numpy.zeros(())

    rate = perf.best_rate(call, units_per_call=10, window_s=0.01, repeats=3)
    assert rate > 0 and len(calls) >= 4  # one warm-up call, then at least one per repeat


def test_bfloat16_runs_matmuls_in_bfloat16_with_float32_state(toy_view):
    """`--precision bfloat16`: the program asks for bf16 matmuls; parameters, optimizer state and loss stay float32."""
    model = Model.create("mlp", toy_view.task, ArchShape(16, 2, 16))
    cfg = TrainConfig(batch_size=16, eval_every=20, warmup_frac=0.1, weight_decay=1e-4, precision="bfloat16")
    seeds = np.array([0], np.uint32)
    state = compiled_init(model, cfg, seeds)(seeds)
    lowered = perf.fused_program(model, cfg, 4).lower(state, Members.of([1e-3], [256], [40]), device_data(toy_view))
    dots = [line for line in lowered.as_text().splitlines() if "dot_general" in line]
    assert dots and all("bf16" in line for line in dots)
    out_state, losses = lowered.out_info
    assert {leaf.dtype for leaf in jax.tree.leaves(out_state.params)} == {np.dtype("float32")}
    assert {leaf.dtype for leaf in jax.tree.leaves(out_state.opt_state)} <= {np.dtype("float32"), np.dtype("int32")}
    assert losses.dtype == np.float32
