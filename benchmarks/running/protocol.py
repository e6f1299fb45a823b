"""The training protocol's rules, as pure functions: how long a run trains, which evaluation is
scored, whether it converged, and which learning rates the search tries.

- **Budget tied to the data** (`steps_for`): a suite states its budget in epochs, with a floor
  and a cap in steps; a run trains `ceil(epochs * data_size / batch_size)` steps, clamped to
  [min_steps, max_steps] and rounded up to whole evaluation intervals. A larger training set
  is therefore never trained for fewer epochs than the cap allows a smaller one, and never for
  fewer steps.
- **Best checkpoint on validation** (`best_eval`, `scored_eval`): of the evaluations of a member,
  the one with the lowest validation loss is scored (its step is the record's `best_step`); the
  test split never chooses anything. A suite reproducing a paper that reports its last step
  scores the last evaluation instead (`scored_at = "last_step"`).
- **Convergence** (`has_converged`): a member converged when the last quarter of its
  evaluations brought less than `CONVERGENCE_TOL` (2%) of its whole improvement in best
  validation loss: the run ended on a plateau, or after its validation loss had turned up (it
  overfits, and the best checkpoint is kept).
- **Early stopping** (`stops_early`, `evals_run`; the suite's `patience`, 0 by default): a member
  stops once its best validation loss is `patience` of the planned evaluations old. With
  `patience` ≥ 0.25 a stopped member has converged by the rule above (its best lies before the last
  quarter of the evaluations it ran), so the compute a run would spend overfitting, or at a plateau,
  is saved without changing what is scored.
- **Learning-rate search** (`extension_rates`, `at_edge`): the suite's log-spaced grid, then
  `extend` more trials for every run: outward, one grid step at a time, from the edge where the
  best rate sits; where the best is inside the grid, the extra trials refine it (geometric
  midpoints beside it). Every run of every family thus trains the same number of trials, and a
  choice still on an edge of all the trials is flagged `lr_at_edge`.

Shape letters: M members, E evaluations, T trials, S seeds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

CONVERGENCE_TOL = 0.02  # share of the run's validation-loss improvement that the last quarter may still bring


def steps_for(data_size: int, batch_size: int, epochs: float, min_steps: int, max_steps: int, eval_every: int) -> int:
    """Steps of a run under an epoch budget with a floor and a cap, in whole evaluation intervals."""
    wanted = math.ceil(epochs * data_size / batch_size)
    steps = min(max(wanted, min_steps), max_steps)
    return math.ceil(steps / eval_every) * eval_every


def best_eval(val_loss_MxE: np.ndarray) -> np.ndarray:
    """Per member, the index of the evaluation with the lowest finite validation loss (0 if none is finite)."""
    v = np.where(np.isfinite(val_loss_MxE), val_loss_MxE, np.inf)
    return np.argmin(v, axis=1)


def scored_eval(val_loss_MxE: np.ndarray, scored_at: str) -> np.ndarray:
    """Per member, the index of the scored evaluation: the lowest validation loss, or the last one."""
    if scored_at == "last_step":  # the last evaluation a member ran (its early stop, if it stopped)
        ran = ~np.isnan(val_loss_MxE)
        return np.where(ran.any(axis=1), val_loss_MxE.shape[1] - 1 - np.argmax(ran[:, ::-1], axis=1),
                        val_loss_MxE.shape[1] - 1)
    return best_eval(val_loss_MxE)


def has_converged(val_loss_E: Sequence[float], tol: float = CONVERGENCE_TOL) -> bool:
    """Whether the last quarter of the evaluations brought less than `tol` of the run's improvement.

    The improvement is the drop of the best validation loss from the first evaluation; the last
    quarter's share is how much of that drop came after the first three quarters.
    """
    v = np.asarray(val_loss_E, dtype=np.float64)
    if v.size < 4 or not np.isfinite(v).all():
        return False
    head = v[: v.size - max(1, v.size // 4)]
    total = v[0] - v.min()
    late = head.min() - v.min()
    return bool(late <= tol * total) if total > 0 else True


def stops_early(val_loss_E: Sequence[float], n_planned: int, patience: float) -> bool:
    """Whether a member stops after these evaluations: its best (lowest finite) validation loss is at least
    `patience` x `n_planned` evaluations old (at least one). A member with no finite loss yet counts its
    first evaluation as its best, so a diverged member stops too. `patience` 0: never."""
    if patience <= 0 or len(val_loss_E) == 0:
        return False
    v = np.where(np.isfinite(val_loss_E), val_loss_E, np.inf)
    wait = max(1, math.ceil(patience * n_planned))
    return len(v) - 1 - int(np.argmin(v)) >= wait


def evals_run(history_E: Sequence[np.ndarray], n_members: int, n_planned: int, patience: float) -> np.ndarray:
    """Per member, the evaluations it trains through: the first count after which it stops early, else
    `n_planned`. `history_E` holds each finished evaluation's validation losses (M,); a member's points
    after its stop are ignored, so replaying a resumed run's history gives the same answer."""
    out = np.full(n_members, n_planned, int)
    if not history_E or patience <= 0:
        return out
    v_MxE = np.stack([np.asarray(h, dtype=np.float64) for h in history_E], axis=1)
    for m in range(n_members):
        for e in range(1, v_MxE.shape[1] + 1):
            if e < n_planned and stops_early(v_MxE[m, :e], n_planned, patience):
                out[m] = e
                break
    return out


def trial_scores(best_val_TxS: np.ndarray) -> np.ndarray:
    """A trial's score: the mean over seeds of each seed's best validation loss (inf if any is not finite)."""
    finite = np.isfinite(best_val_TxS).all(axis=1)
    return np.where(finite, np.where(finite[:, None], best_val_TxS, 0.0).mean(axis=1), np.inf)


def grid_ratio(rates: Sequence[float]) -> float:
    """The grid's step: the geometric mean ratio between neighbouring rates (3 when there is one rate)."""
    r = sorted(rates)
    return (r[-1] / r[0]) ** (1 / (len(r) - 1)) if len(r) > 1 else 3.0


def at_edge(rates: Sequence[float], scores: Sequence[float]) -> bool:
    """Whether the best-scoring rate is the smallest or the largest tried (a lone rate is on both edges)."""
    if not np.isfinite(scores).any():
        return True
    best = rates[int(np.argmin(scores))]
    return best in (min(rates), max(rates))


def extension_rates(rates: Sequence[float], scores: Sequence[float], extend: int) -> list[float]:
    """The `extend` trials added after the grid: outward from the edge holding the best rate, else refining it.

    With no finite score (every trial diverged) the search goes downward: lower rates are the remedy.
    """
    if extend <= 0:
        return []
    r = sorted(rates)
    ratio = grid_ratio(r)
    s = dict(zip(rates, scores))
    finite = [x for x in r if np.isfinite(s[x])]
    best = min(finite, key=lambda x: s[x]) if finite else r[0]
    if best == r[0]:
        return [r[0] / ratio ** k for k in range(1, extend + 1)]
    if best == r[-1] and finite:
        return [r[-1] * ratio ** k for k in range(1, extend + 1)]
    # Interior: geometric midpoints beside the best, nearest first, alternating sides.
    out: list[float] = []
    k = 1
    while len(out) < extend:
        for side in (+1, -1):
            if len(out) < extend:
                out.append(best * ratio ** (side / 2 ** k))
        k += 1
    return out
