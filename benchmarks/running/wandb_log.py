"""Weights & Biases logging of runs and reports (optional; `disabled` by default).

Modes, chosen with `--wandb` on `run` and `sweep` (or `[logging] wandb = ...` in a suite file;
the flag wins):
- `disabled` (default): nothing is imported, nothing is written, no network.
- `offline`: every run is written under `RESULTS_DIR/SUITE/wandb/`; no network, no account.
  Upload later with `wandb sync RESULTS_DIR/SUITE/wandb/offline-run-*`.
- `online`: streamed to the W&B server. With no API key, or no route to the server, the logger
  says so in one line and falls back to `offline` (training never waits on the network; a
  sweep is not lost for want of a login). The reachability probe is bounded to a few seconds.

Each RunRecord becomes one W&B run in group SUITE (job type `run`), logged once the record is
stored: config (the RunSpec, run_id, solved shape, chosen lr, environment), per-seed learning
curves as history against the training step (`seed0/test_loss`, ..., and the mean over seeds
`mean/test_loss`), and a summary of final metrics, status, parameter count and FLOPs per example.
`log_report` logs a report's tables (wandb.Table) and plots (wandb.Image) as one more run of the
group (job type `report`). A logging failure is reported once and never stops a sweep.

A record is in the results store before it is logged, so a kill can come in between: each
logged run_id goes to `wandb/logged.txt` once its W&B run is finished, and a sweep starts by
logging (`catch_up`) the suite's records missing there, removing the half-written offline run
a kill left. The same catches up a suite swept before wandb was turned on.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.layout import WANDB_DIR, WANDB_LEDGER, WANDB_PENDING_DIR, slug, suite_dir
from benchmarks.spec import RunRecord, UserError

if TYPE_CHECKING:
    import pandas as pd

MODES = ("online", "offline", "disabled")
PROJECT = "archbench"
PROBE_TIMEOUT_S = 5.0
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp"}


def resolve_mode(flag: str | None, suite_setting: str | None = None) -> str:
    """The flag if given, else the suite's setting, else `disabled`."""
    mode = flag or suite_setting or "disabled"
    if mode not in MODES:
        raise UserError(f"unknown wandb mode {mode!r} (accepted: {', '.join(MODES)})")
    return mode


def _warn(message: str) -> None:
    print(f"archbench: warning: {message}", file=sys.stderr)


def _import_wandb():
    os.environ.setdefault("WANDB_SILENT", "true")
    import wandb

    return wandb


def _settings(wandb):
    return wandb.Settings(
        silent=True, console="off", x_disable_stats=True, x_save_requirements=False, disable_git=True,
        save_code=False, init_timeout=30.0,
    )


def _unreachable(wandb) -> str | None:
    """Why the W&B server cannot be used now (no API key, no route), or None. Bounded by PROBE_TIMEOUT_S."""
    import socket
    from urllib.parse import urlparse

    url = urlparse(_settings(wandb).base_url)
    host, port = url.hostname or "", url.port or (443 if url.scheme == "https" else 80)
    result: list[str | None] = ["timed out"]

    def probe() -> None:  # getaddrinfo has no timeout of its own, hence the thread
        try:
            socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S).close()
            result[0] = None
        except OSError as e:
            result[0] = e.strerror or type(e).__name__

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(PROBE_TIMEOUT_S)
    return f"cannot reach {host}: {result[0]}" if result[0] else None


class WandbLogger:
    """Logs records (and reports) of one suite; a no-op when disabled."""

    def __init__(self, mode: str, results_dir: str | Path, suite: str, project: str = PROJECT):
        self.mode = resolve_mode(mode)
        self.dir = suite_dir(results_dir, suite)  # wandb.init(dir=...) writes into dir/wandb/
        self.suite = suite
        self.project = project
        self.failed = False
        self.run_dirs: list[Path] = []  # local folder of every run logged

    @property
    def enabled(self) -> bool:
        return self.mode != "disabled" and not self.failed

    @property
    def wandb_dir(self) -> Path:
        return self.dir / WANDB_DIR

    def _go_offline(self, why: str) -> None:
        self.mode = "offline"
        _warn(f"wandb online unavailable ({why}); logging offline to {self.wandb_dir}, "
              f"upload later with: wandb sync {self.wandb_dir}/offline-run-*")

    def _init(self, wandb, **kwargs):
        self.wandb_dir.mkdir(parents=True, exist_ok=True)
        if self.mode == "online":
            why = _unreachable(wandb)
            if why:
                self._go_offline(why)
        try:
            run = wandb.init(
                mode=self.mode, project=self.project, group=self.suite, dir=str(self.dir),
                settings=_settings(wandb), reinit="finish_previous", **kwargs,
            )
        except (wandb.errors.UsageError, wandb.errors.CommError) as e:
            if self.mode != "online":
                raise
            self._go_offline(str(e).splitlines()[0])
            run = wandb.init(
                mode=self.mode, project=self.project, group=self.suite, dir=str(self.dir),
                settings=_settings(wandb), reinit="finish_previous", **kwargs,
            )
        self.run_dirs.append(Path(run.dir).parent)
        return run

    def _guard(self, what: str, fn) -> Path | None:
        if not self.enabled:
            return None
        try:
            return fn(_import_wandb())
        except Exception as e:  # logging is a side channel: never let it stop the sweep
            self.failed = True
            _warn(f"wandb logging stopped ({what}: {type(e).__name__}: {' '.join(str(e).split())[:200]})")
            return None

    def log_record(self, record: RunRecord) -> Path | None:
        """One W&B run for one RunRecord; returns its local folder (None when disabled)."""
        return self._guard(f"run {record.run_id}", lambda wandb: self._log_record(wandb, record))

    def _log_record(self, wandb, record: RunRecord) -> Path:
        s = record.spec
        config = {
            **s.to_dict(), "run_id": record.run_id, "shape": record.shape, "chosen_lr": record.lr,
            "data_version": record.data_version, "env": record.env,
        }
        run = self._init(
            wandb, name=f"{s.arch}-{s.target_params}p-{s.data_size}n-{record.run_id[:6]}", job_type="run",
            config=config, tags=[s.arch, slug(s.dataset), record.status],
        )
        folder = Path(run.dir).parent
        pending = self.wandb_dir / WANDB_PENDING_DIR / record.run_id
        pending.parent.mkdir(exist_ok=True)
        pending.write_text(str(folder))  # a kill before the ledger line leaves this: catch_up redoes the run
        for step, row in curve_rows(record):
            run.log(row, step=step)
        run.summary.update(summary_of(record))
        run.finish()
        with open(self.wandb_dir / WANDB_LEDGER, "a") as f:
            f.write(record.run_id + "\n")
            os.fsync(f.fileno())
        pending.unlink()
        return folder

    def logged_ids(self) -> set[str]:
        """run_ids whose W&B run was logged completely (from this results folder)."""
        ledger = self.wandb_dir / WANDB_LEDGER
        return set(ledger.read_text().split()) if ledger.exists() else set()

    def catch_up(self, records: list[RunRecord]) -> int:
        """Log records that are stored but not (completely) logged: a kill between a record and its
        W&B run, or a suite swept before wandb was turned on. Returns how many were logged."""
        if not self.enabled or not records:
            return 0
        import fcntl

        self.wandb_dir.mkdir(parents=True, exist_ok=True)
        with open(self.wandb_dir / ".catch-up.lock", "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return 0  # another process is catching up this suite
            for pending in (self.wandb_dir / WANDB_PENDING_DIR).glob("*"):
                partial = Path(pending.read_text().strip())
                if partial.name.startswith("offline-run-") and partial.parent == self.wandb_dir:
                    shutil.rmtree(partial, ignore_errors=True)  # half-logged by a killed process
                pending.unlink()
            done = self.logged_ids()
            logged = 0
            for record in (r for r in records if r.run_id not in done):
                if self.log_record(record) is None:
                    break
                logged += 1
            return logged

    def log_report(self, files: list[Path], tables: dict[str, pd.DataFrame]) -> Path | None:
        return self._guard("report", lambda wandb: self._log_report(wandb, files, tables))

    def _log_report(self, wandb, files: list[Path], tables: dict[str, pd.DataFrame]) -> Path:
        run = self._init(wandb, name=f"{self.suite}-report", job_type="report", config={"suite": self.suite})
        logged: dict = {f"tables/{name}": wandb.Table(dataframe=df.reset_index(drop=True)) for name, df in tables.items()}
        saved = Path(run.dir) / "report"
        for path in map(Path, files):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                logged[f"plots/{path.stem}"] = wandb.Image(str(path), caption=path.name)
            else:  # copied (not linked) so `wandb sync` finds it after the report folder changes
                saved.mkdir(exist_ok=True)
                shutil.copy2(path, saved / path.name)
                run.save(str(saved / path.name), base_path=run.dir, policy="now")
        if logged:
            run.log(logged)
        run.finish()
        return Path(run.dir).parent


def curve_rows(record: RunRecord) -> Iterator[tuple[int, dict[str, float]]]:
    """History rows of a record: per-seed and mean learning curves, one row per evaluation step."""
    c = record.curves
    if c is None:
        return
    for j, step in enumerate(c.step):
        row: dict[str, float] = {"step": step}
        for metric in ("train_loss", "test_loss", "test_acc"):
            values = [v[j] for v in getattr(c, metric)]
            for seed, v in zip((r.seed for r in record.seeds), values):
                if v is not None:
                    row[f"seed{seed}/{metric}"] = v
            finite = [v for v in values if v is not None]
            if finite and len(finite) == len(values):
                row[f"mean/{metric}"] = sum(finite) / len(finite)
        yield step, row


def summary_of(record: RunRecord) -> dict:
    """Final metrics and cost of a record, as the W&B run summary."""
    out: dict = {
        "status": record.status, "reason": record.reason, "params": record.params,
        "flops_per_example": record.flops_per_example, "lr": record.lr, "wall_s": record.wall_s,
        "steps_per_s": record.steps_per_s, "run_id": record.run_id,
    }
    for r in record.seeds:
        for metric in ("train_loss", "val_loss", "val_acc", "test_loss", "test_acc", "diverged_step"):
            value = getattr(r, metric)
            if value is not None:
                out[f"seed{r.seed}/{metric}"] = value
    for metric in ("test_loss", "test_acc", "val_loss"):
        values = [getattr(r, metric) for r in record.seeds]
        if values and all(v is not None for v in values):
            out[f"final/{metric}"] = sum(values) / len(values)
    return out


def log_report(
    results_dir: str | Path, suite: str, mode: str, files: list[Path], tables: dict[str, pd.DataFrame]
) -> Path | None:
    """Log a report's tables (wandb.Table) and plots (wandb.Image; other files saved as run files) as
    one W&B run in the suite's group. Returns the local run folder, None when disabled or on failure."""
    return WandbLogger(mode, results_dir, suite).log_report(files, tables)
