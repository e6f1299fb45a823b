"""`archbench perf`: how fast the harness trains, on the device in hand.

For every family at the suite's smallest and largest size (the `quick` suite on a
CPU; on a GPU/TPU the `standard` suite: 100k and 10M parameters, bf16), it measures
the trainer's fused step program (a `lax.scan` of steps, members vmapped, exactly
`programs.train_step`, compiled with the trainer's options) and reports:

- steps/s and examples/s of one member;
- achieved FLOP/s: training FLOPs per step (3 x XLA's forward FLOPs per example x
  batch) x steps/s, and that as a fraction of the machine's dense matmul peak,
  measured in the same run (a jitted square matmul, best of several);
- the fused loop's speed-up over a plain Python loop of the same jitted step;
- the gain of training K seeds in one vmapped program over K runs one after another.

Timings are the best of a few repeats of a short window after a warm-up call (the
best, because other processes only ever slow a repeat down). Results go to
RESULTS_DIR/perf.json with the device they were measured on.
"""

from __future__ import annotations

import datetime
import math
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.data import load, training_view
from benchmarks.running import distributed, sizing
from benchmarks.running.programs import Data, Members, Model, TrainConfig, _run_options, compiled_init, device_data, train_step
from benchmarks.spec import UserError, training_flops

NOMINAL_FLOPS_PER_S = {"cpu": 2e10}  # only to choose scan lengths; other platforms 1e13


@dataclass(frozen=True)
class PerfConfig:
    archs: tuple[str, ...]
    sizes: tuple[int, ...]
    dataset: str
    data_size: int
    batch_size: int
    precision: str
    seeds: int  # K, members of the vmapped program
    scan_length: int  # most steps per call of the fused program (fewer for slow models, to keep calls short)
    window_s: float  # timed seconds per measurement, split over `repeats`
    ratios_at_every_size: bool = False  # else the loop and vmap comparisons run at the smallest size only
    shard_params: bool = False  # split parameters and optimizer state over the devices (--shard-params)
    repeats: int = 3
    peak_n: int = 2048  # side of the square matmul that measures the peak


@dataclass
class CellResult:
    """One family at one size."""

    arch: str
    target_params: int
    params: int = 0
    shape: dict[str, int] = field(default_factory=dict)
    flops_per_example: float = 0.0  # forward pass, XLA cost analysis
    train_flops_per_step: float = 0.0  # 3 x forward x batch, one member
    compile_s: float = 0.0  # the fused program of one member
    scan_length: int = 0  # steps per fused call (and per timed unit of the Python loop)
    steps_per_s: float = 0.0  # fused, one member
    examples_per_s: float = 0.0
    flops_per_s: float = 0.0
    fraction_of_peak: float = 0.0
    # Comparisons (at the smallest size unless --ratios-at-every-size; 0 where not measured):
    stepwise_steps_per_s: float = 0.0  # Python loop of jitted steps, one member
    fused_speedup: float = 0.0
    vmap_members: int = 0
    vmap_steps_per_s: float = 0.0  # steps/s of the K-member program (each step advances all K)
    vmap_gain: float = 0.0  # K x vmap_steps_per_s / steps_per_s
    skipped: str = ""  # why this cell was not measured


# ---- timing ------------------------------------------------------------------------------------

def best_rates(calls: dict[str, tuple[Callable[[], object], float]], window_s: float, repeats: int) -> dict[str, float]:
    """Best units/s of each (call, units_per_call) over `repeats` windows, after a warm-up call each.

    The calls take turns window by window, so a burst of load from other processes
    hits them alike instead of biasing their ratio. Within a window the calls are
    dispatched back to back and waited for once, at the end.
    """
    counts = {}
    for name, (call, _) in calls.items():
        t0 = time.perf_counter()
        jax.block_until_ready(call())
        counts[name] = max(1, math.ceil(window_s / repeats / max(time.perf_counter() - t0, 1e-6)))
    best = dict.fromkeys(calls, 0.0)
    for _ in range(repeats):
        for name, (call, units) in calls.items():
            t0 = time.perf_counter()
            out = None
            for _ in range(counts[name]):
                out = call()
            jax.block_until_ready(out)
            best[name] = max(best[name], counts[name] * units / (time.perf_counter() - t0))
    return best


def best_rate(call: Callable[[], object], units_per_call: float, window_s: float, repeats: int) -> float:
    return best_rates({"call": (call, units_per_call)}, window_s, repeats)["call"]


def matmul_peak(dtype: str, n: int, repeats: int = 5) -> float:
    """Dense matmul FLOP/s: a jitted n x n x n product, best of `repeats` (a few calls each)."""
    key_a, key_b = jax.random.split(jax.random.key(0))
    a = jax.random.normal(key_a, (n, n), dtype)
    b = jax.random.normal(key_b, (n, n), dtype)
    mm = jax.jit(jnp.matmul)
    return best_rate(lambda: mm(a, b), 2.0 * n**3, window_s=0.05 * repeats, repeats=repeats)  # >= 1 call, 50 ms a repeat


# ---- programs ----------------------------------------------------------------------------------

def fused_program(model: Model, cfg: TrainConfig, length: int):
    """`length` training steps in one lax.scan, members vmapped: the trainer's program without its evaluation."""

    def run(state, member: Members, data: Data):
        step = partial(train_step, model, cfg, member=member, data=data)
        return jax.lax.scan(lambda s, _: step(s), state, None, length=length)

    return jax.jit(jax.vmap(run, in_axes=(0, 0, None)), donate_argnums=0)


def step_program(model: Model, cfg: TrainConfig):
    """One jitted training step, members vmapped: what a plain Python loop calls."""
    return jax.jit(jax.vmap(partial(train_step, model, cfg), in_axes=(0, 0, None)), donate_argnums=0)


class _Members:
    """K members' state and inputs, carried across calls (programs donate the state)."""

    def __init__(self, model: Model, cfg: TrainConfig, k: int, n_train: int):
        self.seeds = distributed.put_replicated(np.arange(k, dtype=np.uint32))
        self.members = Members.of([1e-3] * k, [n_train] * k, [10**6] * k)
        self.state = compiled_init(model, cfg, self.seeds)(self.seeds)

    def fused(self, program, data: Data):
        def call():
            self.state, losses = program(self.state, self.members, data)
            return losses

        return call

    def stepwise(self, step, data: Data, length: int):
        def call():
            loss = None
            for _ in range(length):
                self.state, loss = step(self.state, self.members, data)
            return loss

        return call


def measure_cell(
    arch: str, target: int, cfg: PerfConfig, splits, data: Data, with_ratios: bool = True
) -> CellResult:
    """Throughput of one family at one size; with `with_ratios`, also against the Python loop and K sequential runs."""
    cell = CellResult(arch, target)
    try:
        sized = sizing.solve(arch, splits.task, target)
    except UserError as e:
        cell.skipped = str(e)
        return cell
    task = splits.task
    model = Model.create(arch, task, sized.shape)
    tcfg = TrainConfig(batch_size=cfg.batch_size, eval_every=cfg.scan_length, warmup_frac=0.0,
                       weight_decay=1e-4, precision=cfg.precision, shard_params=cfg.shard_params)
    cell.params, cell.shape = sized.params, sized.shape.as_dict()
    cell.flops_per_example = sizing.flops_per_example(arch, task, sized.shape)
    cell.train_flops_per_step = training_flops(cell.flops_per_example, cfg.batch_size)
    window, reps = cfg.window_s, cfg.repeats

    # Scan length: about window/repeats per fused call, from the step's FLOPs at a nominal rate for the
    # platform plus 0.2 ms, rounded to a power of two. It need not be exact, only the same from one
    # `perf` to the next, so the persistent compilation cache finds the program again.
    step_s = cell.train_flops_per_step / NOMINAL_FLOPS_PER_S.get(jax.default_backend(), 1e13) + 2e-4
    length = int(np.clip(2 ** round(math.log2(max(window / reps / step_s, 1.0))), 2, cfg.scan_length))
    cell.scan_length = length
    one = _Members(model, tcfg, 1, cfg.data_size)
    options = _run_options()  # the trainer's compiler options
    t0 = time.perf_counter()
    fused = fused_program(model, tcfg, length).lower(one.state, one.members, data).compile(compiler_options=options)
    cell.compile_s = time.perf_counter() - t0
    calls = {"fused": (one.fused(fused, data), length)}
    if with_ratios:
        step = step_program(model, tcfg).lower(one.state, one.members, data).compile(compiler_options=options)
        calls["stepwise"] = (one.stepwise(step, data, length), length)
        if cfg.seeds > 1:
            many = _Members(model, tcfg, cfg.seeds, cfg.data_size)
            program = fused_program(model, tcfg, length)
            fused_k = program.lower(many.state, many.members, data).compile(compiler_options=options)
            calls["vmap"] = (many.fused(fused_k, data), length)
    rates = best_rates(calls, window, reps)

    cell.steps_per_s = rates["fused"]
    cell.examples_per_s = cell.steps_per_s * cfg.batch_size
    cell.flops_per_s = cell.steps_per_s * cell.train_flops_per_step  # fraction_of_peak: set by run_perf
    if "stepwise" in rates:
        cell.stepwise_steps_per_s = rates["stepwise"]
        cell.fused_speedup = cell.steps_per_s / cell.stepwise_steps_per_s
    if "vmap" in rates:
        cell.vmap_members = cfg.seeds
        cell.vmap_steps_per_s = rates["vmap"]
        cell.vmap_gain = cfg.seeds * cell.vmap_steps_per_s / cell.steps_per_s
    return cell


# ---- the report --------------------------------------------------------------------------------

def device_description() -> dict[str, str]:
    desc = distributed.describe()
    if desc["platform"] == "cpu":
        try:
            model = next(
                line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            )
        except (OSError, StopIteration):
            model = platform.processor() or platform.machine()
        desc["device_kind"] = f"{model} ({desc['host_cpus']} cores)"
    return desc


def targets(report: dict) -> list[dict]:
    """The issue's performance targets that apply to this device, each with what was measured."""
    cells = [c for c in report["results"] if not c["skipped"]]
    device_platform = report["device"]["platform"]
    out = []

    def add(what: str, value: float | None, threshold: float) -> None:
        out.append({"target": what, "measured": value, "threshold": threshold,
                    "met": value is not None and value >= threshold})

    if not cells:
        return out
    smallest = min(c["target_params"] for c in cells)
    largest = max(c["target_params"] for c in cells)
    if device_platform == "cpu":
        for arch in ("mlp", "convnet"):
            got = [c["fraction_of_peak"] for c in cells if c["arch"] == arch and c["target_params"] == largest]
            if got:
                add(f"{arch} at {largest:,} params: fraction of matmul peak", got[0], 0.5)
        for c in cells:
            if c["target_params"] == smallest:
                add(f"{c['arch']} at {smallest:,} params: fused loop / step-by-step loop", c["fused_speedup"], 1.5)
    else:
        if report["settings"]["precision"] == "bfloat16":
            for c in cells:
                if c["arch"] == "transformer" and c["params"] >= 10_000_000:
                    add(f"transformer at {c['params']:,} params (bf16): fraction of bf16 matmul peak",
                        c["fraction_of_peak"], 0.4)
        if report["settings"]["seeds"] == 8:
            for c in cells:
                if c["target_params"] == smallest:
                    add(f"{c['arch']} at {smallest:,} params: 8 vmapped seeds / 8 sequential runs", c["vmap_gain"], 5.0)
    return out


def run_perf(cfg: PerfConfig, on_cell: Callable[[CellResult], None] | None = None) -> dict:
    # The peak is measured before and after the families, and the better kept: on a shared machine
    # the device may be busier at one moment than the other. Fractions are of that best peak.
    dtypes = ["float32"] + (["bfloat16"] if cfg.precision == "bfloat16" else [])
    before = {dtype: matmul_peak(dtype, cfg.peak_n) for dtype in dtypes}
    splits = load(cfg.dataset)
    view = training_view(splits, cfg.data_size)
    distributed.check_batch(cfg.batch_size)
    data = device_data(view)
    results = []
    for arch in cfg.archs:
        for target in cfg.sizes:
            with_ratios = cfg.ratios_at_every_size or target == min(cfg.sizes)
            cell = measure_cell(arch, target, cfg, splits, data, with_ratios)
            results.append(cell)
            if on_cell:
                on_cell(cell)
    after = {dtype: matmul_peak(dtype, cfg.peak_n) for dtype in dtypes}
    peaks = {dtype: max(before[dtype], after[dtype]) for dtype in dtypes}
    for cell in results:
        cell.fraction_of_peak = cell.flops_per_s / peaks[cfg.precision]
    report = {
        "device": device_description(),
        "jax": jax.__version__,
        "peak_flops_per_s": peaks,
        "peak_matmul_n": cfg.peak_n,
        "peak_before_after": {dtype: [before[dtype], after[dtype]] for dtype in dtypes},
        "settings": {k: v for k, v in asdict(cfg).items() if k != "archs"} | {"task": splits.task.name},
        "results": [asdict(c) for c in results],
        "created_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    report["targets"] = targets(report)
    return report
