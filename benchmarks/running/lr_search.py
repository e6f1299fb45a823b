"""The learning-rate search: which trials a run trains, for how long, and which rate it keeps.

A suite's `[lr]` table is the search's only input (`LrPolicy.from_table`); its defaults are written here
once, and a RunSpec carries them as `lr`, `lr_trials`, `lr_extend`, `lr_tune_seeds`, `lr_search`,
`lr_rung` and `lr_keep` (`LrPolicy.of_spec`, `LrPolicy.spec_fields`). Two searches share one interface
(`search(policy, n_evals, train_trials)`); `train_trials(rates, until=, start=)` trains each rate on every
tuning seed and returns their `TrainOutput` (rate-major, then seed), so a search never sees data, models
or devices.

- **grid** (the full search): every grid rate trains the whole budget; then `extend` more trials
  (`protocol.extension_rates`: outward from an edge holding the best, else refining it) train the whole
  budget too; the trial with the lowest score is kept.
- **halving** (successive halving, one rung): every grid rate trains to the rung (`rung` of the planned
  evaluations); the `extend` trials are placed from the grid's scores at the rung and train to it too; the
  `keep` trials with the lowest best-so-far validation loss at the rung go on from where they stopped to
  the whole budget, the others are dropped there; the kept trial is the best finished one. A finished trial
  is the full search's trial (the same program, state and schedule), so halving only stops trials early.

A trial's score is the mean over the tuning seeds of each seed's best validation loss (`protocol.
trial_scores`); a dropped trial's score is its best at the rung. The result keeps every trial's curve and
the step it stopped at (`SearchResult.trials`), which the record stores (`RunRecord.lr_search`).
Why one rung at a quarter, keeping 2 (measured against the full search's own rerun-to-rerun noise):
docs/protocol.md.

Shape letters: M members (trial x tuning seed), E evaluations, T trials, S tuning seeds.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from benchmarks.running import protocol

if TYPE_CHECKING:
    from benchmarks.running.train import Resumed, TrainOutput

SearchKind = Literal["grid", "halving"]
SEARCHES: tuple[str, ...] = ("grid", "halving")


@dataclass(frozen=True)
class LrPolicy:
    """A suite's `[lr]` table: the rates tried, how many tuning seeds try them, and how the search chooses."""

    value: float = 1e-3  # the rate of a run without trials
    trials: tuple[float, ...] = ()  # the grid, log-spaced; the same for every family
    extend: int = 0  # trials every run adds after the grid (`protocol.extension_rates`)
    tune_seeds: int = 0  # how many seeds (the first) try every rate; the others train at the chosen one (0: all)
    search: SearchKind = "halving"  # halving: one rung, `keep` trials finish; grid: every trial to the end
    rung: float = 0.25  # halving: the fraction of the planned evaluations at which trials are compared
    keep: int = 2  # halving: how many trials train on from the rung to the end

    SPEC_FIELDS = {"value": "lr", "trials": "lr_trials", "extend": "lr_extend", "tune_seeds": "lr_tune_seeds",
                   "search": "lr_search", "rung": "lr_rung", "keep": "lr_keep"}

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> LrPolicy:
        """The policy of a suite's `[lr]` table (checked by `suite_checks.check_budget`); missing keys default."""
        d = cls()
        return cls(value=float(table.get("value", d.value)), trials=tuple(float(v) for v in table.get("trials", ())),
                   extend=int(table.get("extend", d.extend)), tune_seeds=int(table.get("tune_seeds", d.tune_seeds)),
                   search=str(table.get("search", d.search)), rung=float(table.get("rung", d.rung)),
                   keep=int(table.get("keep", d.keep)))

    @classmethod
    def of_spec(cls, spec: Any) -> LrPolicy:
        """The policy a RunSpec carries."""
        return cls(**{k: getattr(spec, f) for k, f in cls.SPEC_FIELDS.items()})

    def spec_fields(self) -> dict[str, Any]:
        """The RunSpec fields of this policy; those its search never reads (`unread`) at the values a record
        without them stands for, so a fixed rate is recorded as no search at all."""
        fields = {f: getattr(self, k) for k, f in self.SPEC_FIELDS.items()}
        return fields | {f: UNSEARCHED[f] for f in self.unread()}

    def unread(self) -> set[str]:
        """The RunSpec fields that cannot change this policy's result: the search's kind, rung and keep without
        trials to search; rung and keep under the full search. They stay out of the run id (`RunSpec.run_id`)."""
        if not self.trials:
            return set(UNSEARCHED)
        return {"lr_rung", "lr_keep"} if self.search == "grid" else set()

    def problems(self) -> list[tuple[str, str]]:
        """(key, message) for every setting out of range: the suite and the RunSpec refuse them alike."""
        out = []
        if self.value <= 0 or any(v <= 0 for v in self.trials):
            out.append(("trials", "learning rates must be positive"))
        if len(set(self.trials)) != len(self.trials):
            out.append(("trials", "learning-rate trials must be distinct"))
        if self.extend < 0:
            out.append(("extend", "lr_extend must be 0 or more"))
        if self.search not in SEARCHES:
            out.append(("search", f"the learning-rate search must be one of {', '.join(SEARCHES)}, got {self.search!r}"))
        if not 0 < self.rung < 1:
            out.append(("rung", f"the halving rung must be a fraction of the budget in (0, 1), got {self.rung:g}"))
        if self.keep < 1:
            out.append(("keep", f"the halving search must keep at least 1 trial, got {self.keep}"))
        return out

    def n_trials(self) -> int:
        """Trials every run trains (one where the rate is fixed)."""
        return len(self.trials) + self.extend if self.trials else 1

    def rung_evals(self, n_evals: int) -> int:
        """The evaluation at which halving compares trials: `rung` of the planned ones, at least one, before the end."""
        return min(max(1, math.ceil(self.rung * n_evals)), max(1, n_evals - 1))

    def halves(self, n_evals: int) -> bool:
        """Whether this run's search stops trials at a rung (halving, trials to drop, a budget of 2+ evaluations)."""
        return self.search == "halving" and bool(self.trials) and self.keep < self.n_trials() and n_evals >= 2


# The search fields of a record made before the search had a name: the full search, at the default rung and keep.
UNSEARCHED: dict[str, Any] = {"lr_search": "grid", "lr_rung": LrPolicy.rung, "lr_keep": LrPolicy.keep}


@dataclass(frozen=True)
class Trial:
    """One rate's trial: its score, the evaluations it trained (per tuning seed) and whether it finished."""

    lr: float
    score: float  # mean over tuning seeds of the best validation loss it reached (inf: a seed diverged)
    finished: bool  # trained the whole budget (or stopped early by the protocol's patience); False: dropped at the rung
    val_loss_SxE: np.ndarray  # its tuning seeds' validation curves (NaN past where each stopped)


@dataclass(frozen=True)
class SearchResult:
    """What a search tried and kept; `out` holds every trial's tuning members (trial-major), each with its
    longest curve (a finished trial's full run, a dropped one's curve to the rung)."""

    trials: list[Trial]
    chosen: int  # index into trials
    out: TrainOutput
    rung_evals: int | None  # halving: the evaluation trials were compared at; None: the full search

    @property
    def rates(self) -> list[float]:
        return [t.lr for t in self.trials]

    @property
    def scores(self) -> np.ndarray:
        return np.asarray([t.score for t in self.trials])

    def at_edge(self) -> bool:
        return protocol.at_edge(self.rates, self.scores)


TrainTrials = Callable[..., "TrainOutput"]  # (rates, *, until: int | None, start: Resumed | None) -> TrainOutput


def trial_scores(out: TrainOutput, n_trials: int, scored_at: str = "best_val_loss") -> np.ndarray:
    """Each trial's score from its members' validation curves: the scored evaluation's loss (the best so far,
    for a curve cut at the rung), averaged over the tuning seeds; inf where a seed diverged."""
    val_MxE = np.where(np.isfinite(out.curves["val_loss"]), out.curves["val_loss"], np.inf)
    scored = protocol.scored_eval(val_MxE, scored_at)
    best_val = np.take_along_axis(val_MxE, scored[:, None], axis=1)[:, 0]
    best_val = np.where(out.diverged_step >= 0, np.inf, best_val)
    return protocol.trial_scores(best_val.reshape(n_trials, -1))


def concat(a: TrainOutput, b: TrainOutput) -> TrainOutput:
    """Two calls' members side by side (same evaluation steps), their states too."""
    import jax
    import jax.numpy as jnp

    return dataclasses.replace(
        a, state=jax.tree.map(lambda x, y: jnp.concatenate([x, y]), a.state, b.state),
        curves={k: np.concatenate([a.curves[k], b.curves[k]]) for k in a.curves},
        evals_run=np.concatenate([a.evals_run, b.evals_run]),
        diverged_step=np.concatenate([a.diverged_step, b.diverged_step]),
        compile_s=a.compile_s + b.compile_s, train_s=a.train_s + b.train_s, kept=None,
    )


def _replace_rows(a: TrainOutput, rows: Sequence[int], b: TrainOutput) -> TrainOutput:
    """`a` with its members `rows` replaced by `b`'s members, in order (a trial continued past the rung); the
    states are left as they were (nothing goes on from a finished search)."""
    idx = np.asarray(rows, int)
    curves = {k: v.copy() for k, v in a.curves.items()}
    for k in curves:
        curves[k][idx] = b.curves[k]
    evals, diverged = a.evals_run.copy(), a.diverged_step.copy()
    evals[idx], diverged[idx] = b.evals_run, b.diverged_step
    return dataclasses.replace(a, curves=curves, evals_run=evals, diverged_step=diverged,
                               compile_s=a.compile_s + b.compile_s, train_s=a.train_s + b.train_s, kept=None)


def _members_state(out: TrainOutput, rows: Sequence[int]) -> Resumed:
    """Where members `rows` of `out` stopped: their state and history, to go on from (`train(start=...)`)."""
    import jax

    from benchmarks.running.train import Resumed

    idx = np.asarray(rows, int)
    n = int(np.max(out.evals_run[idx])) if len(idx) else 0
    history = [{k: v[idx, i] for k, v in out.curves.items()} for i in range(n)]
    return Resumed(state=jax.tree.map(lambda x: x[idx], out.state), history=history, train_s=0.0)


def _trials(rates: Sequence[float], scores: np.ndarray, out: TrainOutput, finished: Sequence[bool]) -> list[Trial]:
    s = out.curves["val_loss"].shape[0] // max(1, len(rates))
    return [Trial(lr=float(r), score=float(scores[i]), finished=bool(finished[i]),
                  val_loss_SxE=out.curves["val_loss"][i * s:(i + 1) * s]) for i, r in enumerate(rates)]


def grid(policy: LrPolicy, n_evals: int, train_trials: TrainTrials, scored_at: str = "best_val_loss") -> SearchResult:
    """The full search: every trial, grid and extension, trains the whole budget."""
    rates = list(policy.trials or (policy.value,))
    out = train_trials(rates)
    if policy.trials and policy.extend:
        more = protocol.extension_rates(rates, trial_scores(out, len(rates), scored_at), policy.extend)
        out = concat(out, train_trials(more))
        rates += more
    scores = trial_scores(out, len(rates), scored_at)
    return SearchResult(_trials(rates, scores, out, [True] * len(rates)), int(np.argmin(scores)), out, None)


def halving(policy: LrPolicy, n_evals: int, train_trials: TrainTrials, scored_at: str = "best_val_loss") -> SearchResult:
    """Successive halving with one rung: every trial to the rung, the `keep` best at it to the end."""
    if not policy.halves(n_evals):
        return grid(policy, n_evals, train_trials, scored_at)
    rung = policy.rung_evals(n_evals)
    rates = list(policy.trials)
    out = train_trials(rates, until=rung)
    if policy.extend:  # placed from the grid's scores at the rung, as the full search places them at the end
        more = protocol.extension_rates(rates, trial_scores(out, len(rates)), policy.extend)
        out = concat(out, train_trials(more, until=rung))
        rates += more
    at_rung = trial_scores(out, len(rates))  # best so far: the rule measured against the full search
    order = sorted(range(len(rates)), key=lambda i: (at_rung[i], i))
    kept = sorted(order[:policy.keep])
    s = out.curves["val_loss"].shape[0] // len(rates)
    going_on = [i for i in kept if np.isfinite(at_rung[i])]  # a diverged trial has nothing to go on with
    if going_on:
        go_rows = [i * s + j for i in going_on for j in range(s)]
        finished_out = train_trials([rates[i] for i in going_on], start=_members_state(out, go_rows))
        out = _replace_rows(out, go_rows, finished_out)
    final = trial_scores(out, len(rates), scored_at)
    scores = np.where(np.isin(np.arange(len(rates)), going_on), final, at_rung)
    chosen = min(kept, key=lambda i: (scores[i], i))
    return SearchResult(_trials(rates, scores, out, [i in going_on for i in range(len(rates))]), chosen, out, rung)


def search(policy: LrPolicy, n_evals: int, train_trials: TrainTrials, scored_at: str = "best_val_loss") -> SearchResult:
    """Run the policy's search (`grid` or `halving`) through `train_trials`."""
    return (halving if policy.search == "halving" else grid)(policy, n_evals, train_trials, scored_at)


def record(result: SearchResult, steps: Sequence[int], policy: LrPolicy) -> dict[str, Any]:
    """The search as a record keeps it: method, rung step, and per trial its rate, score, whether it finished,
    the step each tuning seed stopped at and its validation curve."""
    if len(result.trials) <= 1:
        return {}
    trials = []
    for t in result.trials:
        ran = ~np.isnan(t.val_loss_SxE)
        stopped = [steps[int(np.flatnonzero(r)[-1])] if r.any() else 0 for r in ran]
        trials.append({"lr": t.lr, "score": t.score, "finished": t.finished, "stopped_step": stopped,
                       "val_loss": [[float(v) for v in row[r]] for row, r in zip(t.val_loss_SxE, ran)]})
    return {"method": policy.search if result.rung_evals is not None else "grid",
            "rung_step": steps[result.rung_evals - 1] if result.rung_evals is not None else None,
            "keep": policy.keep if result.rung_evals is not None else None, "trials": trials}
