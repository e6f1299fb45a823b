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

A change is *beyond seed noise* when its test says so after Holm's correction,
at a family-wise error of ALPHA (1%) over every test of the comparison: rerun
unchanged, a suite shows no change beyond noise in 99% of reruns, whatever its
size. Each entry's test-loss change is tested on log loss (a relative change),
its accuracy change on accuracy; and each family's mean loss change over its
entries is tested too, so a small change of a whole family (+10% loss
everywhere) is caught where no single entry's few seeds could show it. The
families' tests are the primary question and get FAMILY_SHARE (80%) of the error
budget, the entries' the rest, each set Holm-adjusted (adjusted p-values are
divided by their share, so each reads against ALPHA). Where A and B ran the same
seeds, the test is paired by seed (B's seed minus A's); otherwise it compares the
means. The variance of a change is the noise of its family (per dataset) as
`benchmarks.analysis.seed_noise` models it for every statistic: seed noise pooled
over the family's cells as a split plot (one init serves every data size, so
cells are not independent; where the inits show no sign of mattering, the two
mean squares are pooled, POOL_BELOW), and each cell's run effect, the learning
rate its search chose, at κ estimated from both sides' runs. With one seed on
either side there is no test and nothing is beyond noise. Each family says what
its test can see: `detectable`, the smallest mean loss change it catches in
POWER (80%) of reruns at the two folders' design, its variance read as an estimate of half its
degrees of freedom (DETECTABLE_DF_SHARE). A *regression*
is test loss up or test accuracy down beyond noise (an entry or a family), or a
run that was ok and now diverged or failed.
"""

from __future__ import annotations

import math
import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy import optimize, stats

from benchmarks.analysis.leaderboard import Entry, Leaderboard, load_leaderboards
from benchmarks.analysis.leaderboard_formats import from_json
from benchmarks.analysis.seed_noise import (
    FamilyRuns,
    RunLevel,
    SplitPlotNoise,
    holm,
    one_blas_thread,
    run_level,
    t_p,
    t_quantile,
    with_prior,
)
from benchmarks.layout import RUNS_FILE
from benchmarks.spec import UserError

ALPHA = 0.01  # family-wise: the chance that an unchanged suite shows any change beyond noise
VERDICTS = ("regression", "improvement", "within noise", "changed", "unchanged", "added", "removed", "not comparable")
METRICS = ("test_loss", "test_acc")
FAMILY_SHARE = 0.8  # of ALPHA, for the families' tests; the entries' get the rest
POOL_BELOW = 0.75  # pool a family's init and seed noise where the inits show no sign of mattering (seed_noise.py)
POWER = 0.8  # `detectable`: the smallest family change caught in this share of reruns
# `detectable` reads a family's variance as an estimate of half its Satterthwaite df: over reruns of the quick
# reference's world the estimates varied as a χ² of about 11 df where the sum said 26 (the rate choices' and the
# seeds' heavy tails), and at the full df the stated change was caught in 72-80% of reruns, not 80%.
DETECTABLE_DF_SHARE = 0.5


@dataclass(frozen=True)
class MetricChange:
    """B minus A for one metric over seeds, and its test."""

    delta: float  # B's mean minus A's (loss: in loss; accuracy: as a fraction)
    p: float  # two-sided p-value of the change (loss: in log loss); NaN without a test (one seed on a side)
    worse: bool  # in the direction that is worse for this metric
    beyond_noise: bool  # Holm-adjusted p < ALPHA over every test of the comparison
    p_holm: float = math.nan
    paired: bool = False  # tested seed by seed (A and B ran the same seeds)


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
class FamilyChange:
    """One family's mean change over its comparable entries of one dataset (loss: mean change in log loss)."""

    suite: str
    dataset: str
    arch: str
    entries: int
    verdict: str  # regression | improvement | within noise | unchanged
    test_loss: MetricChange
    test_acc: MetricChange
    detectable: float = math.nan  # smallest mean loss change (log loss) its test catches in POWER of reruns


@dataclass(frozen=True)
class Comparison:
    a_label: str
    b_label: str
    changes: tuple[EntryChange, ...]
    families: tuple[FamilyChange, ...] = ()
    tests: int = 0  # tests in the Holm family

    def count(self, verdict: str) -> int:
        return sum(c.verdict == verdict for c in self.changes)

    @property
    def regressions(self) -> tuple[EntryChange, ...]:
        return tuple(c for c in self.changes if c.verdict == "regression")

    @property
    def family_regressions(self) -> tuple[FamilyChange, ...]:
        return tuple(f for f in self.families if f.verdict == "regression")

    @property
    def regressed(self) -> bool:
        """Any entry or family worse beyond noise, or a run that no longer finishes."""
        return bool(self.regressions or self.family_regressions)


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


def _seeds(e: Entry, metric: str) -> list[tuple[int | None, float]]:
    """The metric's per-seed values on the test's scale (loss: log), with their seed where the entry says which."""
    values = getattr(e, metric).values
    scaled = [math.log(v) for v in values] if metric == "test_loss" else list(values)
    ids = list(e.seed_ids) if len(e.seed_ids) == len(values) else [None] * len(values)
    return list(zip(ids, scaled, strict=True))


@dataclass(frozen=True)
class _Pair:
    """A comparable ok/ok entry pair, one metric: the observations its family's noise is estimated from."""

    key: tuple  # (suite, dataset, target_params, data_size, arch)
    paired: bool  # A and B ran the same seeds
    diff: list[tuple[int | None, float]]  # paired: (seed, B − A) per seed
    a: list[tuple[int | None, float]]  # each side's (seed, value)
    b: list[tuple[int | None, float]]

    @classmethod
    def of(cls, key: tuple, x: Entry, y: Entry, metric: str) -> _Pair:
        a, b = _seeds(x, metric), _seeds(y, metric)
        va, vb = dict(a), dict(b)
        paired = None not in va and len(va) == len(a) and set(va) == set(vb) and len(vb) == len(b) and len(va) > 1
        return cls(key, paired, [(s, vb[s] - va[s]) for s in sorted(va)] if paired else [], a, b)

    @property
    def testable(self) -> bool:
        return len(self.a) > 1 and len(self.b) > 1


def _noise(pairs: list[_Pair], side: str, run: RunLevel) -> SplitPlotNoise:
    """Noise of one family's changes (side "diff") or of one side's values ("a", "b"), over its cells: a
    seed's init is shared by its family's data sizes at one model size (unknown seeds: each its own), and
    each cell has a run effect (its learning-rate choice) at the comparison's κ."""
    ys, cells, plots = [], [], []
    for p in pairs:
        for i, (seed, v) in enumerate(getattr(p, side)):
            ys.append(v)
            cells.append(p.key[2:4])
            plots.append((p.key[2], seed) if seed is not None else (p.key[2], p.key[3], i))
    return SplitPlotNoise.of(np.array(ys), cells, plots, pool_below=POOL_BELOW).with_runs(run)


def comparison_run_level(pairs_by_family: Sequence[list[_Pair]]) -> RunLevel:
    """κ of the comparison (`seed_noise.run_level`): each family's entries on each side one surface over
    target params and data size, pooled with the reference's κ (`seed_noise.with_prior`)."""
    families = []
    for pairs in pairs_by_family:
        testable = [p for p in pairs if p.testable]
        for side in ("a", "b"):
            families.append(FamilyRuns(np.log([float(p.key[2]) for p in testable]),
                                       np.log([float(p.key[3]) for p in testable]),
                                       [np.array([v for _, v in getattr(p, side)]) for p in testable]))
    return with_prior(run_level(families))


def detectable(var: float, df: float, level: float) -> float:
    """The smallest change a two-sided t-test at `level` (its p against this) catches in POWER of reruns,
    for an estimate of variance `var` with `df` degrees of freedom: δ·√var, δ the noncentrality at which
    a noncentral t with `df` exceeds the test's critical value with probability POWER."""
    if not (math.isfinite(var) and df > 0):
        return math.nan
    if var == 0:  # the same per-seed results on both sides: any change would show
        return 0.0
    critical = t_quantile(1 - level / 2, df)
    if not math.isfinite(df):
        return (critical + t_quantile(POWER, df)) * math.sqrt(var)
    delta = optimize.brentq(lambda d: float(stats.nct.sf(critical, df, d)) - POWER, 0.0, 10 * critical + 10)
    return delta * math.sqrt(var)


def _family_tests(pairs: list[_Pair], run: RunLevel
                  ) -> tuple[list[tuple[float, float]], tuple[float, float, bool, float, float]]:
    """(per pair: (change, p)), and the family's (mean change, p, paired, variance, df): t-tests with the
    family's noise."""
    testable = [p for p in pairs if p.testable]
    if not testable:
        return [(math.nan, math.nan)] * len(pairs), (math.nan, math.nan, False, math.nan, 0.0)
    paired = all(p.paired for p in testable)  # else every pair of the family is compared by its means
    sides = ("diff",) if paired else ("a", "b")
    noises = {side: _noise(testable, side, run) for side in sides}

    def combination(share: dict[int, float]) -> tuple[float, float, float]:
        """Σ share[i] × (pair i's mean change): its value, variance and Welch-Satterthwaite df."""
        value, parts = 0.0, []
        for side in sides:
            sign = -1.0 if side == "a" else 1.0
            k = []
            for i, p in enumerate(testable):
                values = [v for _, v in getattr(p, side)]
                k += [sign * share.get(i, 0.0) / len(values)] * len(values)
                value += sign * share.get(i, 0.0) * float(np.mean(values))
            parts.append(noises[side].variance(np.array(k)))
        var = sum(v for v, _ in parts)
        terms = sum(v * v / df for v, df in parts if df > 0)
        return value, var, (var * var / terms if terms > 0 else math.inf)

    per = {}
    for i, p in enumerate(testable):
        value, var, df = combination({i: 1.0})
        per[id(p)] = (value, t_p(value, var, df))
    value, var, df = combination({i: 1 / len(testable) for i in range(len(testable))})
    return [per.get(id(p), (math.nan, math.nan)) for p in pairs], (value, t_p(value, var, df), paired, var, df)


def _verdict(loss: MetricChange, acc: MetricChange, same: bool) -> str:
    beyond = [m for m in (loss, acc) if m.beyond_noise]
    if any(m.worse for m in beyond):
        return "regression"
    if beyond:
        return "improvement"
    return "unchanged" if same else "within noise"


@one_blas_thread
def compare(a: Sequence[Leaderboard], b: Sequence[Leaderboard], a_label: str = "A", b_label: str = "B") -> Comparison:
    """Match the entries of A and B, test each change and each family's, Holm-adjusted together."""
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
    changes: dict[tuple, EntryChange] = {}
    both_ok: list[tuple] = []
    for key in sorted(set(ea) | set(eb)):
        suite, dataset, target, size, arch = key
        x, y = ea.get(key), eb.get(key)
        if not suite:
            suite = (b[0] if y is not None else a[0]).suite
        fields = dict(suite=suite, dataset=dataset, target_params=target, data_size=size, arch=arch, a=x, b=y)
        if x is None:
            changes[key] = EntryChange(verdict="added", **fields)
        elif y is None:
            changes[key] = EntryChange(verdict="removed", **fields)
        elif differences := measurement_differences(x, y):
            changes[key] = EntryChange(verdict="not comparable", differences=differences, **fields)
        elif x.status == "ok" and y.status != "ok":
            changes[key] = EntryChange(verdict="regression", **fields)
        elif x.status != "ok":
            verdict = "improvement" if y.status == "ok" else ("unchanged" if x.status == y.status else "changed")
            changes[key] = EntryChange(verdict=verdict, **fields)
        else:
            changes[key] = EntryChange(verdict="", **fields)
            both_ok.append(key)

    # every ok/ok pair's tests, by family (dataset and arch), then Holm over all of them together
    by_family: dict[tuple, list[tuple]] = {}
    for key in both_ok:
        by_family.setdefault((key[0], key[1], key[4]), []).append(key)
    tests: list[tuple] = []  # (what, metric, value, p)
    family_values: dict[tuple, dict[str, tuple]] = {}
    pairs_of = {(fam, metric): [_Pair.of(k, ea[k], eb[k], metric) for k in keys]
                for fam, keys in by_family.items() for metric in METRICS}
    runs = {metric: comparison_run_level([v for (_, m), v in pairs_of.items() if m == metric]) for metric in METRICS}
    for fam, keys in by_family.items():
        family_values[fam] = {}
        for metric in METRICS:
            pairs = pairs_of[fam, metric]
            per, (value, p, paired, var, df) = _family_tests(pairs, runs[metric])
            for k, pair, (_, pk) in zip(keys, pairs, per, strict=True):
                tests.append((("entry", k), metric, pk, pair.paired))
            if len(keys) > 1 and metric == "test_loss":  # a family's accuracy: its entries' tests say it
                tests.append((("family", fam), metric, p, paired))
            family_values[fam][metric] = (value, p, paired, var, df)
    # a single family that changed meets Holm's first step: its share of ALPHA over the families' tests
    family_level = ALPHA * FAMILY_SHARE / max(1, sum(t[0][0] == "family" for t in tests))
    # Two Holm families under one error budget (weighted Bonferroni): the families' loss, the primary question
    # (did a family get worse?), at FAMILY_SHARE of ALPHA, so a whole family's small change is caught where no
    # entry's few seeds show it; every entry's loss and accuracy, where it changed, at the rest. Adjusted
    # p-values are scaled by the inverse share, so each reads against ALPHA.
    adjusted = {}
    for level, share in (("entry", 1 - FAMILY_SHARE), ("family", FAMILY_SHARE)):
        mine = [t for t in tests if t[0][0] == level]
        p_holm = np.minimum(1.0, holm([t[2] for t in mine]) / share)
        adjusted |= {(what, metric): (p, ph, paired) for (what, metric, p, paired), ph in zip(mine, p_holm, strict=True)}

    def metric_change(what, metric: str, delta: float) -> MetricChange:
        p, ph, paired = adjusted.get((what, metric), (math.nan, math.nan, False))
        worse = delta < 0 if metric == "test_acc" else delta > 0
        return MetricChange(delta=delta, p=p, worse=worse, beyond_noise=bool(ph < ALPHA), p_holm=ph, paired=paired)

    for key in both_ok:
        x, y = ea[key], eb[key]
        loss = metric_change(("entry", key), "test_loss", y.test_loss.value - x.test_loss.value)
        acc = metric_change(("entry", key), "test_acc", y.test_acc.value - x.test_acc.value)
        same = x.test_loss.values == y.test_loss.values and x.test_acc.values == y.test_acc.values
        changes[key] = replace(changes[key], verdict=_verdict(loss, acc, same), test_loss=loss, test_acc=acc)
    families = []
    for fam, keys in by_family.items():
        if len(keys) < 2:
            continue
        loss_value, acc_value = family_values[fam]["test_loss"][0], family_values[fam]["test_acc"][0]
        loss = metric_change(("family", fam), "test_loss", loss_value)
        acc = metric_change(("family", fam), "test_acc", acc_value)
        same = all(changes[k].verdict == "unchanged" for k in keys)
        suite = changes[keys[0]].suite
        _, _, _, var, df = family_values[fam]["test_loss"]
        families.append(FamilyChange(suite=suite, dataset=fam[1], arch=fam[2], entries=len(keys),
                                     verdict=_verdict(loss, acc, same), test_loss=loss, test_acc=acc,
                                     detectable=detectable(var, df * DETECTABLE_DF_SHARE, family_level)))
    return Comparison(a_label, b_label, tuple(changes[k] for k in sorted(changes)), tuple(families), len(tests))


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
