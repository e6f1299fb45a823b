"""`archbench perf --suite` (benchmarks/running/sweep_perf.py): the slice and the report's fields, never its timings."""

import json

import pytest

from benchmarks.cli import main
from benchmarks.running import sweep_perf, workers
from benchmarks.spec import RunSpec, UserError

TINY_SUITE = """
name = "tiny-perf"
datasets = ["mnist1d"]
architectures = ["mlp", "mixer"]
target_params = [3_000, 5_000]
data_sizes = [200, 400]
seeds = [0, 1]
[training]
epochs = 1
min_steps = 20
max_steps = 20
batch_size = 32
eval_every = 10
[lr]
trials = [1e-3, 3e-3]
tune_seeds = 1
"""


def _grid(groups: int, per_group: int = 3) -> list[RunSpec]:
    return [RunSpec(arch="mlp", dataset="mnist1d", target_params=1000 * (g + 1), data_size=100 * (d + 1), seeds=(0,))
            for g in range(groups) for d in range(per_group)]


def test_the_slice_is_whole_groups_spread_over_the_grid():
    specs = _grid(18)
    picked = sweep_perf.suite_slice(specs, 12)
    assert len(picked) == 12 and [len(g) for g in workers.groups(picked)] == [3] * 4
    assert sorted({s.target_params // 1000 for s in picked}) == [1, 5, 10, 14]  # groups 0, 4, 9 and 13 of 18
    assert sweep_perf.suite_slice(specs, 1000) == specs
    with pytest.raises(UserError, match="--slice"):
        sweep_perf.suite_slice(specs, 0)


@pytest.mark.slow
def test_perf_suite_writes_both_sweeps_throughput_cpu_use_and_compile_share(tmp_path, capsys):
    suite = tmp_path / "tiny-perf.toml"
    suite.write_text(TINY_SUITE)
    args = ["perf", "--json", "--suite", str(suite), "--arch", "mlp", "--window", "0.05", "--scan-length", "5",
            "--seeds", "2", "--peak-n", "128", "--slice", "2", "--workers", "2", "--results-dir", str(tmp_path)]
    assert main(args) == 0
    printed = capsys.readouterr()
    report = json.loads(printed.out)
    assert [c["arch"] for c in report["results"]] == ["mlp", "mlp"]  # the per-family cells, as without --suite
    section = report["suite"]
    assert section["name"] == "tiny-perf" and len(section["runs"]) == 2 and section["workers"] == 2
    # runs x steps x members trained: seed 0 at both trials, then seed 1 at the chosen one (not 2 seeds x 2 trials)
    assert section["member_steps"] == 2 * 20 * (2 * 1 + 1)
    for key in ("member_steps_per_s", "baseline_member_steps_per_s", "speedup", "cpu_use", "baseline_cpu_use",
                "compile_share", "baseline_compile_share"):
        assert section[key] > 0, key
    assert section["speedup"] == pytest.approx(section["member_steps_per_s"] / section["baseline_member_steps_per_s"])
    # the training work of those member-steps (3 x forward x batch each) over wall time, against the measured peak
    flops = report["results"][0]["flops_per_example"]  # the slice's runs: mlp at the suite's smallest size
    timing = section["timings"]["workers"]
    assert timing["train_flops"] == pytest.approx(section["member_steps"] * 3 * flops * 32, rel=0.02)
    assert section["fraction_of_peak"] == pytest.approx(
        timing["train_flops"] / timing["wall_s"] / report["peak_flops_per_s"]["float32"])
    assert 0 < section["baseline_fraction_of_peak"] and "of the machine's peak" in printed.err
    assert any("matmul peak" in t["target"] and t["threshold"] == 0.3 for t in report["targets"])
    assert section["timings"]["baseline"]["workers"] == 1 and section["timings"]["workers"]["runs"] == 2
    assert report == json.loads((tmp_path / "perf.json").read_text())
