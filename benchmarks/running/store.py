"""The results store: one append-only JSONL file of RunRecords per suite, and claims on runs.

`results/<suite>/runs.jsonl` holds one RunRecord per line. Lines are only ever appended, each
with a single `write` of the whole line followed by fsync, under an exclusive file lock, so
concurrent writers never interleave and a kill leaves at worst one torn last line.

Reading is strict about the middle and lenient about the end:
- a torn last line (no newline: a writer killed mid-write) is reported once and ignored; the
  next append moves its bytes to `runs.jsonl.torn` and cuts it off, so it never becomes a
  line in the middle;
- any other line that is not a valid record is damage (an edit, a disk error): reading
  refuses with a UserError naming file:line, because guessing would drop or double a run.

Claims let several sweeps share one results folder. Before training a run, a process creates
`claims/<run_id>.json` with O_EXCL under the store lock, holding its pid, host and process start
time; it touches the file after every evaluation interval and removes it in the same locked
step that appends the record. Another process skips a run claimed by a live owner and comes back
to it later. A claim is stale, and may be taken over, when its owner's pid is dead on this host
(or was reused by another process), or when it has not been touched for `CLAIM_LEASE_S` seconds
(the only test possible for an owner on another host). Appends from sweeps go through
`append_new`, which drops a record whose run_id is already stored, so even a taken-over claim
whose first owner wakes up cannot duplicate a run.

A `failed` record is final for a sweep, unless it is asked to retry failed runs
(`ResultsStore(..., retry_failed=True)`, `archbench sweep --retry-failed`): then a run whose record
is failed is trained again, and its new record is appended. The file is never rewritten, so the
failed line stays; readers (`records`, and through it every report) see only the latest record of a
run_id where the earlier ones are failed (`current`): a retry supersedes a failure, never a result.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.layout import CHECKPOINTS_DIR, CLAIMS_DIR, LOCK_FILE, RUNS_FILE, TORN_FILE, suite_dir
from benchmarks.spec import RunRecord, UserError

CLAIM_LEASE_S = float(os.environ.get("ARCHBENCH_CLAIM_LEASE_S", 3600))

_warned: set[tuple[str, int]] = set()  # (file, offset) of torn tails already reported by this process


def _decode(raw: bytes) -> RunRecord:
    return RunRecord.from_dict(json.loads(raw))


def _process_start(pid: int) -> str:
    """Start time of a process (clock ticks since boot, from /proc), to tell a reused pid apart; '' if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _pid_alive(pid: int) -> bool:
    """Whether a process runs (a zombie, killed but not yet reaped by its parent, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


@dataclass(frozen=True)
class Owner:
    """Who holds a claim."""

    pid: int
    host: str
    pid_start: str
    claimed_at: str

    @classmethod
    def me(cls) -> Owner:
        now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        return cls(os.getpid(), socket.gethostname(), _process_start(os.getpid()), now)

    def is_me(self) -> bool:
        me = Owner.me()
        return (self.pid, self.host, self.pid_start) == (me.pid, me.host, me.pid_start)

    def alive(self) -> bool:
        """Whether the owner may still be running (always True for another host: only the lease tells)."""
        if self.host != socket.gethostname():
            return True
        if not _pid_alive(self.pid):
            return False
        start = _process_start(self.pid)
        return not (start and self.pid_start and start != self.pid_start)

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host} (since {self.claimed_at})"


@dataclass
class Claim:
    """This process's claim on one run; `heartbeat` after each interval, `release` when done."""

    path: Path
    owner: Owner

    def heartbeat(self) -> None:
        try:
            os.utime(self.path)
        except OSError:
            pass  # removed by a process that judged it stale: the record's append_new still guards

    def release(self) -> None:
        """Remove the claim if it is still ours."""
        try:
            if Owner(**json.loads(self.path.read_text())) == self.owner:
                self.path.unlink()
        except (OSError, ValueError, TypeError):
            pass


def current(records: Iterable[RunRecord]) -> list[RunRecord]:
    """The records in file order, less each `failed` one that a later record of its run_id supersedes (a retry)."""
    records = list(records)
    last = {r.run_id: i for i, r in enumerate(records)}
    return [r for i, r in enumerate(records) if r.status != "failed" or last[r.run_id] == i]


def recorded_ids(records: Iterable[RunRecord], *, failed: bool = True) -> set[str]:
    """Run_ids with a record (`current` ones), counting those whose record is failed only with `failed`."""
    return {r.run_id for r in current(records) if failed or r.status != "failed"}


class ResultsStore:
    """Records of one suite under `results_dir/<suite>/`; with `retry_failed`, runs recorded failed count as to do."""

    def __init__(self, results_dir: str | Path, suite: str, *, retry_failed: bool = False):
        self.dir = suite_dir(results_dir, suite)
        self.path = self.dir / RUNS_FILE
        self.suite = suite
        self.retry_failed = retry_failed

    def ensure_writable(self) -> None:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            probe = self.dir / f".probe-{os.getpid()}"
            probe.write_text("")
            probe.unlink()
        except OSError as e:
            raise UserError(
                f"results folder {self.dir} is not writable ({e.strerror}); pass --results-dir a folder you can write to"
            ) from e

    @contextmanager
    def locked(self, shared: bool = False) -> Iterator[None]:
        """Lock over the store: exclusive for appends and claims, shared for reads.

        A reader that cannot create the lock file (a read-only folder has no writers either) reads unlocked.
        """
        try:
            if shared and not self.dir.is_dir():
                raise OSError
            self.dir.mkdir(parents=True, exist_ok=True)
            lock = open(self.dir / LOCK_FILE, "a")
        except OSError:
            if not shared:
                raise
            yield
            return
        with lock:
            fcntl.flock(lock, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def append(self, record: RunRecord, claim: Claim | None = None) -> None:
        """Append one record (even if its run_id is stored already: `run --force`); release `claim` with it."""
        with self.locked():
            self._write(record)
            if claim is not None:
                claim.release()

    def append_new(self, record: RunRecord, claim: Claim | None = None) -> bool:
        """Append a record unless its run_id is stored already (failed, unless retrying); release `claim` with it."""
        with self.locked():
            fresh = record.run_id not in recorded_ids(self._read(), failed=not self.retry_failed)
            if fresh:
                self._write(record)
            if claim is not None:
                claim.release()
        return fresh

    def _write(self, record: RunRecord) -> None:
        line = (record.to_json() + "\n").encode()
        self._repair_torn_tail()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def _repair_torn_tail(self) -> None:
        """Under the lock, bytes after the last newline were left by a writer that died mid-write.

        A complete record that only lost its newline gets it back; anything else is moved to
        runs.jsonl.torn (kept for inspection) and cut off, so the next record starts a clean line.
        """
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        cut = data.rfind(b"\n") + 1
        tail = data[cut:]
        if not tail:
            return
        try:
            _decode(tail)
            with open(self.path, "ab") as f:
                f.write(b"\n")
                os.fsync(f.fileno())
            return
        except Exception:
            pass
        with open(self.dir / TORN_FILE, "ab") as f:
            f.write(tail + b"\n")
            os.fsync(f.fileno())
        with open(self.path, "rb+") as f:
            f.truncate(cut)
            os.fsync(f.fileno())

    def records(self) -> list[RunRecord]:
        """Every current record (`current`: a retried failure is superseded), in file order.

        A torn last line is reported once and ignored; damage elsewhere raises.
        """
        if not self.path.exists():
            return []
        with self.locked(shared=True):
            return current(self._read())

    def _read(self) -> list[RunRecord]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        lines = data.split(b"\n")
        tail = lines.pop()  # b"" when the file ends with a newline, as it should
        out: list[RunRecord] = []
        for lineno, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                out.append(_decode(raw))
            except Exception as e:
                why = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
                raise UserError(
                    f"{self.path}:{lineno}: not a valid run record ({why}); archbench never edits this file: "
                    f"repair or delete line {lineno} (e.g. sed -i '{lineno}d' {self.path}) and run again"
                ) from e
        if tail.strip():
            try:
                out.append(_decode(tail))
            except Exception:
                key = (str(self.path.resolve()), len(data) - len(tail))
                if key not in _warned:
                    _warned.add(key)
                    print(
                        f"archbench: warning: {self.path}:{len(lines) + 1}: torn last line (a run killed while its "
                        "record was written); ignoring it, that run will train again",
                        file=sys.stderr,
                    )
        return out

    def done_ids(self) -> set[str]:
        """Run_ids a sweep of this store does not train: every recorded one, less the failed when retrying."""
        return recorded_ids(self.records(), failed=not self.retry_failed)

    def finished_ids(self) -> set[str]:
        """Run_ids recorded other than failed: a failed one may be retried by some sweep at any time."""
        return recorded_ids(self.records(), failed=False)

    # -- claims -------------------------------------------------------------------------------

    def claim_path(self, run_id: str) -> Path:
        return self.dir / CLAIMS_DIR / f"{run_id}.json"

    def owner_of(self, run_id: str) -> Owner | None:
        """The live owner of a run's claim, or None if unclaimed or the claim is stale."""
        path = self.claim_path(run_id)
        try:
            owner = Owner(**json.loads(path.read_text()))
            age_s = time.time() - path.stat().st_mtime
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError):
            return None  # torn by a kill while it was written: stale
        if owner.is_me() or not owner.alive() or age_s > CLAIM_LEASE_S:
            return None
        return owner

    def claim(self, run_id: str, *, redo: bool = False) -> Claim | Owner | None:
        """Claim a run for this process: a Claim; the live Owner if another process holds it;
        None if it is recorded already (unless `redo`, for `run --force`, or failed and this store retries it)."""
        with self.locked():
            if not redo and run_id in recorded_ids(self._read(), failed=not self.retry_failed):
                return None
            owner = self.owner_of(run_id)
            if owner is not None:
                return owner
            path = self.claim_path(run_id)
            path.parent.mkdir(exist_ok=True)
            path.unlink(missing_ok=True)  # stale (or ours from before): taken over
            me = Owner.me()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                os.write(fd, json.dumps(asdict(me)).encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            return Claim(path, me)

    def tidy(self) -> None:
        """Remove the claims and checkpoints folders once empty (a finished sweep leaves only its records)."""
        with self.locked():
            for sub in (CLAIMS_DIR, CHECKPOINTS_DIR):
                try:
                    (self.dir / sub).rmdir()
                except OSError:
                    pass

    def remove_stale_claims(self) -> None:
        """Drop claims of recorded runs and of dead owners (left by kills); a live claim on a failed run is a retry."""
        folder = self.dir / CLAIMS_DIR
        if not folder.is_dir():
            return
        with self.locked():
            done = recorded_ids(self._read(), failed=False)
            for path in folder.glob("*.json"):
                if path.stem in done or self.owner_of(path.stem) is None:
                    path.unlink(missing_ok=True)


def newest(records: Iterable[RunRecord]) -> list[RunRecord]:
    """The newest record of each (dataset, size, data size, arch) cell, in file order: a re-run
    (`run --force`, a changed spec) appends a record and supersedes the earlier ones everywhere.
    Only dense runs make cells: pruned runs (a `mask`, benchmarks/running/tickets.py) are read by the
    tickets analysis (benchmarks/analysis/tickets.py), never ranked or fitted beside their dense model."""
    kept: dict[tuple[str, int, int, str], RunRecord] = {}
    for r in (r for r in records if not r.spec.mask):  # file order breaks created_at ties: the later line wins
        key = (r.spec.dataset, r.spec.target_params, r.spec.data_size, r.spec.arch)
        if key not in kept or r.created_at >= kept[key].created_at:
            kept.pop(key, None)
            kept[key] = r
    return list(kept.values())


def suites_in(results_dir: str | Path) -> list[str]:
    """Suites that have a results file under `results_dir`."""
    root = Path(results_dir)
    return sorted(p.parent.name for p in root.glob(f"*/{RUNS_FILE}")) if root.exists() else []
