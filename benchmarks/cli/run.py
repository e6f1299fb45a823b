"""`archbench run` and `archbench sweep`: train one RunSpec, or a whole suite."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

import architectures
from benchmarks import data
from benchmarks.cli import sweep_workers
from benchmarks.cli.flags import add_device_flags, add_executor_flags, job_options, setup_devices
from benchmarks.layout import DEFAULT_EVERY_S, JOBS_DIR
from benchmarks.running.lr_search import SEARCHES, LrPolicy
from benchmarks.running.store import Owner, ResultsStore
from benchmarks.running.wandb_log import MODES, WandbLogger, resolve_mode
from benchmarks.spec import SCORED_AT, RunRecord, RunSpec, UserError

if TYPE_CHECKING:
    from benchmarks.running.runner import RunOptions
    from benchmarks.running.suite import Suite
    from benchmarks.running.sweep import SweepPlan

console = Console(stderr=True)


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from e


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from e


def _count(text: str) -> int:
    from benchmarks.running.sizing import parse_count

    try:
        return parse_count(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def summary_line(record: RunRecord) -> str:
    s = record.spec
    accs = [r.test_acc for r in record.seeds if r.test_acc is not None]
    losses = [r.test_loss for r in record.seeds if r.test_loss is not None]
    what = f"{s.arch:<12} {record.params:>9,} params  {s.data_size:>6} ex  {s.dataset}"
    if record.status == "failed":
        return f"{what}  FAILED: {record.reason}"
    metric = (
        f"test loss {sum(losses) / len(losses):.3f}  acc {100 * sum(accs) / len(accs):.1f}%"
        if losses else "no finite metric"
    )
    extra = f"  [{record.status}: {record.reason}]" if record.status != "ok" else ""
    return f"{what}  {metric}  (lr {record.lr:g}, {len(record.seeds)} seeds, {record.wall_s:.1f}s){extra}"


def outcome_line(record: RunRecord, path: object) -> str:
    """Whether the run converged, the step each seed is scored at, and where its record went."""
    if record.converged is None:
        converged = "convergence not judged"
    elif record.converged:
        converged = "converged (every seed)"
    else:
        still = [str(r.seed) for r in record.seeds if r.converged is False]
        converged = f"not converged (seed {', '.join(still)} still improving: more steps would lower its loss)"
    best = ", ".join(str(r.best_step) for r in record.seeds if r.best_step is not None) or "-"
    return f"{converged}; best step {best} of {record.spec.steps}; record {record.run_id} in {path}"


DEFAULT_DATASET, DEFAULT_PARAMS, DEFAULT_DATA_SIZE = "mnist1d", 30_000, 4000  # `run` without --like
# The flags of `run` that --like takes from the suite instead: refused beside it, never silently dropped.
PROTOCOL_FLAGS = ("seeds", "steps", "batch_size", "lr", "lr_trials", "lr_extend", "lr_tune_seeds", "lr_search", "lr_rung",
                  "lr_keep", "weight_decay",
                  "warmup_frac", "eval_every", "precision", "scored_at")


def like_suite(args: argparse.Namespace) -> RunSpec:
    """`run --like SUITE`: one cell under the suite's protocol (budget, early stop, rate search, seeds).

    The dataset, size and data size default to the suite's first; the family need not be in the suite."""
    import dataclasses

    from benchmarks.running.suite import load_suite

    given = [f"--{k.replace('_', '-')}" for k in PROTOCOL_FLAGS if getattr(args, k) != args.protocol_defaults[k]]
    if given:
        raise UserError(f"{', '.join(given)}: --like {args.like} takes the protocol from the suite; "
                        f"drop {'it' if len(given) == 1 else 'them'}, or leave out --like")
    suite = load_suite(args.like)
    if suite.regime != "finite":
        raise UserError(f"--like {args.like}: an {suite.regime} suite trains one run per budget; "
                        f"use `archbench sweep {args.like}`")
    cell = dataclasses.replace(
        suite, architectures=(args.arch,), sizes=(), quality=(),
        datasets=(args.dataset or suite.datasets[0],), target_params=(args.params or min(suite.all_target_params()),),
        data_sizes=(args.data_size or min(suite.data_sizes),),
    )
    (spec,) = cell.run_specs()
    return dataclasses.replace(spec, suite=args.suite)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=console, transient=False,
    )


def run_options(args: argparse.Namespace) -> RunOptions:
    """How this process trains its runs: `--shard-params`, `--checkpoint-every-s`."""
    from benchmarks.running.runner import RunOptions

    if args.checkpoint_every_s < 0:
        raise UserError(f"--checkpoint-every-s must be 0 (every interval) or more seconds, got {args.checkpoint_every_s:g}")
    return RunOptions(shard_params=args.shard_params, checkpoint_every_s=args.checkpoint_every_s)


def _setup(args: argparse.Namespace) -> bool:
    """Devices, processes and cache first; then only process 0 of a multi-host job talks. True on process 0."""
    from benchmarks.running import distributed

    setup_devices(args)
    main = distributed.is_main_process()
    console.quiet = not main
    return main


def _wandb_mode(args: argparse.Namespace, suite_setting: str | None = None) -> str:
    from benchmarks.running import distributed

    return resolve_mode(args.wandb, suite_setting) if distributed.is_main_process() else "disabled"


def cmd_run(args: argparse.Namespace) -> int:
    from benchmarks.running import sweep

    main = _setup(args)
    spec = like_suite(args) if args.like else RunSpec(
        arch=architectures.canonical(args.arch), **data.spec_fields(args.dataset or DEFAULT_DATASET),
        target_params=args.params or DEFAULT_PARAMS, data_size=args.data_size or DEFAULT_DATA_SIZE,
        seeds=args.seeds, steps=args.steps, batch_size=args.batch_size,
        **LrPolicy(value=args.lr, trials=args.lr_trials, extend=args.lr_extend, tune_seeds=args.lr_tune_seeds,
                   search=args.lr_search, rung=args.lr_rung, keep=args.lr_keep).spec_fields(),
        weight_decay=args.weight_decay, warmup_frac=args.warmup_frac, eval_every=args.eval_every,
        precision=args.precision, scored_at=args.scored_at, suite=args.suite,
    )
    options = run_options(args)
    logger = WandbLogger(_wandb_mode(args), args.results_dir, args.suite)
    store = ResultsStore(args.results_dir, args.suite)
    sweep.check([spec])  # all input checked before anything is written
    store.records()  # a damaged results file is refused before anything is written
    store.ensure_writable()
    progress = _progress()
    bar = progress.add_task(sweep.describe(spec), total=spec.steps // spec.eval_every)
    try:
        attempt = sweep.claim_and_train(
            spec, store, options, force=args.force, on_start=lambda _: progress.start(),
            on_progress=lambda done, total: progress.update(bar, completed=done, total=total),
        )
    finally:
        if progress.live.is_started:  # started only when the run trains
            progress.stop()
    if attempt.outcome == "held":
        raise UserError(f"run {attempt.run_id} is being trained right now by {attempt.owner}; "
                        f"its record will appear in {store.path}")
    if attempt.outcome == "recorded":
        record = [r for r in store.records() if r.run_id == attempt.run_id][-1]
        console.print(f"already recorded as {attempt.run_id} in {store.path} (use --force to train again)")
        logger.catch_up([record])
    else:
        record = attempt.record
        if main:
            store.tidy()
        logger.log_record(record)
    console.print(summary_line(record))
    console.print(outcome_line(record, store.path), highlight=False, soft_wrap=True)
    if args.json and main:
        print(record.to_json())
    return 0 if record.status != "failed" else 1


def cmd_sweep(args: argparse.Namespace) -> int:
    if args.executor != "local":  # the submitting host joins no job: each job sets itself up (executors.run_group)
        return _submit_sweep(args)
    from benchmarks.running import sweep
    from benchmarks.running.suite import save_contrasts

    main = _setup(args)
    options = run_options(args)
    sweep_workers.requested(args)  # a bad --workers is refused before anything is written
    suite, store, plan, logger = _plan(args, "to train")
    if main:
        save_contrasts(suite, args.results_dir)
    n_workers = sweep_workers.count(args, len(plan.todo))
    ids = {sweep.run_id(s) for s in plan.specs}
    if logger.enabled and (caught := logger.catch_up([r for r in store.records() if r.run_id in ids])):
        console.print(f"wandb: logged {caught} recorded runs that were not logged yet")
    with _progress() as progress:
        overall = progress.add_task(f"sweep {suite.name}", total=len(plan.specs), completed=plan.skipped)
        current = progress.add_task("", total=1, visible=False)

        def on_start(spec: RunSpec) -> None:
            progress.update(current, description=sweep.describe(spec), completed=0,
                            total=spec.steps // spec.eval_every, visible=True)

        def on_record(record: RunRecord) -> None:
            progress.advance(overall)
            progress.console.print(summary_line(record))
            logger.log_record(record)

        def on_wait(held: dict[str, Owner | None]) -> None:
            owners = sorted({str(o) for o in held.values()})
            progress.update(current, description=f"waiting for {len(held)} runs held by {'; '.join(owners)}",
                            completed=0, total=1, visible=True)

        failures: list[str] = []
        if n_workers > 1:  # the runs train in worker processes (benchmarks/cli/sweep_workers.py)
            failures = sweep_workers.train_in_workers(args, options, plan, store, n_workers, progress, current, on_record)
        else:
            sweep.run_sweep(
                plan, store, options, on_start,
                lambda done, total: progress.update(current, completed=done, total=total), on_record,
                on_wait=on_wait,
            )
        records = store.records()
        progress.update(overall, completed=len(ids & {r.run_id for r in records}))  # runs other sweeps recorded too
        progress.update(current, visible=False)
    if main:
        _summary(records, ids, store, suite.name, logger)
    return 1 if failures else 0


def _plan(args: argparse.Namespace, todo: str) -> tuple[Suite, ResultsStore, SweepPlan, WandbLogger]:
    """The suite, its store and what to do: all input checked, the results file read, before anything is written."""
    from benchmarks.running import sweep
    from benchmarks.running.suite import load_suite

    suite = load_suite(args.suite)
    logger = WandbLogger(_wandb_mode(args, suite.logging.wandb), args.results_dir, suite.name, suite.logging.project)
    store = ResultsStore(args.results_dir, suite.name, retry_failed=args.retry_failed)
    with console.status(f"checking {suite.name}: datasets, sizes"):
        plan = sweep.plan(suite, store)
    store.ensure_writable()
    console.print(f"suite [bold]{suite.name}[/]: {len(plan.specs)} runs, {plan.skipped} already in {store.path}, "
                  f"{len(plan.todo)} {todo}")
    return suite, store, plan, logger


def _summary(records: list[RunRecord], ids: set[str], store: ResultsStore, suite_name: str, logger: WandbLogger) -> None:
    from benchmarks.analysis.leaderboard import build_leaderboard
    from benchmarks.analysis.leaderboard_formats import summary_markdown

    bad = [r for r in records if r.status != "ok" and r.run_id in ids]
    console.print(f"{len(records)} records in {store.path}" + (f"; {len(bad)} not ok" if bad else ""))
    if logger.run_dirs and logger.mode == "offline":
        console.print(f"wandb: {len(logger.run_dirs)} offline runs in {logger.wandb_dir}; upload with: "
                      f"wandb sync {logger.wandb_dir}/offline-run-*")
    print(summary_markdown(build_leaderboard(records, suite_name)))


def _submit_sweep(args: argparse.Namespace) -> int:
    """`sweep --executor slurm|submitit-local`: the runs to do go out as one job array; follow it to the end."""
    from benchmarks.running import executors, sweep
    from benchmarks.running.suite import save_contrasts

    jobs = job_options(args)
    options = run_options(args)
    suite, store, plan, logger = _plan(args, f"to submit ({args.executor})")
    save_contrasts(suite, args.results_dir)
    devices = max(1, jobs.gpus_per_node) * jobs.nodes
    for spec in plan.specs:
        if spec.batch_size % devices:
            raise UserError(f"batch size {spec.batch_size} does not split evenly over the {devices} GPUs of a job")
    context = executors.JobContext(
        results_dir=str(args.results_dir), suite=suite.name, capacity=sweep.capacities(plan.specs), options=options,
        plugins=tuple(args.plugin), distributed=args.distributed, compile_cache=not args.no_compile_cache,
        retry_failed=store.retry_failed,
    )

    def on_submit(n_jobs: int, job_id: str) -> None:
        console.print(f"submitted {n_jobs} jobs (array {job_id}); logs in {store.dir / JOBS_DIR}; "
                      "Ctrl-C stops following them, not the jobs")

    def on_record(record: RunRecord) -> None:
        console.print(summary_line(record))
        logger.log_record(record)

    failures = executors.submit_sweep(args.executor, plan.todo, store, context, jobs, on_submit, on_record,
                                      wait=not args.no_wait)
    for line in failures:
        console.print(f"[red]{line}[/]")
    if args.no_wait:
        return 0
    ids = {sweep.run_id(s) for s in plan.specs}
    _summary(store.records(), ids, store, suite.name, logger)
    return 1 if failures else 0


def _add_reliability_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--wandb", choices=MODES, default=None,
        help="log runs to Weights & Biases: offline writes RESULTS_DIR/SUITE/wandb/ (upload later with `wandb sync`), "
        "online streams (falls back to offline, with a warning, when no API key or no network); "
        "default: the suite's [logging] wandb, else disabled",
    )
    p.add_argument(
        "--checkpoint-every-s", type=float, default=DEFAULT_EVERY_S, metavar="SECONDS",
        help="save a run's state at the first evaluation interval after this many seconds, under "
        "RESULTS_DIR/SUITE/checkpoints/RUN_ID/, so a killed run resumes there (0: every interval)",
    )


def add_command(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    fmt = argparse.ArgumentDefaultsHelpFormatter
    p = sub.add_parser(
        "run", parents=[common], formatter_class=fmt, help="train one architecture at one size on one dataset",
        description="Train one RunSpec (several seeds at once) and append its record to RESULTS_DIR/SUITE/runs.jsonl.",
    )
    p.add_argument("--arch", required=True, help="architecture family, options allowed: convnet?head=dense "
                   "(see `archbench archs`)")
    p.add_argument("--like", metavar="SUITE", default=None,
                   help="train under this suite's protocol (its budget, early stop, rate search and seeds; a name or "
                   "a .toml), so the record stands beside the suite's; the protocol flags below are then refused")
    p.add_argument("--dataset", default=None, help=f"dataset name (see `archbench datasets`; default: "
                   f"{DEFAULT_DATASET}, with --like the suite's first)")
    p.add_argument("--params", type=_count, default=None, help=f"target parameter count, e.g. 30k, 1.5M (default: "
                   f"{DEFAULT_PARAMS // 1000}k, with --like the suite's smallest)")
    p.add_argument("--data-size", type=int, default=None, help="training examples, a prefix of the training pool "
                   f"(default: {DEFAULT_DATA_SIZE}, with --like the suite's smallest)")
    p.add_argument("--seeds", type=_ints, default="0,1", help="comma-separated seeds, trained together")
    p.add_argument("--steps", type=int, default=1000, help="optimizer steps")
    p.add_argument("--batch-size", type=int, default=128, help="examples per optimizer step")
    p.add_argument("--lr", type=float, default=LrPolicy.value, help="peak learning rate (when --lr-trials is not given)")
    p.add_argument("--lr-trials", type=_floats, default=(), help="comma-separated rates; the best on validation loss is kept")
    p.add_argument("--lr-extend", type=int, default=LrPolicy.extend,
                   help="trials added after --lr-trials: outward from an edge holding the best, else refining it")
    p.add_argument("--lr-tune-seeds", type=int, default=LrPolicy.tune_seeds,
                   help="how many of the seeds (the first) try every rate; the others train at the chosen one (0: all)")
    p.add_argument("--lr-search", choices=SEARCHES, default=LrPolicy.search,
                   help="grid: every trial trains the whole budget; halving: every trial to the rung, the --lr-keep best "
                        "there on to the end (docs/protocol.md)")
    p.add_argument("--lr-rung", type=float, default=LrPolicy.rung,
                   help="halving: the fraction of the budget at which the trials are compared")
    p.add_argument("--lr-keep", type=int, default=LrPolicy.keep, help="halving: how many trials train on from the rung")
    p.add_argument("--weight-decay", type=float, default=1e-4, help="AdamW's decoupled weight decay")
    p.add_argument("--warmup-frac", type=float, default=0.05, help="fraction of steps of linear warm-up before cosine decay")
    p.add_argument("--eval-every", type=int, default=100, help="steps between held-out evaluations")
    p.add_argument("--precision", choices=["float32", "bfloat16"], default="float32", help="compute dtype")
    p.add_argument("--scored-at", choices=SCORED_AT, default="best_val_loss",
                   help="evaluation each seed is scored at: the lowest validation loss, or the last step (a paper's rule)")
    p.add_argument("--suite", default="adhoc", help="results go to RESULTS_DIR/SUITE/runs.jsonl")
    p.add_argument("--force", action="store_true", help="train again even if this exact run is recorded")
    p.add_argument("--json", action="store_true", help="print the record written as one JSON line on stdout")
    _add_reliability_flags(p)
    add_device_flags(p)
    actions = {a.dest: a for a in p._actions}
    typed = {k: actions[k].type(actions[k].default) if isinstance(actions[k].default, str) and actions[k].type
             else actions[k].default for k in PROTOCOL_FLAGS}  # as parsed when the flag is not given
    p.set_defaults(func=cmd_run, protocol_defaults=typed)

    p = sub.add_parser(
        "sweep", parents=[common], formatter_class=fmt, help="run every RunSpec of a suite, skipping recorded ones",
        description="Expand a suite (a name in benchmarks/suites/ or a path to a TOML file) into runs and train the "
        "ones not yet in RESULTS_DIR/SUITE/runs.jsonl. Safe to kill at any moment: run it again to resume (a run in "
        "progress resumes from its last checkpoint). Several sweeps on one results folder share the work.",
    )
    p.add_argument("suite", help="suite name (e.g. quick) or path to a suite .toml")
    p.add_argument("--no-wait", action="store_true", help="with a submitit executor: submit and return at once")
    p.add_argument("--retry-failed", action="store_true",
                   help="train again the runs recorded `failed`; a retried run's new record supersedes the failed one "
                   "(runs.jsonl is only appended to)")
    sweep_workers.add_workers_flag(p)
    _add_reliability_flags(p)
    add_device_flags(p)
    add_executor_flags(p)
    p.set_defaults(func=cmd_sweep)


