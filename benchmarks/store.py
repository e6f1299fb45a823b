"""The results store: one append-only JSONL file of RunRecords per suite.

`results/<suite>/runs.jsonl` holds one RunRecord per line. Lines are only ever
appended, each with a single `write` of the whole line followed by fsync, under
an exclusive file lock, so concurrent writers never interleave and a kill leaves
at worst one torn last line, which readers report once and skip.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.spec import RunRecord, UserError

RUNS_FILE = "runs.jsonl"


class ResultsStore:
    """Records of one suite under `results_dir/<suite>/`."""

    def __init__(self, results_dir: str | Path, suite: str):
        self.dir = Path(results_dir) / suite
        self.path = self.dir / RUNS_FILE
        self.suite = suite
        self._warned: set[int] = set()

    def ensure_writable(self) -> None:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            probe = self.dir / f".probe-{os.getpid()}"
            probe.write_text("")
            probe.unlink()
        except OSError as e:
            raise UserError(f"results folder {self.dir} is not writable: {e.strerror}") from e

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive lock over the store (appends, claims)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def append(self, record: RunRecord) -> None:
        line = (record.to_json() + "\n").encode()
        with self.locked():
            self._repair_torn_tail()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)

    def _repair_torn_tail(self) -> None:
        """A line without its newline was torn by a kill: end it so the next record starts clean."""
        if self.path.exists() and self.path.stat().st_size > 0:
            with open(self.path, "rb+") as f:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    f.write(b"\n")

    def records(self) -> list[RunRecord]:
        """Every valid record, in file order; torn or corrupt lines are reported once and skipped."""
        if not self.path.exists():
            return []
        out: list[RunRecord] = []
        with open(self.path, "rb") as f:
            for lineno, raw in enumerate(f, start=1):
                if not raw.strip():
                    continue
                try:
                    out.append(RunRecord.from_dict(json.loads(raw)))
                except (json.JSONDecodeError, UnicodeDecodeError, TypeError, KeyError):
                    if lineno not in self._warned:
                        self._warned.add(lineno)
                        print(f"archbench: warning: {self.path}:{lineno} is not a valid record (torn by a kill?); "
                              "ignoring it", file=sys.stderr)
        return out

    def done_ids(self) -> set[str]:
        return {r.run_id for r in self.records()}


def suites_in(results_dir: str | Path) -> list[str]:
    """Suites that have a results file under `results_dir`."""
    root = Path(results_dir)
    return sorted(p.parent.name for p in root.glob(f"*/{RUNS_FILE}")) if root.exists() else []
