"""`archbench perf`: training throughput, FLOP/s against the matmul peak, fused-loop and vmap gains."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import architectures
from benchmarks.cli.flags import add_device_flags, setup_devices
from benchmarks.formatting import human, write_text
from benchmarks.layout import PERF_FILE
from benchmarks.spec import UserError

if TYPE_CHECKING:
    from benchmarks.running.perf import PerfConfig

DEFAULT_SUITE = {"cpu": "quick"}  # any other platform: "standard" (the suite meant for accelerators)
DEFAULT_SLICE = 12  # runs of --suite: on `quick`, 4 groups of 3 data sizes, about a minute each way on 2 cores


def config_from_args(args: argparse.Namespace) -> PerfConfig:
    import jax

    from benchmarks.running import sizing
    from benchmarks.running.perf import PerfConfig
    from benchmarks.running.suite import load_suite

    device_platform = jax.devices()[0].platform
    accelerator = device_platform != "cpu"
    suite = load_suite(args.suite or DEFAULT_SUITE.get(device_platform, "standard"))
    archs = tuple(architectures.canonical(a) for a in args.arch) if args.arch else tuple(suite.resolved_architectures())
    suite_sizes = suite.all_target_params()
    sizes = tuple(sizing.parse_counts(args.params)) if args.params else (min(suite_sizes), max(suite_sizes))
    precision = suite.training.precision if args.precision == "suite" else args.precision
    for name, value in (("--seeds", args.seeds), ("--scan-length", args.scan_length), ("--batch-size", args.batch_size or 1),
                        ("--slice", args.slice)):
        if value < 1:
            raise UserError(f"{name} must be positive")
    if args.window <= 0:
        raise UserError("--window must be positive")
    return PerfConfig(
        archs=archs, sizes=sizes, dataset=args.dataset or suite.datasets[0],
        data_size=max(suite.data_sizes), batch_size=args.batch_size or suite.training.batch_size,
        precision=precision, seeds=args.seeds, scan_length=args.scan_length, window_s=args.window,
        peak_n=args.peak_n or (2048 if not accelerator else 8192), ratios_at_every_size=args.ratios_at_every_size,
        shard_params=args.shard_params,
    )


def table(report: dict):
    """The report as a rich table (one row per family and size)."""
    from rich.table import Table

    settings = report["settings"]
    t = Table(title=f"archbench perf · {report['device']['device_kind']} x{report['device']['device_count']} · "
              f"{settings['precision']} · batch {settings['batch_size']} · {settings['task']}")
    for col in ("family", "params", "steps/s", "examples/s", "FLOP/s", "% of peak", "fused vs loop",
                f"vmap {settings['seeds']} vs seq", "compile s"):
        t.add_column(col, justify="left" if col == "family" else "right")
    for c in report["results"]:
        if c["skipped"]:
            t.add_row(c["arch"], f"{c['target_params']:,}", f"skipped: {c['skipped']}")
            continue
        t.add_row(
            c["arch"], f"{c['params']:,}", f"{c['steps_per_s']:.1f}", human(c["examples_per_s"]), human(c["flops_per_s"]),
            f"{100 * c['fraction_of_peak']:.1f}", f"{c['fused_speedup']:.2f}x" if c["stepwise_steps_per_s"] else "-",
            f"{c['vmap_gain']:.2f}x" if c["vmap_members"] else "-", f"{c['compile_s']:.1f}",
        )
    peak = report["peak_flops_per_s"][settings["precision"]]
    t.caption = (f"peak: {human(peak)}FLOP/s ({settings['precision']} {report['peak_matmul_n']}^3 matmul, best of 5 "
                 "before and after); rates: best of 3 windows after a warm-up, one member; comparisons at the "
                 "smallest size")
    return t


def cmd_perf(args: argparse.Namespace) -> int:
    from benchmarks.running import distributed, sweep_perf, workers
    from benchmarks.running.perf import CellResult, device_description, run_perf
    from benchmarks.running.suite import load_suite

    setup_devices(args)
    cfg = config_from_args(args)
    out_dir = Path(args.results_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"results folder {out_dir} is not writable: {e.strerror}") from e
    from rich.console import Console

    quiet = not distributed.is_main_process()
    err = Console(stderr=True, quiet=quiet)
    out = err if args.json else Console(quiet=quiet, width=200)
    device = device_description()
    err.print(f"perf on {device['device_kind']} x{device['device_count']} ({device['platform']}): "
              f"{len(cfg.archs)} families x {len(cfg.sizes)} sizes, {cfg.precision}, batch {cfg.batch_size}")
    started = time.perf_counter()

    def on_cell(c: CellResult) -> None:
        what = "skipped" if c.skipped else f"{c.steps_per_s:.1f} steps/s"
        err.print(f"  {c.arch} {c.target_params:,}: {what} ({time.perf_counter() - started:.0f}s)")

    n = workers.count(args.workers, device["platform"], workers.cores())
    report = run_perf(cfg, on_cell)
    if args.suite:  # the suite's slice swept one run at a time and with workers (benchmarks/running/sweep_perf.py)
        err.print(f"sweeping about {args.slice} runs of {args.suite} one run at a time, then in {n} workers")
        report["suite"] = sweep_perf.measure_suite(load_suite(args.suite), args.slice, n, cfg.archs if args.arch else (),
                                                   tuple(args.plugin),
                                                   peak_flops_per_s=report["peak_flops_per_s"][cfg.precision])
        report["targets"] += sweep_perf.targets(report["suite"], device["platform"])
    out.print(table(report))
    for line in sweep_perf.summary(report["suite"]) if args.suite else ():
        out.print(line, markup=False, highlight=False)
    for t in report["targets"]:
        out.print(f"target: {t['target']} {'<=' if t.get('at_most') else '>='} {t['threshold']:g}: measured {t['measured']:.3g} "
                  f"({'met' if t['met'] else 'NOT met'})")
    if distributed.is_main_process():
        path = out_dir / PERF_FILE
        write_text(path, json.dumps(report, indent=1) + "\n")
        err.print(f"written to {path} ({time.perf_counter() - started:.0f}s)")
        if args.json:
            print(json.dumps(report))
    return 0


def add_command(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "perf", parents=[common], formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        help="measure training throughput, FLOP/s vs the matmul peak, fused-loop and vmap gains",
        description="For each family at the suite's smallest and largest size (quick on CPU, standard on GPU/TPU): "
        "steps/s, examples/s, achieved FLOP/s and its fraction of the measured matmul peak, the fused loop's "
        "speed-up over a Python step loop, and the gain of K vmapped seeds over K sequential runs. "
        "Writes RESULTS_DIR/perf.json.",
    )
    p.add_argument("--suite", help="sizes, dataset, batch size and precision come from this suite "
                   "(default: quick on CPU, standard on GPU/TPU)")
    p.add_argument("--arch", action="append", help="measure only this family, options allowed "
                   "(repeatable; default: the suite's families)")
    p.add_argument("--params",
                   help="comma-separated sizes instead of the suite's smallest and largest, e.g. 10k,10M")
    p.add_argument("--dataset", help="dataset (default: the suite's first)")
    p.add_argument("--batch-size", type=int, help="batch size (default: the suite's)")
    p.add_argument("--precision", choices=["suite", "float32", "bfloat16"], default="suite",
                   help="compute dtype (default: the suite's; parameters stay float32)")
    p.add_argument("--seeds", type=int, default=8, help="K: members of the vmapped program compared with K runs")
    p.add_argument("--scan-length", type=int, default=100,
                   help="most steps per call of the fused program (slow models get fewer, to keep to the window)")
    p.add_argument("--window", type=float, default=1.0, help="seconds timed per measurement (best of 3 parts)")
    p.add_argument("--peak-n", type=int, help="matmul side for the peak (default 2048 on CPU, 8192 on GPU/TPU)")
    p.add_argument("--ratios-at-every-size", action="store_true",
                   help="compare with the Python loop and with sequential runs at every size, not only the smallest")
    p.add_argument("--slice", type=int, default=DEFAULT_SLICE, metavar="RUNS",
                   help="with --suite: sweep about this many runs of the suite's grid (whole groups of one family and "
                   "size) twice, one run at a time and with --workers, and compare member-steps/s, CPU use and compile share")
    p.add_argument("--workers", default="auto", metavar="N|auto",
                   help="with --suite: worker processes of the second sweep (auto: one per CPU core on a CPU)")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object on stdout")
    add_device_flags(p)
    p.set_defaults(func=cmd_perf)
