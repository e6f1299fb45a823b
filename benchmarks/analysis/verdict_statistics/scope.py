"""What the verdict rests on: the families, sizes, data sizes, seeds and budget, and the runs to read with care.

A claim holds for the runs it was measured on. This statistic closes the verdict with them, counts the
runs that had not converged when their budget ended (`record.converged is False`) and those whose
learning rate is on an edge of the search (`record.lr_at_edge`), and says what they do to the claims:
the pairwise contrasts are computed again without them, and every pair whose decision changes is named.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from benchmarks.analysis.claims import NAN, Claim
from benchmarks.analysis.verdict_statistics import DatasetRuns, register_statistic
from benchmarks.analysis.verdict_statistics.contrasts import PairwiseContrasts, pairwise_contrasts
from benchmarks.analysis.wording import short_count, span
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
    changed: tuple[tuple[str, str, int, int], ...] = ()  # (x, y, before, after) pair decisions that change without
    # the runs above: +1 x above y, −1 y above x, 0 within noise
    lost: tuple[str, ...] = ()  # pairs that cannot be compared without them (no cell left in common)
    kept_runs: int = 0  # runs left without them
    checked: bool = False  # whether the contrasts were computed again without them
    claims: tuple[Claim, ...] = ()

    def to_dict(self) -> dict:
        return {"scope": {"families": list(self.families), "model_sizes": list(self.sizes),
                          "data_sizes": list(self.data_sizes), "seeds_per_run": self.seeds, "budget": self.budget,
                          "unconverged_runs": list(self.unconverged), "lr_at_edge_runs": list(self.at_edge),
                          "decisions_changed_without_them": [list(c) for c in self.changed] if self.checked else None,
                          "pairs_not_comparable_without_them": list(self.lost) if self.checked else None}}


def _changes(before: PairwiseContrasts, after: PairwiseContrasts) -> tuple[tuple, tuple[str, ...]]:
    """(pairs whose decision changes: (x, y, before, after) with x < y by name; pairs no longer comparable)."""
    b, a = before.decisions(), after.decisions()
    changed, lost = [], []
    for pair, decision in b.items():
        x, y = sorted(pair)
        now = a.get(pair)
        if now is None:
            lost.append(f"{x} and {y}")
        elif now != decision:
            changed.append((x, y, decision, now))
    return tuple(changed), tuple(lost)


@register_statistic("scope", order=100)
def scope(runs: DatasetRuns, earlier: Mapping) -> Scope:
    records = runs.records
    unconverged = tuple(run_label(r) for r in records if r.converged is False)
    edge = tuple(run_label(r) for r in records if r.lr_at_edge)
    design = {"families": len(runs.archs), "sizes": len(runs.levels[1]), "data_sizes": len(runs.levels[2])}
    runs_claim = Claim(statistic="scope", quantity="runs", subject="the runs", estimate=float(len(records)), lo=NAN,
                       hi=NAN, unit="count", null=None, scope=runs.dataset, at=design)
    base = Scope(families=tuple(runs.archs), sizes=tuple(runs.levels[1]), data_sizes=tuple(runs.levels[2]),
                 seeds=runs.seeds_per_run, budget=budget_words(records), unconverged=unconverged, at_edge=edge,
                 n_runs=len(records), claims=(runs_claim,))
    if unconverged or edge:
        care = Claim(statistic="scope", quantity="runs to read with care", subject="the runs",
                     estimate=float(len(unconverged)), lo=NAN, hi=NAN, unit="count", null=None, scope=runs.dataset,
                     at={"runs": len(records), "at_edge": len(edge)})
        base = Scope(**{**base.__dict__, "claims": (runs_claim, care)})
    contrasts: PairwiseContrasts | None = earlier.get("contrasts")
    if not (unconverged or edge) or contrasts is None or not contrasts.contrasts or not runs.has_intervals:
        return base
    clean = runs.subset(lambda r: r.converged is not False and not r.lr_at_edge)
    kept = 0 if clean is None else len(clean.records)
    after = pairwise_contrasts(clean) if clean is not None and len(clean.archs) > 1 else PairwiseContrasts(())
    changed, lost = _changes(contrasts, after)
    decisions = Claim(statistic="scope", quantity="decisions changed", subject="the pairs", estimate=float(len(changed)),
                      lo=NAN, hi=NAN, unit="count", null=None,
                      scope=f"{runs.dataset}, without the {len(records) - kept} runs to read with care",
                      at={"pairs": len(contrasts.contrasts), "lost": len(lost), "families": len(runs.archs)})
    return Scope(**{**base.__dict__, "changed": changed, "lost": lost, "kept_runs": kept, "checked": True,
                    "claims": (*base.claims, decisions)})
