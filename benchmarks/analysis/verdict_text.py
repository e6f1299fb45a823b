"""The verdict in words: sentences that claim no more than the intervals allow.

The statistics themselves are numbers (`benchmarks.analysis.verdict` and the
modules of `benchmarks.analysis.verdict_statistics`, each with its `describe`);
this module holds the words they share (a log-loss difference as a percentage,
a share, a size at a glance), the paragraph of one dataset around the statistics'
sentences (the scope, order CLOSING_ORDER and up, last), the paragraph of each declared
contrast between two datasets, and the verdict as fits.json holds it, numbers and words
together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from benchmarks.analysis.stats import LEVEL, Estimate
from benchmarks.analysis.verdict_statistics import registered

if TYPE_CHECKING:
    from benchmarks.analysis.contrast import ContrastEffect
    from benchmarks.analysis.quality import QualityAxis, QualityLevel
    from benchmarks.analysis.verdict import DatasetVerdict, Verdict

LEVEL_WORDS = f"{100 * LEVEL:g}%"
CLOSING_ORDER = 100  # statistics of this order or more (the scope) close the paragraph, after the notes


def pct(log_diff: float) -> float:
    """A difference in log loss as a percentage change in loss."""
    return 100 * float(np.expm1(log_diff))


def _decimals(*values: float) -> int:
    """Enough decimals to tell an interval's ends apart (0 to 2)."""
    spread = max(values) - min(values)
    scale = spread if spread > 0 else max(abs(v) for v in values)
    return int(np.clip(1 - np.floor(np.log10(scale)) if scale > 0 else 0, 0, 2))


def _percent_interval(value: float, lo: float, hi: float) -> str:
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return f"{value:.2g}% [no interval]"
    n = _decimals(value, lo, hi)
    num = lambda v: f"{v + 0.0:.{n}f}".replace("-", "−") if round(v, n) != 0 else f"{0:.{n}f}"
    return f"{num(value)}% [{num(lo)}, {num(hi)}]"


def fmt_loss_change(e: Estimate) -> str:
    """'12% [8, 16]': a log-loss difference as a percentage change in loss, with its interval."""
    return _percent_interval(pct(e.value), pct(e.lo), pct(e.hi))


def fmt_share(e: Estimate) -> str:
    """'42% [36, 49]': a share of the variance, with its interval."""
    return _percent_interval(100 * e.value, 100 * e.lo, 100 * e.hi)


def short_count(x: float) -> str:
    """A size to two significant figures, in words a reader parses at a glance (4.8M, 120k)."""
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= div:
            return f"{float(f'{x / div:.2g}'):g}{unit}"
    return f"{float(f'{x:.2g}'):g}"


def count_of(n: float, word: str) -> str:
    """'3 runs', '1 run', '2 families'."""
    plural = word[:-1] + "ies" if word.endswith("y") and word[-2:-1] not in "aeiou" else word + "s"
    return f"{n:g} {word if n == 1 else plural}"


def join_words(items) -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""


def span(values: Sequence[float], fmt: Callable[[float], str]) -> str:
    """'5k–20k', or one value where they are all the same."""
    lo, hi = min(values), max(values)
    return fmt(lo) if lo == hi else f"{fmt(lo)}–{fmt(hi)}"


def dataset_paragraph(v: DatasetVerdict) -> str:
    """The verdict of one dataset in words: what was run, each statistic's sentences, and the scope."""
    seeds = f"{v.seeds_per_run:.3g} seed{'' if v.seeds_per_run == 1 else 's'} each"
    out = [f"{v.dataset}: {count_of(v.n_runs, 'run')} ({count_of(len(v.archs), 'architecture')} × "
           f"{count_of(len(v.sizes), 'model size')} × {count_of(len(v.data_sizes), 'training-set size')}, {seeds}"
           + (f"; {count_of(v.n_excluded, 'failed or diverged run')} left out" if v.n_excluded else "") + ")."]
    if not v.has_intervals:
        out.append("With one seed per run there is no estimate of seed noise, so nothing below has an interval "
                   "and none of it supports a claim that one architecture beats another.")
    closing = []
    for statistic in registered():
        said = statistic.describe(v.statistics[statistic.name], v)
        (closing if statistic.order >= CLOSING_ORDER else out).extend(said)
    out += [n[0].upper() + n[1:] + "." for n in v.notes]
    return " ".join(out + closing)


def _sign_words(e: Estimate, up: str, down: str, flat: str) -> str:
    """`up` where the interval is above zero, `down` below it, `flat` where it holds zero."""
    return up if e.lo > 0 else down if e.hi < 0 else flat


def contrast_paragraph(c: ContrastEffect) -> str:
    """What the variant of a declared contrast does to each family's loss and to the gaps between them."""
    what = f" ({c.contrast.label})" if c.contrast.label else ""
    out = [f"Contrast: {c.variant} against {c.base}{what}, over the model and data sizes each family ran on both "
           "(same seeds):"]
    if not c.has_intervals:
        changes = ", ".join(f"{a} {pct(e.value):+.2g}%" for a, e in c.change.items())
        return " ".join(out) + (f" loss change {changes}. With one seed per run these have no intervals and "
                                "support no claim.")
    up = [(a, e) for a, e in c.change.items() if e.lo > 0]
    down = [(a, e) for a, e in c.change.items() if e.hi < 0]
    flat = [(a, e) for a, e in c.change.items() if e.lo <= 0 <= e.hi]
    if up:
        out.append("the variant raises the loss of " + ", ".join(
            f"{a} by {fmt_loss_change(e)}" for a, e in sorted(up, key=lambda t: -t[1].value)) + ";")
    if down:
        out.append("it lowers the loss of " + ", ".join(
            f"{a} (change {fmt_loss_change(e)})" for a, e in sorted(down, key=lambda t: t[1].value)) + ";")
    if flat:
        out.append("for " + ", ".join(f"{a} ({fmt_loss_change(e)})" for a, e in flat)
                   + " the change is indistinguishable from zero;")
    out[-1] = out[-1].rstrip(";") + "."
    others = [(a, g) for a, g in c.gaps.items() if a != c.leader]
    if others:
        out.append(f"Against {c.leader}, the best on {c.base} (over the {count_of(c.shared_cells, 'size')} every "
                   "family ran on both): " + "; ".join(
                       f"{a} is {fmt_loss_change(g.base)} above it on {c.base} and {fmt_loss_change(g.variant)} on "
                       f"{c.variant}, a gap that " + _sign_words(g.change, "widens", "narrows", "does not change beyond "
                                                                 "seed noise") + f" ({fmt_loss_change(g.change)})"
                       for a, g in others) + ".")
    return " ".join(out)


def _quality_level_sentences(q: QualityLevel, has_intervals: bool) -> list[str]:
    from benchmarks.analysis.verdict_statistics.multipliers import fmt_factor

    ms = {a: q.headline(a) for a in q.data_multiplier}
    fitted = {a: m for a, m in ms.items() if m.log_k is not None}
    out = []
    if fitted:
        m = next(iter(fitted.values()))
        where = f"at {short_count(m.at)} parameters, from {m.x0:,.0f} examples"
        if not has_intervals:
            return [f"At {q.level} ({where}; one seed per run, so no intervals): to reach its clean-data loss, "
                    + "; ".join(f"{a} needs {fmt_factor(m)}" for a, m in fitted.items()) + " as many examples."]
        apart = {a: m for a, m in fitted.items() if m.status == "beyond range" or m.log_k.lo > 0 or m.log_k.hi < 0}
        within = {a: m for a, m in fitted.items() if a not in apart}
        s = f"At {q.level} ({where}): "
        if apart:
            s += "clean data is worth " + "; ".join(f"{fmt_factor(m)} as many examples to {a}"
                                                    for a, m in sorted(apart.items(), key=lambda t: -t[1].log_k.value))
        if within:
            s += ("; " if apart else "") + ", ".join(f"{a} ({fmt_factor(m)})" for a, m in within.items()) + (
                f" {'is' if len(within) == 1 else 'are'} within noise of {'its' if len(within) == 1 else 'their'} "
                "clean curve: the interval includes 1×")
        out.append(s + ".")
    missing = sorted(a for a, m in ms.items() if m.log_k is None)
    if missing:
        out.append(f"No multiplier for {join_words(missing)} (no curve to read).")
    if (g := q.interaction) is not None and has_intervals:
        out.append(f"Between families (the spread of their mean losses over the {count_of(q.cells, 'size')} "
                   f"all ran): {fmt_loss_change(g.base)} with clean data, {fmt_loss_change(g.variant)} at {q.level}, "
                   "so the gaps between architectures " + _sign_words(g.change, "widen", "narrow", "do not change "
                                                                       "beyond seed noise")
                   + f" as quality falls (interaction {fmt_loss_change(g.change)}).")
    return out


def quality_paragraph(axis: QualityAxis) -> str:
    """Per quality level of a dataset: how many times more of that data each family needs to reach its clean
    curve (clean data is worth k× data at that level), and whether the families drift apart."""
    out = [f"Quality of the training data, {axis.base}: {join_words([q.level for q in axis.levels])} against "
           "clean labels, each family's loss-against-data curve at each level read against its clean one "
           "(validation and test clean)."]
    for q in axis.levels:
        out += _quality_level_sentences(q, axis.has_intervals)
    return " ".join(out)


def verdict_paragraph(verdict: Verdict) -> str:
    """The whole verdict: a paragraph per dataset, per dataset without a usable run, per declared contrast,
    per dataset run at quality levels."""
    lost = [f"{ds}: all {count_of(n, 'run')} failed or diverged, so there is no verdict." for ds, n in
            verdict.unusable.items()]
    return "\n\n".join([dataset_paragraph(d) for d in verdict.datasets] + lost
                        + [contrast_paragraph(c) for c in verdict.contrasts]
                        + [quality_paragraph(q) for q in verdict.quality])


def verdict_dict(verdict: Verdict) -> dict:
    """The verdict as fits.json holds it: the statistics' numbers and notes, then the paragraphs."""
    out = verdict.to_dict()
    for d, v in zip(out["datasets"], verdict.datasets, strict=True):
        d["paragraph"] = dataset_paragraph(v)
    for d, c in zip(out["contrasts"], verdict.contrasts, strict=True):
        d["paragraph"] = contrast_paragraph(c)
    for d, q in zip(out.get("quality", []), verdict.quality, strict=True):
        d["paragraph"] = quality_paragraph(q)
    out["paragraph"] = verdict_paragraph(verdict)
    return out
