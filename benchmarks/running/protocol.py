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
    if scored_at == "last_step":
        return np.full(val_loss_MxE.shape[0], val_loss_MxE.shape[1] - 1)
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
