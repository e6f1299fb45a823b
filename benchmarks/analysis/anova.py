"""Analysis of variance of log loss over the verdict's factors, for many bootstrap replicates at once.

Type II sums of squares (each term against the model of every term that does not
contain it), so a grid with missing runs is handled; as projections, so one set of
bases serves the observed losses and every replicate alike. Shapes: n observations
(seeds of every run), F factors, B replicates.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np


def _orth(columns: list[np.ndarray]) -> np.ndarray:
    m = np.hstack(columns)
    u, s, _ = np.linalg.svd(m, full_matrices=False)
    return u[:, : int((s > s[0] * 1e-10).sum())]


def _indicators(codes_nxF: np.ndarray, term: tuple[int, ...]) -> np.ndarray:
    """One column per cell of the term's factors (their span holds every lower-order term too)."""
    _, cell = np.unique(codes_nxF[:, list(term)], axis=0, return_inverse=True)
    return np.eye(cell.max() + 1)[cell.ravel()]


@dataclass(frozen=True)
class Anova:
    """Type II sums of squares of every term, as projections that apply to many replicates at once."""

    terms: list[tuple[int, ...]]
    bases: list[tuple[np.ndarray, np.ndarray]]  # per term: (model without it, model with it)
    full: np.ndarray
    df: list[int]
    df_resid: int

    @classmethod
    def of(cls, codes_nxF: np.ndarray) -> Anova:
        n = len(codes_nxF)
        present = [f for f in range(codes_nxF.shape[1]) if np.unique(codes_nxF[:, f]).size > 1]
        terms = [t for size in range(1, len(present) + 1) for t in itertools.combinations(present, size)]
        one = np.ones((n, 1))
        bases, df = [], []
        for t in terms:
            others = [one] + [_indicators(codes_nxF, s) for s in terms if not set(t) <= set(s)]
            small, big = _orth(others), _orth(others + [_indicators(codes_nxF, t)])
            bases.append((small, big))
            df.append(big.shape[1] - small.shape[1])
        full = _orth([one] + [_indicators(codes_nxF, t) for t in terms])
        return cls(terms, bases, full, df, n - full.shape[1])

    def sums_of_squares(self, y_Bxn: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(B, terms) SS per term, (B,) residual SS, (B,) total SS."""
        sq = lambda q: ((y_Bxn @ q) ** 2).sum(axis=1)
        ss = np.stack([sq(big) - sq(small) for small, big in self.bases], axis=1)
        resid = (y_Bxn**2).sum(axis=1) - sq(self.full)
        total = ((y_Bxn - y_Bxn.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
        return ss, resid, total

    def excess_shares(self, y_Bxn: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(B, terms) share beyond seed noise, (B, terms) raw eta², (B,) seed-noise share."""
        ss, resid, total = self.sums_of_squares(y_Bxn)
        ms_resid = resid / self.df_resid if self.df_resid > 0 else np.zeros_like(resid)
        return (ss - np.array(self.df) * ms_resid[:, None]) / total[:, None], ss / total[:, None], resid / total
