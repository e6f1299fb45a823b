"""One comparison for a regenerated result against a committed one (fits.json, perf.json, records).

Another machine, thread layout or BLAS build moves floats in their last digits (the quick reference's
fits.json regenerated elsewhere: 682 numbers differ, at most 1.3e-12 relative), so numbers compare
within a relative tolerance; keys, lengths, strings, booleans and None compare exactly, and so does the
text of the verdict.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

RTOL = 1e-9  # relative: far above float rounding between machines, far below any printed digit
ATOL = 1e-12  # absolute, for numbers that are zero up to rounding (a difference of equal means)


def _number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def differences(actual: object, expected: object, rtol: float = RTOL, atol: float = ATOL,
                path: str = "$") -> Iterator[str]:
    """Where `actual` and `expected` differ beyond the tolerance, one line per place, with its path."""
    if _number(actual) and _number(expected):
        if not math.isclose(actual, expected, rel_tol=rtol, abs_tol=atol):
            relative = abs(actual - expected) / max(abs(expected), 1e-300)
            yield f"{path}: {actual!r} against {expected!r} (relative {relative:.1e})"
    elif type(actual) is not type(expected):
        yield f"{path}: {type(actual).__name__} {actual!r:.80} against {type(expected).__name__} {expected!r:.80}"
    elif isinstance(expected, dict):
        if actual.keys() != expected.keys():
            yield (f"{path}: keys {sorted(set(actual) - set(expected))} only here, "
                   f"{sorted(set(expected) - set(actual))} only in the committed one")
        for key in expected.keys() & actual.keys():
            yield from differences(actual[key], expected[key], rtol, atol, f"{path}.{key}")
    elif isinstance(expected, list | tuple):
        if len(actual) != len(expected):
            yield f"{path}: {len(actual)} items against {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            yield from differences(a, e, rtol, atol, f"{path}[{i}]")
    elif actual != expected:
        yield f"{path}: {actual!r:.200} against {expected!r:.200}"


def assert_same_result(actual: object, expected: object, rtol: float = RTOL, atol: float = ATOL) -> None:
    """Fail with the first places that differ: numbers beyond `rtol` (relative), anything else at all."""
    found = list(differences(actual, expected, rtol, atol))
    assert not found, f"{len(found)} difference(s):\n" + "\n".join(found[:20])
