"""`archbench compare`'s output: the comparison as Markdown (for people and pull requests) and as JSON."""

from __future__ import annotations

import json
import math

from benchmarks.analysis.compare import (
    ALPHA,
    FAMILY_SHARE,
    POWER,
    VERDICTS,
    Comparison,
    EntryChange,
    FamilyChange,
    MetricChange,
)
from benchmarks.analysis.leaderboard import Entry
from benchmarks.analysis.wording import detection, sentence
from benchmarks.formatting import fmt_estimate, human, md_table
from benchmarks.spec import finite_or_null


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
    return f"{value(a)} → {value(b)}", f"{m.delta * scale:+.{digits}f} ({_p(m)}){' !' if m.beyond_noise else ''}"


def _p(m: MetricChange) -> str:
    """The Holm-adjusted p-value, and 'paired' where the test went seed by seed."""
    return ("p=n/a" if math.isnan(m.p_holm) else f"p={m.p_holm:.2g}") + (", paired" if m.paired else "")


def summary_line(cmp: Comparison) -> str:
    counts = " · ".join(f"{v}: {cmp.count(v)}" for v in VERDICTS)
    if all(c.verdict == "unchanged" and not c.rank_changed for c in cmp.changes):
        return f"**No change**: every entry has the same per-seed results and rank ({counts})."
    families = f", {len(cmp.family_regressions)} family regression(s)" if cmp.family_regressions else ""
    return f"**{len(cmp.regressions)} regression(s){families}** ({counts})."


def _family_rows(cmp: Comparison) -> list[list[str]]:
    rows = []
    for f in cmp.families:
        loss, acc = f.test_loss, f.test_acc
        rows.append([f.verdict, f.dataset, f.arch, str(f.entries),
                     f"{100 * math.expm1(loss.delta):+.1f}% ({_p(loss)}){' !' if loss.beyond_noise else ''}",
                     f"{100 * acc.delta:+.1f} ({_p(acc)}){' !' if acc.beyond_noise else ''}"])
    return rows


def detection_line(cmp: Comparison) -> str:
    """What each family's test found and could have found, dataset by dataset ('no regression larger than
    24% for convnet'): the smallest change it catches in POWER of reruns at the two folders' design."""
    by: dict[str, list[str]] = {}
    for f in cmp.families:
        by.setdefault(f.dataset, []).append(detection(f.arch, f.verdict, f.detectable, POWER))
    return " ".join(sentence(f"{ds}: " + "; ".join(parts)) for ds, parts in by.items())


def to_markdown(cmp: Comparison) -> str:
    lines = [
        f"# archbench compare: {cmp.a_label} → {cmp.b_label}",
        "",
        f"Beyond seed noise (`!`): a t-test per entry and per family (its mean loss change over its entries), with "
        "the family's seed noise pooled over its cells and each cell's learning-rate noise, paired by seed where A "
        "and B ran the same seeds; p-values "
        f"Holm-adjusted over the {cmp.tests} tests (families {100 * FAMILY_SHARE:g}% of the budget, entries the rest), "
        f"beyond noise at p < {ALPHA} (an unchanged suite rerun shows nothing beyond noise "
        f"{100 * (1 - ALPHA):g}% of the time). A regression is test loss up or test accuracy down beyond noise, or a "
        "run that no longer finishes.",
        "",
        summary_line(cmp),
    ]
    if cmp.families:
        lines += ["", detection_line(cmp)]
    moved = [r for r, f in zip(_family_rows(cmp), cmp.families, strict=True) if f.verdict != "unchanged"]
    if moved:
        header = ["verdict", "dataset", "family", "entries", "mean Δ loss", "mean Δ acc (points)"]
        lines += ["", *md_table(header, moved, [False, False, False, True, True, True])]
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


def _metric_json(m: MetricChange | None) -> dict | None:
    if m is None:
        return None
    return {"delta": finite_or_null(m.delta), "p": finite_or_null(m.p), "p_holm": finite_or_null(m.p_holm),
            "worse": m.worse, "beyond_noise": m.beyond_noise, "paired": m.paired}


def _change_json(c: EntryChange) -> dict:
    metric = _metric_json

    return {
        "verdict": c.verdict, "suite": c.suite, "dataset": c.dataset, "target_params": c.target_params,
        "data_size": c.data_size, "arch": c.arch,
        "rank_a": c.a.rank if c.a else None, "rank_b": c.b.rank if c.b else None,
        "status_a": c.a.status if c.a else None, "status_b": c.b.status if c.b else None,
        "test_loss": metric(c.test_loss), "test_acc": metric(c.test_acc), "differences": list(c.differences),
    }  # fmt: skip


def _family_json(f: FamilyChange) -> dict:
    return {"verdict": f.verdict, "suite": f.suite, "dataset": f.dataset, "arch": f.arch, "entries": f.entries,
            "test_loss": _metric_json(f.test_loss), "test_acc": _metric_json(f.test_acc),
            "detectable_log_loss": finite_or_null(f.detectable), "power": POWER}


def to_json(cmp: Comparison) -> str:
    doc = {
        "a": cmp.a_label,
        "b": cmp.b_label,
        "alpha": ALPHA,
        "tests": cmp.tests,
        "counts": {v: cmp.count(v) for v in VERDICTS},
        "family_regressions": len(cmp.family_regressions),
        "changes": [_change_json(c) for c in cmp.changes],
        "families": [_family_json(f) for f in cmp.families],
    }
    return json.dumps(doc, indent=1, allow_nan=False) + "\n"
