"""The lottery tickets as claims, tables and figures: the report's section, `archbench tickets`' summary, and
the `tickets` entry of fits.json. The numbers come from benchmarks/analysis/tickets.py; their claims
(`ticket_claims`) are said by `benchmarks.analysis.verdict_words.tickets_section`, with the one wording rule."""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.analysis.claims import Claim  # noqa: E402
from benchmarks.analysis.plots import _png  # noqa: E402
from benchmarks.analysis.stats import Estimate  # noqa: E402
from benchmarks.analysis.tickets import (  # noqa: E402
    FIRST_LAYER,
    HIGH_SPARSITY,
    Curve,
    Prior,
    Trend,
    advantage_trend,
    high_advantage,
    spatial_prior,
    ticket_curves,
)
from benchmarks.analysis.verdict_words import tickets_section  # noqa: E402
from benchmarks.analysis.wording import short_count  # noqa: E402
from benchmarks.formatting import html_table  # noqa: E402
from benchmarks.layout import MASKS_DIR, TICKETS_PLAN_FILE, slug  # noqa: E402
from benchmarks.running import pruning  # noqa: E402
from benchmarks.running.tickets_plan import TicketsPlan  # noqa: E402
from benchmarks.spec import RunRecord  # noqa: E402


def points(e: Estimate) -> str:
    """An accuracy (fraction) as percentage points with its interval: '91.2% [89.0, 93.4]'."""
    if not math.isfinite(e.lo):
        return f"{100 * e.value:.1f}% [no interval]"
    return f"{100 * e.value:.1f}% [{100 * e.lo:.1f}, {100 * e.hi:.1f}]"


def diff(e: Estimate) -> str:
    """A difference in accuracy, in points: '+4.1 [2.0, 6.2]'."""
    if not math.isfinite(e.value):
        return "no round that sparse"
    if not math.isfinite(e.lo):
        return f"{100 * e.value:+.1f} [no interval]"
    return f"{100 * e.value:+.1f} [{100 * e.lo:+.1f}, {100 * e.hi:+.1f}]"


def _points_words(margin: float) -> str:
    return f"{100 * margin:g} point" + ("" if 100 * margin == 1 else "s")


@dataclass(frozen=True)
class TicketFindings:
    curves: list[Curve]
    trends: list[Trend]
    priors: list[Prior]
    margin: float


def findings(records: Sequence[RunRecord], masks_dir: Path | None, margin: float) -> TicketFindings:
    curves = ticket_curves(records)
    priors = spatial_prior(curves, masks_dir) if masks_dir is not None else []
    return TicketFindings(curves, advantage_trend(curves), priors, margin)


def _claim(quantity: str, subject: str, e: Estimate, k: float, unit: str, scope: str, **at) -> Claim:
    """A ticket claim: an estimate (a fraction of accuracy, or a locality) shown times k in `unit`, null 0."""
    return Claim(statistic="tickets", quantity=quantity, subject=subject, estimate=k * e.value, lo=k * e.lo,
                 hi=k * e.hi, unit=unit, null=0.0, scope=scope, reference="a random mask", at=at)


def ticket_claims(f: TicketFindings) -> tuple[Claim, ...]:
    """What the tickets show, as claims: per dataset and family (its largest size pruned that far), how sparse its
    ticket stays within the margin of dense and its advantage over a random mask at high sparsity; the advantage
    against model size; each carried ticket's advantage where it was carried; the MLP first layer's locality."""
    out = []
    found = [c for c in f.curves if not c.transferred]
    sparse = round(100 * HIGH_SPARSITY)
    for ds in sorted({c.dataset for c in found}):
        biggest: dict[str, Curve] = {}
        for c in (c for c in found if c.dataset == ds):  # the largest size pruned that far (else its largest)
            b = biggest.get(c.family)
            if b is None or (bool(c.high_sparsity_points()), c.params) > (bool(b.high_sparsity_points()), b.params):
                biggest[c.family] = c
        for fam, c in sorted(biggest.items()):
            scope = (f"{ds}, {short_count(c.params)} parameters, {c.data_size:,} examples, {c.steps} steps, "
                     f"{c.seeds} seeds")
            kept = Estimate(c.matched_sparsity(f.margin), math.nan, math.nan)
            out.append(replace(_claim("matched sparsity", fam, kept, 100, "percent", scope, dataset=ds,
                                      margin=100 * f.margin, sparsity=sparse), null=None, reference=""))
            adv = high_advantage(c)
            if math.isfinite(adv.value):
                out.append(_claim("ticket advantage", fam, adv, 100, "points", scope, dataset=ds, sparsity=sparse))
        for t in (t for t in f.trends if t.dataset == ds and math.isfinite(t.slope.value)):
            out.append(_claim("ticket trend", t.family, t.slope, 100, "points",
                              f"{ds}, over {len(t.by_size)} model sizes", dataset=ds))
    moved = [c for c in f.curves if c.transferred]
    for c in sorted(moved, key=lambda c: (c.found_on, c.dataset, c.family, c.params)):
        if c.params == max(m.params for m in moved if m.family == c.family) and math.isfinite(high_advantage(c).value):
            out.append(_claim("carried ticket", c.family, high_advantage(c), 100, "points",
                              f"{c.dataset}, {short_count(c.params)} parameters, found on {c.found_on}",
                              dataset=c.dataset, found_on=c.found_on, sparsity=sparse))
    by_ds: dict[str, Prior] = {}
    for p in f.priors:  # the round nearest 90% sparsity of the largest MLP per dataset
        q = by_ds.get(p.dataset)
        if q is None or (p.params, -abs(p.sparsity - 0.9)) > (q.params, -abs(q.sparsity - 0.9)):
            by_ds[p.dataset] = p
    for ds, p in sorted(by_ds.items()):
        out.append(replace(_claim("ticket locality", "mlp", p.difference, 1, "locality",
                                  f"{ds}, {100 * p.sparsity:.0f}% sparse, {short_count(p.params)} parameters",
                                  dataset=ds, ticket=p.ticket.value, random=p.random.value),
                           reference="random masks"))
    return tuple(out)


def summary_text(records: Sequence[RunRecord], margin: float, masks_dir: Path | None = None) -> str:
    """`archbench tickets`' closing words: one line per chain, then the verdict."""
    f = findings(records, masks_dir, margin)
    lines = [f"{'family':<12} {'params':>7} {'dataset':<18} {'found on':<18} {'dense acc':>8} "
             f"{'matched':>8} {'ticket-random @>=' + format(HIGH_SPARSITY, '.0%'):>24}"]
    for c in f.curves:
        lines.append(f"{c.family:<12} {short_count(c.params):>7} {c.dataset:<18} {c.found_on:<18} "
                     f"{100 * c.dense.value:>8.1f} {100 * c.matched_sparsity(margin):>7.0f}% {diff(high_advantage(c)):>24}")
    return "\n".join(lines) + "\n\n" + tickets_section(ticket_claims(f)).text()


def findings_dict(f: TicketFindings) -> dict:
    """The tickets' numbers for fits.json, their claims, and the claims in words."""
    claims = ticket_claims(f)
    words = tickets_section(claims)
    est = lambda e: {"value": e.value, "lo": e.lo, "hi": e.hi}  # noqa: E731
    return {
        "margin": f.margin,
        "curves": [{"arch": c.arch, "dataset": c.dataset, "found_on": c.found_on, "params": c.params,
                    "data_size": c.data_size, "dense_acc": est(c.dense), "matched_sparsity": c.matched_sparsity(f.margin),
                    "points": [{"round": p.round, "sparsity": p.sparsity, "ticket_acc": est(p.ticket),
                                "random_acc": est(p.random), "advantage": est(p.advantage),
                                "vs_dense": est(p.vs_dense)} for p in c.points]} for c in f.curves],
        "advantage_trend": [{"family": t.family, "dataset": t.dataset, "slope_per_decade": est(t.slope),
                             "by_size": [{"params": n, "advantage": est(e)} for n, e in t.by_size]} for t in f.trends],
        "spatial_prior": [{"dataset": p.dataset, "arch": p.arch, "params": p.params, "round": p.round,
                           "sparsity": p.sparsity, "ticket": est(p.ticket), "random": est(p.random),
                           "difference": est(p.difference)} for p in f.priors],
        "claims": [c.to_dict() for c in claims],
        "words": words.to_dict(),
        "verdict": [*words.headline, *(b for bs in words.bullets.values() for b in bs)],
    }


# ---------------------------------------------------------------------------- figures


def _curve_figure(curves: Sequence[Curve], title: str) -> plt.Figure:
    """Accuracy against the fraction of weights remaining (log scale), one panel per family."""
    families = sorted({c.family for c in curves})
    fig, axes = plt.subplots(1, len(families), figsize=(3.6 * len(families), 3.4), squeeze=False, sharey=True)
    for ax, fam in zip(axes[0], families):
        mine = sorted((c for c in curves if c.family == fam), key=lambda c: c.params)
        shades = plt.get_cmap("viridis")(np.linspace(0.15, 0.85, len(mine)))
        for c, color in zip(mine, shades):
            remain = np.array([1.0] + [1 - p.sparsity for p in c.points])
            for kind, style in (("ticket", "-"), ("random", "--")):
                ests = [c.dense] + [getattr(p, kind) for p in c.points]
                y = np.array([100 * e.value for e in ests])
                err = np.nan_to_num(np.array([[100 * (e.value - e.lo), 100 * (e.hi - e.value)] for e in ests]).T)
                ax.errorbar(remain, y, yerr=err, fmt=style, marker="o" if kind == "ticket" else "x", ms=3,
                            color=color, capsize=2, label=f"{short_count(c.params)} {kind}")
        ax.set_xscale("log")
        ax.invert_xaxis()
        ax.set_title(fam)
        ax.set_xlabel("fraction of prunable weights remaining")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, loc="lower left")
    axes[0][0].set_ylabel("test accuracy, % (95% CI over seeds)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _mask_figure(panels: Sequence[tuple[str, np.ndarray]]) -> plt.Figure:
    """First-layer masks (input position x unit), units ordered by the mean position of their inputs."""
    fig, axes = plt.subplots(1, len(panels), figsize=(3.4 * len(panels), 3.2), squeeze=False)
    for ax, (title, m) in zip(axes[0], panels):
        pos = np.arange(m.shape[0])[:, None]
        centre = (m * pos).sum(0) / np.maximum(m.sum(0), 1)
        ax.imshow(m[:, np.argsort(centre)], aspect="auto", cmap="Greys", interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.set_xlabel("hidden unit (by mean input position)")
        ax.set_ylabel("input position")
    fig.tight_layout()
    return fig


def _mask_panels(f: TicketFindings, masks_dir: Path) -> list[tuple[str, np.ndarray]]:
    """The largest MLP's first-layer masks (seed 0's), at the round nearest 90% sparsity, per dataset found on."""
    panels = []
    for c in sorted(f.curves, key=lambda c: c.dataset):
        if c.family != "mlp" or c.transferred or c.params != max(
                d.params for d in f.curves if d.family == "mlp" and d.dataset == c.dataset):
            continue
        p = min(c.points, key=lambda p: abs(p.sparsity - 0.9))
        for kind, run in (("ticket", p.ticket_id), ("random", p.random_id)):
            path = masks_dir / f"{run}.npz"
            if path.is_file():
                masks = pruning.load_masks(path)
                m = masks[min(masks)].get(FIRST_LAYER)
                if m is not None:
                    panels.append((f"{c.dataset}: {kind}, {100 * p.sparsity:.0f}% sparse", m.astype(float)))
    return panels


def _figure_html(caption: str, data: bytes) -> str:
    b64 = base64.b64encode(data).decode()
    return (f'<figure><img class="plot" alt="{html.escape(caption)}" src="data:image/png;base64,{b64}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def section_html(f: TicketFindings, masks_dir: Path, plots_dir: Path) -> tuple[str, list[Path]]:
    """The report's lottery-ticket section and the PNGs it wrote."""
    if not f.curves:
        return "", []
    plots_dir.mkdir(parents=True, exist_ok=True)
    parts = ['<section class="tickets" id="tickets"><h2>Lottery tickets</h2>']
    words = tickets_section(ticket_claims(f))
    parts += [f'<p class="verdict-text">{html.escape(s)}</p>' for s in words.headline]
    parts += [f'<ul>{"".join(f"<li>{html.escape(b)}</li>" for b in bs)}</ul>' for bs in words.bullets.values()]
    parts.append("<p class=note>Iterative magnitude pruning with rewinding (docs/tickets.md): each round prunes a "
                 "fraction of the surviving kernel weights with the smallest magnitude, rewinds the survivors to an "
                 "early step and retrains on the same protocol; the control retrains a random mask with the same "
                 "number of survivors in every layer from the same weights. Accuracy: mean over seeds with its 95% "
                 "Student-t interval; differences paired by seed. Matched: the highest sparsity up to which the "
                 f"ticket's mean stays within {_points_words(f.margin)} of the dense model's.</p>")
    written = []
    for (ds, found_on) in sorted({(c.dataset, c.found_on) for c in f.curves}):
        mine = [c for c in f.curves if (c.dataset, c.found_on) == (ds, found_on)]
        title = f"{ds}: tickets found there" if ds == found_on else f"{ds}: tickets found on {found_on}"
        path = plots_dir / f"tickets-{slug(ds)}-from-{slug(found_on)}.png"
        parts.append(_figure_html(title + " (solid) against random masks (dashed)", _png(_curve_figure(mine, title), path)))
        written.append(path)
        rows = [[c.family, f"{c.params:,}", points(c.dense), f"{100 * c.matched_sparsity(f.margin):.0f}%",
                 diff(high_advantage(c))] for c in sorted(mine, key=lambda c: (c.family, c.params))]
        parts.append(html_table(["family", "params", "dense accuracy", "matched sparsity",
                                 f"ticket − random at ≥{100 * HIGH_SPARSITY:.0f}% sparse (points)"], rows))
    if f.trends:
        rows = [[t.dataset, t.family, "; ".join(f"{short_count(n)}: {diff(e)}" for n, e in t.by_size), diff(t.slope)]
                for t in f.trends]
        parts.append("<h3>Ticket advantage against model size</h3>")
        parts.append(html_table(["dataset", "family", "advantage by size (points)", "slope per decade"], rows))
    panels = _mask_panels(f, masks_dir)
    if panels:
        path = plots_dir / "tickets-first-layer-masks.png"
        parts.append(_figure_html("MLP first layer: surviving inputs (black) of each hidden unit, seed 0",
                                  _png(_mask_figure(panels), path)))
        written.append(path)
    if f.priors:
        rows = [[p.dataset, f"{p.params:,}", f"{100 * p.sparsity:.0f}%", f"{p.ticket.value:+.3f}", f"{p.random.value:+.3f}",
                 f"{p.difference.value:+.3f} [{p.difference.lo:+.3f}, {p.difference.hi:+.3f}]"] for p in f.priors]
        parts.append("<h3>Spatial prior of the MLP's first layer</h3><p class=note>Locality: 1 − (mean distance "
                     "between two surviving inputs of a unit) / (the same for random positions); 0 for random "
                     "placement, higher for inputs that cluster along the signal.</p>")
        parts.append(html_table(["found on", "params", "sparsity", "ticket", "random", "difference [95% CI]"], rows))
    parts.append("</section>")
    return "".join(parts), written


def ticket_findings(records: Sequence[RunRecord], suite_dir: Path) -> TicketFindings:
    """The findings of a suite's tickets, at the margin its last `archbench tickets` stated."""
    plan = saved_plan(suite_dir) or TicketsPlan()
    return findings(records, suite_dir / MASKS_DIR, plan.margin)


def saved_plan(suite_dir: Path) -> TicketsPlan | None:
    """The plan the suite's last `archbench tickets` ran (None: never run)."""
    path = suite_dir / TICKETS_PLAN_FILE
    if not path.is_file():
        return None
    doc = json.loads(path.read_text())
    return TicketsPlan(**{**doc, "transfer": tuple(doc.get("transfer", ())),
                          "transfer_archs": tuple(doc.get("transfer_archs", ())),
                          "also_on": tuple((f, tuple(ds)) for f, ds in doc.get("also_on", ()))})
