"""`archbench compare A B`: what changed between two sets of results, and whether it is beyond seed noise.

A and B are each a results folder (`results/reference`, or one suite's folder),
a leaderboard JSON written by `archbench leaderboard --format json`, or a git
revision of the results (`HEAD~1` means the `--results-dir` folder at HEAD~1;
`main:results/reference` names a path at a revision), read with `git show`.

Entries are matched by suite, dataset, target params, data size and arch. Two
entries are compared only when they measured the same thing: the same suite,
budget and schedule (every spec field but the arch, seeds and learning rate),
dataset version and results version (a missing results version is unknown and
matches any); otherwise they are shown as *not comparable*.

A change is *beyond seed noise* when Welch's t-test over the per-seed values
gives a two-sided p < 0.05. Welch rather than "non-overlapping intervals": it
is the test the intervals approximate, without their conservatism (two 95%
intervals stop overlapping only near p ≈ 0.005). With one seed on either side
there is no test and nothing is beyond noise. A *regression* is test loss up or
test accuracy down beyond noise, or a run that was ok and now diverged or failed.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.analysis.leaderboard import Entry, Leaderboard, load_leaderboards
from benchmarks.analysis.leaderboard_formats import from_json
from benchmarks.analysis.stats import Estimate, welch_p
from benchmarks.formatting import fmt_estimate, human, md_table
from benchmarks.layout import RUNS_FILE
from benchmarks.spec import UserError, finite_or_null

ALPHA = 0.05
VERDICTS = ("regression", "improvement", "within noise", "changed", "unchanged", "added", "removed", "not comparable")


@dataclass(frozen=True)
class MetricChange:
    """B minus A for one metric over seeds."""

    delta: float
    p: float  # Welch's two-sided p-value; NaN when either side has a single seed
    worse: bool  # in the direction that is worse for this metric
    beyond_noise: bool  # p < ALPHA

    @classmethod
    def of(cls, a: Estimate, b: Estimate, *, higher_is_better: bool) -> MetricChange:
        delta = b.value - a.value
        p = welch_p(a.values, b.values)
        return cls(delta=delta, p=p, worse=(delta < 0) if higher_is_better else (delta > 0), beyond_noise=p < ALPHA)


@dataclass(frozen=True)
class EntryChange:
    suite: str
    dataset: str
    target_params: int
    data_size: int
    arch: str
    verdict: str  # one of VERDICTS
    a: Entry | None
    b: Entry | None
    test_loss: MetricChange | None = None  # set when both are ok and comparable
    test_acc: MetricChange | None = None
    differences: tuple[str, ...] = ()  # why not comparable: "steps 400 → 800"

    @property
    def rank_changed(self) -> bool:
        return self.a is not None and self.b is not None and (self.a.rank, self.a.tied) != (self.b.rank, self.b.tied)


@dataclass(frozen=True)
class Comparison:
    a_label: str
    b_label: str
    changes: tuple[EntryChange, ...]

    def count(self, verdict: str) -> int:
        return sum(c.verdict == verdict for c in self.changes)

    @property
    def regressions(self) -> tuple[EntryChange, ...]:
        return tuple(c for c in self.changes if c.verdict == "regression")


# --------------------------------------------------------------------------- comparing


def measurement_differences(a: Entry, b: Entry) -> tuple[str, ...]:
    """What the two entries measured differently ("steps 400 → 800"); empty when comparable."""
    out = []
    for key in sorted(set(a.measurement) | set(b.measurement)):
        va, vb = a.measurement.get(key), b.measurement.get(key)
        if key == "results_version" and (not va or not vb):
            continue  # unknown on one side: assumed equal
        if va != vb:
            out.append(f"{key} {va} → {vb}")
    return tuple(out)


def compare_entries(a: Entry, b: Entry) -> tuple[str, MetricChange | None, MetricChange | None]:
    """(verdict, loss change, accuracy change) of two comparable entries of the same cell and arch."""
    if a.status == "ok" and b.status != "ok":
        return "regression", None, None
    if a.status != "ok":
        if b.status == "ok":
            return "improvement", None, None
        return ("unchanged" if a.status == b.status else "changed"), None, None
    loss = MetricChange.of(a.test_loss, b.test_loss, higher_is_better=False)
    acc = MetricChange.of(a.test_acc, b.test_acc, higher_is_better=True)
    beyond = [m for m in (loss, acc) if m.beyond_noise]
    if any(m.worse for m in beyond):
        return "regression", loss, acc
    if beyond:
        return "improvement", loss, acc
    same = a.test_loss.values == b.test_loss.values and a.test_acc.values == b.test_acc.values
    return ("unchanged" if same else "within noise"), loss, acc


def compare(a: Sequence[Leaderboard], b: Sequence[Leaderboard], a_label: str = "A", b_label: str = "B") -> Comparison:
    """Match the entries of A and B and say how each changed."""
    # One suite on each side: pair them even if named differently (the suite is then a measured difference).
    pair_suites = len(a) == 1 and len(b) == 1

    def entries(lbs: Sequence[Leaderboard]) -> dict[tuple[str, str, int, int, str], Entry]:
        return {
            ("" if pair_suites else lb.suite, c.dataset, c.target_params, c.data_size, e.arch): e
            for lb in lbs
            for c in lb.cells
            for e in c.entries
        }

    ea, eb = entries(a), entries(b)
    changes = []
    for key in sorted(set(ea) | set(eb)):
        suite, dataset, target, size, arch = key
        x, y = ea.get(key), eb.get(key)
        if not suite:
            suite = (b[0] if y is not None else a[0]).suite
        fields = dict(suite=suite, dataset=dataset, target_params=target, data_size=size, arch=arch, a=x, b=y)
        if x is None:
            changes.append(EntryChange(verdict="added", **fields))
        elif y is None:
            changes.append(EntryChange(verdict="removed", **fields))
        elif differences := measurement_differences(x, y):
            changes.append(EntryChange(verdict="not comparable", differences=differences, **fields))
        else:
            verdict, loss, acc = compare_entries(x, y)
            changes.append(EntryChange(verdict=verdict, test_loss=loss, test_acc=acc, **fields))
    return Comparison(a_label, b_label, tuple(changes))


# --------------------------------------------------------------------------- loading A and B


def _git(*args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", *args], capture_output=True, check=False)
    except FileNotFoundError as e:
        raise UserError("git is not installed, so a git revision cannot be read") from e


def _from_runs_files(files: dict[str, bytes]) -> list[Leaderboard]:
    """Leaderboards of {suite: runs.jsonl content}, read through the results store (torn lines skipped)."""
    with tempfile.TemporaryDirectory(prefix="archbench-compare-") as tmp:
        for suite, content in files.items():
            (Path(tmp) / suite).mkdir()
            (Path(tmp) / suite / RUNS_FILE).write_bytes(content)
        return load_leaderboards(tmp)


def _load_git(ref: str, results_dir: str) -> list[Leaderboard]:
    if ":" in ref:
        rev, path = ref.split(":", 1)
    else:
        top = _git("rev-parse", "--show-toplevel")
        if top.returncode != 0:
            raise UserError(f"{ref!r} is not a results folder or leaderboard file, and this is not a git repository")
        rev, path = ref, os.path.relpath(os.path.abspath(results_dir), top.stdout.decode().strip())
        if path.startswith(".."):
            raise UserError(f"--results-dir {results_dir} is outside the git repository, so {ref!r} cannot name it")
    path = path.rstrip("/")
    kind = _git("cat-file", "-t", f"{rev}:{path}")
    if kind.returncode != 0:
        raise UserError(
            f"{ref!r} is not a results folder, a leaderboard JSON, or a git revision holding {path or '.'} "
            f"({kind.stderr.decode().strip().splitlines()[-1] if kind.stderr else 'not found'})"
        )

    def show(p: str) -> bytes:
        out = _git("show", f"{rev}:{p}")
        if out.returncode != 0:
            raise UserError(f"cannot read {rev}:{p}: {out.stderr.decode().strip()}")
        return out.stdout

    if kind.stdout.decode().strip() == "blob":
        if path.endswith(".json"):
            return [from_json(show(path).decode(), source=ref)]
        if Path(path).name == RUNS_FILE:
            return _from_runs_files({Path(path).parent.name or "results": show(path)})
        raise UserError(f"{ref!r} is neither a leaderboard .json nor a {RUNS_FILE}")
    listing = _git("ls-tree", "-r", "--full-tree", "--name-only", f"{rev}:{path}").stdout.decode().splitlines()
    runs = {}
    for name in listing:
        parts = Path(name).parts
        if parts == (RUNS_FILE,):
            runs[Path(path).name] = show(f"{path}/{name}")
        elif len(parts) == 2 and parts[1] == RUNS_FILE:
            runs[parts[0]] = show(f"{path}/{name}" if path else name)
    if not runs:
        raise UserError(f"{ref!r} holds no results (no <suite>/{RUNS_FILE} under {rev}:{path})")
    return _from_runs_files(runs)


def load_side(ref: str, results_dir: str) -> list[Leaderboard]:
    """The leaderboards that a results folder, leaderboard JSON or git revision `ref` holds."""
    p = Path(ref)
    if p.is_dir():
        if (p / RUNS_FILE).is_file():  # one suite's folder
            return load_leaderboards(p.parent, p.name)
        return load_leaderboards(p)
    if p.is_file():
        if p.name == RUNS_FILE:
            return load_leaderboards(p.parent.parent, p.parent.name)
        return [from_json(p.read_text(encoding="utf-8"), source=str(p))]
    return _load_git(ref, results_dir)


def select_suite(lbs: list[Leaderboard], suite: str | None, ref: str) -> list[Leaderboard]:
    if suite is None:
        return lbs
    chosen = [lb for lb in lbs if lb.suite == suite]
    if not chosen:
        raise UserError(f"{ref} has no suite {suite!r} (it has: {', '.join(lb.suite for lb in lbs) or 'none'})")
    return chosen


# --------------------------------------------------------------------------- rendering


def _cell(c: EntryChange) -> str:
    return f"{c.dataset} {human(c.target_params)} n={c.data_size}"


def _rank(e: Entry | None) -> str:
    if e is None or e.rank is None:
        return "–" if e is None else e.status
    return f"={e.rank}" if e.tied else str(e.rank)


def _metric(m: MetricChange | None, a: Entry, b: Entry, *, percent: bool) -> tuple[str, str]:
    """('A → B' of the means, 'Δ (p)') for one metric; a run that did not finish shows its status."""
    scale, digits = (100.0, 1) if percent else (1.0, 3)

    def value(e: Entry) -> str:
        est = e.test_acc if percent else e.test_loss
        return f"{est.value * scale:.{digits}f}" if e.status == "ok" else e.status

    if m is None:
        return f"{value(a)} → {value(b)}", ""
    p = "p=n/a" if math.isnan(m.p) else f"p={m.p:.2g}"
    return f"{value(a)} → {value(b)}", f"{m.delta * scale:+.{digits}f} ({p}){' !' if m.beyond_noise else ''}"


def summary_line(cmp: Comparison) -> str:
    counts = " · ".join(f"{v}: {cmp.count(v)}" for v in VERDICTS)
    if all(c.verdict == "unchanged" and not c.rank_changed for c in cmp.changes):
        return f"**No change**: every entry has the same per-seed results and rank ({counts})."
    return f"**{len(cmp.regressions)} regression(s)** ({counts})."


def to_markdown(cmp: Comparison) -> str:
    lines = [
        f"# archbench compare: {cmp.a_label} → {cmp.b_label}",
        "",
        f"Beyond seed noise (`!`): Welch's t-test over seeds, two-sided p < {ALPHA}. A regression is test loss "
        "up or test accuracy down beyond noise, or a run that no longer finishes.",
        "",
        summary_line(cmp),
    ]
    shown = [c for c in cmp.changes if c.verdict in ("regression", "improvement", "within noise", "changed")
             or (c.verdict == "unchanged" and c.rank_changed)]  # fmt: skip
    shown.sort(key=lambda c: VERDICTS.index(c.verdict))
    if shown:
        rows = []
        for c in shown:
            assert c.a is not None and c.b is not None
            loss, dloss = _metric(c.test_loss, c.a, c.b, percent=False)
            acc, dacc = _metric(c.test_acc, c.a, c.b, percent=True)
            rows.append([c.verdict, _cell(c), c.arch, loss, dloss, acc, dacc, f"{_rank(c.a)} → {_rank(c.b)}"])
        header = ["verdict", "cell", "arch", "test loss A → B", "Δ loss", "test acc % A → B", "Δ acc", "rank A → B"]
        lines += ["", *md_table(header, rows, [False, False, False, False, True, False, True, False])]
    others = [c for c in cmp.changes if c.verdict in ("added", "removed", "not comparable")]
    if others:
        rows = []
        for c in others:
            if c.verdict == "not comparable":
                detail = "; ".join(c.differences)
            else:
                e = c.b if c.verdict == "added" else c.a
                assert e is not None
                detail = f"rank {_rank(e)}, test loss {fmt_estimate(e.test_loss)}" if e.rank else e.status
                if e.rank is None and e.reason:
                    detail += f": {e.reason}"
            rows.append([c.verdict, _cell(c), c.arch, detail.replace("|", "/")])
        lines += ["", *md_table(["verdict", "cell", "arch", "detail"], rows, [False] * 4)]
    unchanged = sum(c.verdict == "unchanged" and not c.rank_changed for c in cmp.changes)
    if unchanged:
        noun = "entry" if unchanged == 1 else "entries"
        lines += ["", f"{unchanged} {noun} unchanged (same per-seed results and rank)."]
    return "\n".join(lines) + "\n"


def _change_json(c: EntryChange) -> dict:
    def metric(m: MetricChange | None) -> dict | None:
        if m is None:
            return None
        return {"delta": m.delta, "p": finite_or_null(m.p), "worse": m.worse,
                "beyond_noise": m.beyond_noise}  # fmt: skip

    return {
        "verdict": c.verdict, "suite": c.suite, "dataset": c.dataset, "target_params": c.target_params,
        "data_size": c.data_size, "arch": c.arch,
        "rank_a": c.a.rank if c.a else None, "rank_b": c.b.rank if c.b else None,
        "status_a": c.a.status if c.a else None, "status_b": c.b.status if c.b else None,
        "test_loss": metric(c.test_loss), "test_acc": metric(c.test_acc), "differences": list(c.differences),
    }  # fmt: skip


def to_json(cmp: Comparison) -> str:
    doc = {
        "a": cmp.a_label,
        "b": cmp.b_label,
        "alpha": ALPHA,
        "counts": {v: cmp.count(v) for v in VERDICTS},
        "changes": [_change_json(c) for c in cmp.changes],
    }
    return json.dumps(doc, indent=1, allow_nan=False) + "\n"
