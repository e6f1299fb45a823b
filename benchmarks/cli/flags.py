"""Flags that several commands share, and what they turn into: devices and hosts, executors, output.

Every module of `benchmarks/cli/` imports jax, flax, the families and the analysis only inside the
command that needs them, so `archbench --help` answers at once (tests/test_cli.py checks it).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from benchmarks.formatting import did_you_mean, write_text
from benchmarks.layout import RUNS_FILE
from benchmarks.running.executors import EXECUTORS, JobOptions
from benchmarks.spec import UserError


def add_device_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of every command that trains: multi-host, parameter sharding, compilation cache."""
    g = parser.add_argument_group("devices and hosts")
    g.add_argument("--distributed", action="store_true",
                   help="join a multi-host job with jax.distributed.initialize() (SLURM, TPU pods, or the flags below); "
                   "only process 0 writes records")
    g.add_argument("--coordinator", metavar="HOST:PORT", help="coordinator address of a --distributed job "
                   "(found automatically under SLURM and on TPU pods)")
    g.add_argument("--num-processes", type=int, help="processes in a --distributed job (automatic under SLURM)")
    g.add_argument("--process-id", type=int, help="this process's index in a --distributed job (automatic under SLURM)")
    g.add_argument("--shard-params", action="store_true",
                   help="split parameters and optimizer state over the devices instead of replicating them "
                   "(for models too large for one device); results are unchanged")
    g.add_argument("--no-compile-cache", action="store_true",
                   help="do not use the persistent XLA compilation cache (ARCHBENCH_CACHE/xla)")


def setup_devices(args: argparse.Namespace) -> None:
    """Apply the flags of `add_device_flags` that set up this process; call before anything touches a device.
    `--shard-params` is not one of them: it travels with the runs (`RunOptions`, `PerfConfig`)."""
    from benchmarks.running import distributed

    if not args.no_compile_cache:
        distributed.enable_compilation_cache()
    if args.distributed:
        distributed.initialize(args.coordinator, args.num_processes, args.process_id)
    elif args.coordinator or args.num_processes or args.process_id is not None:
        raise UserError("--coordinator, --num-processes and --process-id need --distributed")


def add_executor_flags(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("executor (where the runs execute)")
    g.add_argument("--executor", choices=EXECUTORS, default="local",
                   help="local: in this process; slurm: one SLURM job per group of runs (a job array) through submitit; "
                   "submitit-local: the same jobs as local processes")
    g.add_argument("--partition", help="SLURM partition")
    g.add_argument("--time", type=int, default=240, metavar="MINUTES", help="time limit of each job")
    g.add_argument("--gpus-per-node", type=int, default=0, help="GPUs per job (one process sees them all as one mesh)")
    g.add_argument("--nodes", type=int, default=1, help="nodes per job (more than 1 needs --distributed)")
    g.add_argument("--cpus-per-task", type=int, help="CPU cores per job")
    g.add_argument("--mem-gb", type=float, help="memory per node")
    g.add_argument("--runs-per-job", type=int, default=8, help="most runs one job trains (of one family and size)")
    g.add_argument("--max-parallel", type=int, default=64, help="most jobs of the array running at once")
    g.add_argument("--slurm-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="any other sbatch option, e.g. --slurm-arg account=myproj --slurm-arg qos=high (repeatable)")


def job_options(args: argparse.Namespace) -> JobOptions:
    """The flags of `add_executor_flags`, checked."""
    extra = {}
    for item in args.slurm_arg:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--slurm-arg expects KEY=VALUE, got {item!r}")
        extra[key.strip()] = value.strip()
    if args.runs_per_job < 1 or args.max_parallel < 1 or args.time < 1 or args.nodes < 1:
        raise UserError("--runs-per-job, --max-parallel, --time and --nodes must be positive")
    if args.nodes > 1 and not args.distributed:
        raise UserError("--nodes > 1 needs --distributed (the job's processes join one jax.distributed job)")
    return JobOptions(
        partition=args.partition, time_min=args.time, gpus_per_node=args.gpus_per_node, nodes=args.nodes,
        cpus_per_task=args.cpus_per_task, mem_gb=args.mem_gb, runs_per_job=args.runs_per_job,
        max_parallel=args.max_parallel, slurm_args=extra,
    )


def add_output_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")


def emit(text: str, output: str | Path | None) -> None:
    """`text` to the file named by `-o` (whole, atomically), else to standard output."""
    if output:
        write_text(output, text)
        print(f"archbench: wrote {output}", file=sys.stderr)
    else:
        sys.stdout.write(text)


def suite_name(text: str) -> str:
    """A suite as `sweep` takes it, a name or a path to its .toml, as the name its results are filed under."""
    if text.endswith(".toml") or Path(text).is_file():
        from benchmarks.running.suite import load_suite

        return load_suite(text).name
    return text


def refuse_a_suite_folder(root: Path) -> None:
    """A results folder given as --results-dir that is one suite's own folder is named as such, in one line."""
    if (root / RUNS_FILE).is_file():
        raise UserError(f"{root} is the results folder of one suite ({root.name}: it holds {RUNS_FILE}); "
                        f"pass the folder above it: --results-dir {root.parent} {root.name}")


def results_suite(text: str, results_dir: str | Path) -> str:
    """The name of the suite whose results `results_dir` holds, given as `sweep` takes it.

    Refuses in one line a suite that has no results there, suggesting a close name, and a
    results folder that is itself one suite's folder."""
    from benchmarks.running.store import suites_in

    name = suite_name(text)
    root = Path(results_dir)
    if (root / name / RUNS_FILE).is_file():
        return name
    refuse_a_suite_folder(root)
    found = suites_in(root)
    raise UserError(f"no results for suite {name!r} in {root}{did_you_mean(name, found)} "
                    f"(suites there: {', '.join(found) or 'none'}; `archbench sweep {text} --results-dir {root}` "
                    "trains them)")


def tracked_by_git(folder: str | Path) -> bool:
    """Whether git tracks any file under `folder` (False where git or a repository is missing)."""
    folder = Path(folder)
    if not folder.is_dir():
        return False
    try:
        out = subprocess.run(["git", "ls-files", "--", "."], cwd=folder, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and bool(out.stdout.strip())
