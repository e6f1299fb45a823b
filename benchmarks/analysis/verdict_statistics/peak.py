"""Does loss against model size peak inside the measured sizes (double descent)?

Per family and training-set size with at least 3 model sizes: the interior size of highest mean log loss,
and by how much its loss lies above the lower of the lowest losses on either side of it (smaller sizes,
larger sizes). Above zero beyond noise, the curve rises and falls again inside the measured range: a peak.
The interval is the bootstrap of the runs' means (`DatasetRuns.means_1BxR`: seeds resampled, a run effect
drawn per run at the suite's κ), re-centred, with the peak's size fixed at the observed one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from benchmarks.analysis.claims import Claim, from_estimate, pct
from benchmarks.analysis.stats import Estimate
from benchmarks.analysis.verdict_statistics import DatasetRuns, register_statistic

MIN_SIZES = 3


@dataclass(frozen=True)
class Peak:
    arch: str
    data_size: int
    size: int  # the interior model size of highest mean log loss
    height: Estimate  # its log loss above the lower of the best on either side

    def to_dict(self) -> dict:
        return {"arch": self.arch, "data_size": self.data_size, "size": self.size, "height": self.height.to_dict()}


@dataclass(frozen=True)
class Peaks:
    peaks: tuple[Peak, ...]
    claims: tuple[Claim, ...] = ()

    def to_dict(self) -> dict:
        return {"peaks": [p.to_dict() for p in self.peaks]} if self.peaks else {}


def peak_of(runs: DatasetRuns, arch: str, data_size: int) -> Peak | None:
    cells = sorted((r.spec.target_params, i) for i, r in enumerate(runs.records)
                   if r.spec.arch == arch and r.spec.data_size == data_size)
    if len({n for n, _ in cells}) != len(cells) or len(cells) < MIN_SIZES:
        return None
    m_1BxS = runs.means_1BxR[:, [i for _, i in cells]]
    j = 1 + int(np.argmax(m_1BxS[0, 1:-1]))
    h = m_1BxS[:, j] - np.maximum(m_1BxS[:, :j].min(axis=1), m_1BxS[:, j + 1:].min(axis=1))
    height = Estimate.recentred(h[0], h[1:]) if m_1BxS.shape[0] > 1 else Estimate(float(h[0]), np.nan, np.nan)
    return Peak(arch, data_size, cells[j][0], height)


@register_statistic("peak", order=65, group="size")
def peaks(runs: DatasetRuns, earlier: Mapping) -> Peaks:
    found = tuple(p for arch in runs.archs for d in runs.levels[2] if (p := peak_of(runs, arch, d)) is not None)
    claims = tuple(from_estimate(p.height, shown=pct, null=0.0, statistic="peak", quantity="peak", subject=p.arch,
                                 unit="percent", scope=f"{runs.dataset}, {p.data_size:,} training examples",
                                 at={"size": p.size, "data_size": p.data_size}) for p in found)
    return Peaks(found, claims)
