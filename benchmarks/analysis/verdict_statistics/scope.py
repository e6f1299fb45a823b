"""What the verdict rests on: the families, sizes, data sizes, seeds and budget, and the runs to read with care.

A claim holds for the runs it was measured on. This statistic closes the verdict with them, counts the
runs that had not converged when their budget ended (`record.converged is False`) and those whose
learning rate is on an edge of the search (`record.lr_at_edge`), and says what they do to the claims:
the pairwise contrasts are computed again without them, and every pair whose decision changes is named.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from benchmarks.analysis.verdict_statistics import DatasetRuns, register_statistic
from benchmarks.analysis.verdict_statistics.contrasts import PairwiseContrasts, pairwise_contrasts
from benchmarks.analysis.verdict_text import count_of, join_words, short_count, span
from benchmarks.spec import RunRecord


def run_label(r: RunRecord) -> str:
    return f"{r.spec.arch} {short_count(r.spec.target_params)}/{r.spec.data_size:,}"


def budget_words(records: list[RunRecord]) -> str:
    specs = [r.spec for r in records]
    epochs = sorted({s.budget_epochs for s in specs})
    steps = [s.steps for s in specs]
    batch = sorted({s.batch_size for s in specs})
    trials = sorted({len(s.lr_trials) + s.lr_extend for s in specs})
    out = (f"{span(epochs, lambda e: f'{e:g}')} epochs" if epochs[0] > 0 else "") + (
        f" ({span(steps, lambda s: f'{s:,}')} steps)" if epochs[0] > 0 else f"{span(steps, lambda s: f'{s:,}')} steps")
    out += f" of batch {span(batch, str)}"
    if trials[-1] > 1:
        out += f", {span(trials, str)} learning rates tried per run"
    return out.strip()


@dataclass(frozen=True)
class Scope:
    families: tuple[str, ...]
    sizes: tuple[int, ...]
    data_sizes: tuple[int, ...]
    seeds: float
    budget: str
    unconverged: tuple[str, ...]  # runs (labels) that had not converged when their budget ended
    at_edge: tuple[str, ...]  # runs whose chosen learning rate is on an edge of the search
    n_runs: int
    changed: tuple[str, ...] = ()  # pair decisions that change without the runs above
    lost: tuple[str, ...] = ()  # pairs that cannot be compared without them (no cell left in common)
    kept_runs: int = 0  # runs left without them
    checked: bool = False  # whether the contrasts were computed again without them
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"scope": {"families": list(self.families), "model_sizes": list(self.sizes),
                          "data_sizes": list(self.data_sizes), "seeds_per_run": self.seeds, "budget": self.budget,
                          "unconverged_runs": list(self.unconverged), "lr_at_edge_runs": list(self.at_edge),
                          "decisions_changed_without_them": list(self.changed) if self.checked else None,
                          "pairs_not_comparable_without_them": list(self.lost) if self.checked else None}}


def _listed(labels: tuple[str, ...], limit: int = 4) -> str:
    shown = list(labels[:limit]) + ([f"{len(labels) - limit} more"] if len(labels) > limit else [])
    return join_words(shown)


def describe(s: Scope, dataset) -> list[str]:
    out = [f"Scope: {count_of(len(s.families), 'family')} ({', '.join(s.families)}), "
           f"{span(s.sizes, short_count)} parameters, {span(s.data_sizes, lambda d: f'{d:,}')} training examples, "
           f"{s.seeds:.3g} seed{'' if s.seeds == 1 else 's'} a run, {s.budget}; none of it says anything beyond them, "
           "and every share above describes these families and sizes only."]
    flagged = []
    if s.unconverged:
        flagged.append(f"{len(s.unconverged)} of {s.n_runs} runs had not converged when their budget ended "
                       f"({_listed(s.unconverged)}: their loss is after this budget, not at convergence)")
    if s.at_edge:
        flagged.append(f"{len(s.at_edge)} chose a learning rate on an edge of the search ({_listed(s.at_edge)}: "
                       "a rate further out might do better)")
    if flagged:
        text = "; ".join(flagged)
        out.append(f"{text[0].upper()}{text[1:]}.")
        if s.checked:
            out.append(_robustness(s))
    return out


def _robustness(s: Scope) -> str:
    """What the pairwise decisions do without the runs to read with care."""
    head = f"Without them ({s.kept_runs} runs left)"
    if not s.changed and not s.lost:
        return f"{head} every pairwise decision above stays the same."
    parts = []
    if s.changed:
        parts.append(f"the decision changes for {_listed(s.changed)}")
    if s.lost:
        parts.append(f"{count_of(len(s.lost), 'pair')} can no longer be compared (no cell left in common)")
    return f"{head} {' and '.join(parts)}: those decisions rest on runs to read with care."


def _changes(before: PairwiseContrasts, after: PairwiseContrasts) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(pairs whose decision changes, with how; pairs no longer comparable)."""
    b, a = before.decisions(), after.decisions()
    changed, lost = [], []
    for pair, decision in b.items():
        x, y = sorted(pair)
        now = a.get(pair)
        if now is None:
            lost.append(f"{x} and {y}")
        elif now != decision:
            changed.append(f"{x} and {y} ({'separated' if decision else 'not separated'} → "
                           f"{'separated' if now else 'not separated'})")
    return tuple(changed), tuple(lost)


@register_statistic("scope", order=100, describe=describe)
def scope(runs: DatasetRuns, earlier: Mapping) -> Scope:
    records = runs.records
    unconverged = tuple(run_label(r) for r in records if r.converged is False)
    edge = tuple(run_label(r) for r in records if r.lr_at_edge)
    base = Scope(families=tuple(runs.archs), sizes=tuple(runs.levels[1]), data_sizes=tuple(runs.levels[2]),
                 seeds=runs.seeds_per_run, budget=budget_words(records), unconverged=unconverged, at_edge=edge,
                 n_runs=len(records))
    contrasts: PairwiseContrasts | None = earlier.get("contrasts")
    if not (unconverged or edge) or contrasts is None or not contrasts.contrasts or not runs.has_intervals:
        return base
    clean = runs.subset(lambda r: r.converged is not False and not r.lr_at_edge)
    kept = 0 if clean is None else len(clean.records)
    after = pairwise_contrasts(clean) if clean is not None and len(clean.archs) > 1 else PairwiseContrasts(())
    changed, lost = _changes(contrasts, after)
    return Scope(**{**base.__dict__, "changed": changed, "lost": lost, "kept_runs": kept, "checked": True})
