"""The causality check of the sequence families' tests: no output depends on a later position."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def assert_causal(f: Callable, x: np.ndarray, changed: np.ndarray, position: int) -> None:
    """`changed` differs from `x` at `position` only (axis 1): f's outputs before it are unchanged, and from it
    on they move (so the check cannot pass on a layer that ignores its input)."""
    before, after = np.asarray(f(x)), np.asarray(f(changed))
    np.testing.assert_allclose(before[:, :position], after[:, :position], rtol=1e-6)
    assert not np.allclose(before[:, position:], after[:, position:])
