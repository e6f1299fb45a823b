"""Variance shares of log loss over the verdict's factors, beyond seed noise, for many replicates at once.

Type II sums of squares (each term against the model of every term that does not contain it), so a
grid with missing runs is handled; as projections, so one set of bases serves the observed losses and
every simulated replicate alike. A term the design cannot separate from the others (no degrees of
freedom of its own: a family that ran only at sizes no other family ran at) gets no share and is
named in `aliased`; the variance that several terms explain together and none alone is `confounded`.

What a share estimates: over the observations of the design, the variance of the noise-free means that
a term carries, V_t = SS_t(μ)/n, out of the total variance of a seed's log loss, Σ V + V_confounded +
seed variance. The seed variance follows the split plot of `benchmarks.analysis.seed_noise` (an init
shared across data sizes, noise of each seed), estimated per family, since families are not equally
noisy; E[SS_t(y)] = SS_t(μ) + tr(P_t Σ), so each SS is corrected by its expected noise. Shapes: n
observations (seeds of every run), F factors, T terms, B replicates.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from benchmarks.analysis.seed_noise import indicators, orth


def _indicators(codes_nxF: np.ndarray, term: tuple[int, ...]) -> np.ndarray:
    """One column per cell of the term's factors (their span holds every lower-order term too)."""
    _, cell = np.unique(codes_nxF[:, list(term)], axis=0, return_inverse=True)
    return np.eye(cell.max() + 1)[cell.ravel()]


@dataclass(frozen=True)
class Anova:
    """Type II sums of squares of every estimable term, as projections that apply to many replicates at once."""

    terms: list[tuple[int, ...]]
    bases: list[tuple[np.ndarray, np.ndarray]]  # per term: (model without it, model with it)
    full: np.ndarray
    df: list[int]
    df_resid: int
    aliased: list[tuple[int, ...]]  # terms with no degrees of freedom of their own in this design

    @classmethod
    def of(cls, codes_nxF: np.ndarray) -> Anova:
        n = len(codes_nxF)
        present = [f for f in range(codes_nxF.shape[1]) if np.unique(codes_nxF[:, f]).size > 1]
        candidates = [t for size in range(1, len(present) + 1) for t in itertools.combinations(present, size)]
        one = np.ones((n, 1))
        terms, bases, df, aliased = [], [], [], []
        for t in candidates:
            # the model of every term not containing t: spanned by the largest such terms' indicators alone
            rest = [s for s in candidates if not set(t) <= set(s)]
            largest = [s for s in rest if not any(set(s) < set(r) for r in rest)]
            others = [one] + [_indicators(codes_nxF, s) for s in largest]
            small, big = orth(np.hstack(others)), orth(np.hstack(others + [_indicators(codes_nxF, t)]))
            if big.shape[1] == small.shape[1]:
                aliased.append(t)
                continue
            terms.append(t)
            bases.append((small, big))
            df.append(big.shape[1] - small.shape[1])
        full = orth(np.hstack([one] + ([_indicators(codes_nxF, candidates[-1])] if candidates else [])))
        return cls(terms, bases, full, df, n - full.shape[1], aliased)

    def sums_of_squares(self, y_Bxn: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(B, terms) SS per term, (B,) SS of the whole model, (B,) total SS (about the mean)."""
        sq = lambda q: ((y_Bxn @ q) ** 2).sum(axis=1)
        ss = np.stack([sq(big) - sq(small) for small, big in self.bases], axis=1) if self.bases else np.zeros(
            (len(y_Bxn), 0))
        total = ((y_Bxn - y_Bxn.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
        model = sq(self.full) - y_Bxn.sum(axis=1) ** 2 / y_Bxn.shape[1]
        return ss, model, total


@dataclass(frozen=True)
class _FamilyNoise:
    """The split-plot moment estimator of one family's seed noise, vectorised over replicates."""

    index: np.ndarray  # its observations
    cells: np.ndarray  # orthonormal basis of its runs' indicators (restricted to its observations)
    both: np.ndarray  # ... of its runs' and plots' indicators
    plot_df: int
    within_df: int
    trace: float
    plot_sizes: np.ndarray  # observations per plot

    @classmethod
    def of(cls, index: np.ndarray, run_n: np.ndarray, plot_n: Sequence) -> _FamilyNoise:
        x, z = indicators(list(run_n[index])), indicators([plot_n[i] for i in index])
        q1, q2 = orth(x), orth(np.hstack([x, z]))
        df1, df2 = index.size - q1.shape[1], index.size - q2.shape[1]
        trace = float(z.sum() - np.sum((q1.T @ z) ** 2))
        if df1 - df2 == 0 or df2 == 0 or trace <= 1e-9:  # shared and own parts not separable: one variance
            return cls(index, q1, q1, 0, df1, 0.0, z.sum(axis=0))
        return cls(index, q1, q2, df1 - df2, df2, trace, z.sum(axis=0))

    def components(self, y_Bxn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B,) τ² and (B,) σ², unbiased (τ² may fall below 0); σ² alone where the parts are not separable."""
        y = y_Bxn[:, self.index]
        sq = (y**2).sum(axis=1)
        ss1 = sq - ((y @ self.cells) ** 2).sum(axis=1)
        if self.plot_df == 0:
            sigma2 = ss1 / self.within_df if self.within_df else np.full(len(y), np.nan)
            return np.zeros(len(y)), sigma2
        ss2 = sq - ((y @ self.both) ** 2).sum(axis=1)
        sigma2 = ss2 / self.within_df
        return ((ss1 - ss2) / self.plot_df - sigma2) * self.plot_df / self.trace, sigma2


@dataclass(frozen=True)
class ShareModel:
    """Variance shares beyond seed noise of one design: its ANOVA, and what seed noise adds to each SS."""

    anova: Anova
    families: list[_FamilyNoise]
    # expected noise in each SS per unit of (σ²_f, τ²_f): (T + 2, families) each; rows: terms, model, total
    own_weight: np.ndarray
    plot_weight: np.ndarray
    n: int

    @classmethod
    def of(cls, codes_nxF: np.ndarray, run_n: np.ndarray, family_n: np.ndarray, plot_n: Sequence) -> ShareModel:
        anova = Anova.of(codes_nxF)
        n = len(codes_nxF)
        fams = [_FamilyNoise.of(np.flatnonzero(family_n == f), run_n, plot_n) for f in np.unique(family_n)]
        z = indicators(list(plot_n))
        one = np.ones((n, 1)) / np.sqrt(n)
        projections = [(small, big) for small, big in anova.bases] + [(one, anova.full), (one, np.eye(n))]
        own = np.zeros((len(projections), len(fams)))
        plot = np.zeros_like(own)
        for j, (small, big) in enumerate(projections):
            diag = (big**2).sum(axis=1) - (small**2).sum(axis=1)  # diagonal of P = big bigᵀ − small smallᵀ
            zp = ((big.T @ z) ** 2).sum(axis=0) - ((small.T @ z) ** 2).sum(axis=0)  # z_wᵀ P z_w per plot
            for k, f in enumerate(fams):
                own[j, k] = diag[f.index].sum()
                plot[j, k] = zp[np.unique(z[f.index].argmax(axis=1))].sum()
        return cls(anova, fams, own, plot, n)

    def shares(self, y_Bxn: np.ndarray) -> dict[str, np.ndarray]:
        """Per replicate: `terms` (B, T) shares, `confounded` (B,), `noise` (B,) seed noise's share and `noise_var`
        its variance (a seed's, averaged over the observations), `tau2`/`sigma2` (B, families)."""
        ss, model, _ = self.anova.sums_of_squares(y_Bxn)
        comps = [f.components(y_Bxn) for f in self.families]
        tau2 = np.stack([t for t, _ in comps], axis=1)
        sigma2 = np.stack([s for _, s in comps], axis=1)
        corr = sigma2 @ self.own_weight.T + tau2 @ self.plot_weight.T  # (B, T + 2)
        sizes = np.array([f.index.size for f in self.families])
        noise = (sigma2 + tau2) @ sizes / self.n
        v_terms = (ss - corr[:, :-2]) / self.n
        v_model = (model - corr[:, -2]) / self.n
        total = v_model + noise
        with np.errstate(divide="ignore", invalid="ignore"):
            return {"terms": v_terms / total[:, None], "confounded": (v_model - v_terms.sum(axis=1)) / total,
                    "noise": noise / total, "noise_var": noise, "tau2": tau2, "sigma2": sigma2}

    def simulate(self, mean_n: np.ndarray, plot_n: Sequence, n_rep: int, rng: np.random.Generator,
                 y_n: np.ndarray) -> np.ndarray:
        """(n_rep, n) replicates: the means plus each family's init and seed noise as estimated from y_n (τ²
        floored at 0)."""
        _, plot_idx = np.unique([repr(p) for p in plot_n], return_inverse=True)
        tau = np.zeros(self.n)
        sig = np.zeros(self.n)
        for f in self.families:
            t2, s2 = (float(c[0]) for c in f.components(y_n[None]))
            tau[f.index] = np.sqrt(max(t2, 0.0))
            sig[f.index] = np.sqrt(max(s2, 0.0)) if np.isfinite(s2) else 0.0
        u = rng.standard_normal((n_rep, plot_idx.max() + 1))[:, plot_idx]
        return mean_n[None] + tau * u + sig * rng.standard_normal((n_rep, self.n))

    def world(self, cell_mean_n: np.ndarray, y_n: np.ndarray, keep: float = 0.5) -> np.ndarray:
        """The means replicates are drawn around: the cell means, each term's part shrunk towards the
        noise-corrected estimate of its SS, keeping `keep` of the noise the cell means add to it.

        A run's mean carries seed noise, which puts more into every term than the data show; the spread of
        a term's estimate grows with its signal (a noncentral χ²), so replicates around the raw means give a
        small term too wide an interval, and around fully shrunk ones too narrow a one. Halfway keeps every
        share's coverage within 90–99% at the shipped suites' designs (docs/verdict-coverage.md)."""
        s = self.shares(y_n[None])
        sizes = np.array([f.index.size for f in self.families])
        noise = float(((s["sigma2"][0] + s["tau2"][0]) @ sizes) / sizes.sum())
        total = noise / s["noise"][0] if s["noise"][0] > 0 else np.nan
        out = cell_mean_n.copy()
        for (small, big), share in zip(self.anova.bases, s["terms"][0], strict=True):
            part = big @ (big.T @ cell_mean_n) - small @ (small.T @ cell_mean_n)
            ss = float(part @ part)
            if ss > 0 and np.isfinite(total):
                target = max(0.0, share * total * self.n)
                target += keep * max(0.0, ss - target)
                out += (np.sqrt(target / ss) - 1) * part
        return out
