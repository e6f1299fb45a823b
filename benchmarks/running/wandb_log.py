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

`read_offline_run` reads an offline run folder back (config, history, summary) with W&B's own
protobuf schema (`wandb.proto.wandb_internal_pb2`); the `.wandb` file is a LevelDB-format log of
those records.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
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


# -- reading an offline run back --------------------------------------------------------------

_BLOCK = 32768
_HEADER = struct.Struct("<4sHB")  # ident ":W&B", magic 0xBEE1, version 0
_CHUNK = struct.Struct("<IHB")  # crc32 of type+data, length, type (1 full, 2 first, 3 middle, 4 last)


def _chunks(data: bytes) -> Iterator[bytes]:
    ident, magic, _ = _HEADER.unpack_from(data)
    if ident != b":W&B" or magic != 0xBEE1:
        raise ValueError("not a W&B transaction log")
    pos, pending = _HEADER.size, b""
    while pos + _CHUNK.size <= len(data):
        room = _BLOCK - pos % _BLOCK
        if room < _CHUNK.size:  # block trailer
            pos += room
            continue
        crc, length, kind = _CHUNK.unpack_from(data, pos)
        if kind == 0 and length == 0:
            pos += room
            continue
        body = data[pos + _CHUNK.size : pos + _CHUNK.size + length]
        if len(body) < length:  # the writer is still at it
            return
        if zlib.crc32(body, zlib.crc32(bytes([kind]))) != crc:
            raise ValueError(f"checksum mismatch at byte {pos}")
        pos += _CHUNK.size + length
        if kind == 1:
            yield body
        elif kind == 2:
            pending = body
        elif kind == 3:
            pending += body
        elif kind == 4:
            yield pending + body


@dataclass
class OfflineRun:
    """What an offline W&B run folder holds."""

    name: str = ""
    group: str = ""
    project: str = ""
    job_type: str = ""
    config: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)  # one dict per logged row
    summary: dict = field(default_factory=dict)
    finished: bool = False


def _items(items) -> dict:
    """W&B key/value items as a dict; a nested key (a logged dict, e.g. a Table's reference) becomes nested dicts."""
    out: dict = {}
    for item in items:
        keys = list(item.nested_key) or [item.key]
        node = out
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = json.loads(item.value_json)
    return out


def _merge(into: dict, update: dict) -> None:
    for k, v in update.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = v


def read_offline_run(run_dir: str | Path, wait_s: float = 10.0) -> OfflineRun:
    """Read an offline run folder (`.../wandb/offline-run-*`) back from its `.wandb` log.

    `run.finish()` returns before W&B's service has written the last records, so this waits up to
    `wait_s` for the run's exit record (and returns what is there after that)."""
    deadline = time.monotonic() + wait_s
    while True:
        run = _read_log(Path(run_dir))
        if run.finished or time.monotonic() > deadline:
            return run
        time.sleep(0.05)


def _read_log(run_dir: Path) -> OfflineRun:
    from wandb.proto import wandb_internal_pb2 as pb

    (log,) = run_dir.glob("run-*.wandb")
    out = OfflineRun()
    for chunk in _chunks(log.read_bytes()):
        rec = pb.Record()
        rec.ParseFromString(chunk)
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            r = rec.run
            out.name, out.group, out.project, out.job_type = r.display_name, r.run_group, r.project, r.job_type
            _merge(out.config, _items(r.config.update))
        elif kind == "config":
            _merge(out.config, _items(rec.config.update))
        elif kind == "history":
            out.history.append(_items(rec.history.item))
        elif kind == "summary":
            _merge(out.summary, _items(rec.summary.update))
        elif kind == "exit":
            out.finished = True
    return out
