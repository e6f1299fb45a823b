"""The words of every claim, with one rule (DESIGN.md, "Claim"; STYLE.md, "Words the tool prints").

The rule (`relation`): a claim says "above", "below" (or a word of the same meaning: widens, raises,
converges...) only where its interval excludes the null value (1 for ratios and factors, 0 for
differences), and "within noise" only where it includes it; a difference that changes sign across the
measured range "crosses"; an interval end within its own Monte Carlo error of the null is "undecided";
a bound is stated only on the side it bounds ("more than 10×", never "more than 0.3×": a bound below the
null bounds nothing); a claim without an interval makes no difference claim at all. Every sentence is a
template with named slots (`TEMPLATES`), filled from the claim alone. `agrees` checks words against an
interval independently of `relation`, for the property test (tests/test_wording.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from benchmarks.analysis.claims import Claim, pct
from benchmarks.analysis.stats import LEVEL, Estimate

LEVEL_WORDS = f"{100 * LEVEL:g}%"

# ---------------------------------------------------------------------------- numbers


def _decimals(*values: float) -> int:
    """Enough decimals to tell an interval's ends apart (0 to 2)."""
    spread = max(values) - min(values)
    scale = spread if spread > 0 else max(abs(v) for v in values)
    return int(np.clip(1 - np.floor(np.log10(scale)) if scale > 0 else 0, 0, 2))


def _minus(s: str) -> str:
    return s.replace("-", "−")


def percent_interval(value: float, lo: float, hi: float) -> str:
    """'12% [8, 16]' (values already in percent)."""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return _minus(f"{value:.2g}%") + " [no interval]"
    n = _decimals(value, lo, hi)
    num = lambda v: _minus(f"{v + 0.0:.{n}f}") if round(v, n) != 0 else f"{0:.{n}f}"
    return f"{num(value)}% [{num(lo)}, {num(hi)}]"


def loss_change(e: Estimate) -> str:
    """'12% [8, 16]': a log-loss difference as a percentage change in loss, with its interval (tables)."""
    return percent_interval(pct(e.value), pct(e.lo), pct(e.hi))


def share(e: Estimate) -> str:
    """'42% [36, 49]': a share of the variance, with its interval (tables)."""
    return percent_interval(100 * e.value, 100 * e.lo, 100 * e.hi)


def short_count(x: float) -> str:
    """A size to two significant figures, in words a reader parses at a glance (4.8M, 120k)."""
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= div:
            return f"{float(f'{x / div:.2g}'):g}{unit}"
    return f"{float(f'{x:.2g}'):g}"


def two_figures(v: float) -> str:
    """Two significant figures, three where two would round a factor that is not 1 to 1."""
    if not np.isfinite(v):
        return "∞" if v > 0 else "no bound"
    s = f"{v:.2g}"
    return f"{v:.3g}" if s == "1" and abs(v - 1) >= 0.005 else s


def count_of(n: float, word: str) -> str:
    """'3 runs', '1 run', '2 families'."""
    plural = word[:-1] + "ies" if word.endswith("y") and word[-2:-1] not in "aeiou" else word + "s"
    return f"{n:g} {word if n == 1 else plural}"


def join_words(items: Iterable[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""


def span(values: Sequence[float], fmt: Callable[[float], str]) -> str:
    """'5k–20k', or one value where they are all the same."""
    lo, hi = min(values), max(values)
    return fmt(lo) if lo == hi else f"{fmt(lo)}–{fmt(hi)}"


def _factor_end(c: Claim, v: float) -> str:
    """An end of a factor's interval, or the side of what the measurements show that it lies past."""
    r = c.measured_range
    if r is not None and np.isfinite(v) and v > r[1] * (1 + 1e-9):
        return f"more than {two_figures(r[1])}"
    if r is not None and np.isfinite(v) and v < r[0] * (1 - 1e-9):
        return f"less than {two_figures(r[0])}"
    return two_figures(v)


def number(c: Claim) -> str:
    """The estimate with its interval, in the claim's unit: one estimate, one interval, everywhere."""
    if c.kind == "bounded":
        return f"{'more' if c.side == 'above' else 'less'} than {two_figures(c.bound)}×"
    if c.unit in ("percent", "share"):
        k = 100 if c.unit == "share" else 1
        if c.null is None and not c.has_interval:
            return _minus(f"{k * c.estimate:.3g}%")
        return percent_interval(k * c.estimate, k * c.lo, k * c.hi)
    if c.unit == "p":
        return f"p = {c.estimate:.2g}"
    if c.unit == "count":
        return f"{c.estimate:g}"
    if c.unit in ("points", "locality"):  # differences of accuracy (in points) or of locality: signed
        signed = lambda v: _minus(f"{v:+.1f}" if c.unit == "points" else f"{v:+.2f}")
        ends = f"[{signed(c.lo)}, {signed(c.hi)}]" if c.has_interval else "[no interval]"
        return f"{signed(c.estimate)} {ends}" + (" points" if c.unit == "points" else "")
    if c.unit == "examples":
        hi = short_count(c.hi) if np.isfinite(c.hi) else "no bound"
        lo = short_count(c.lo) if np.isfinite(c.lo) else "no bound"
        return f"{short_count(c.estimate)} [{lo}, {hi}]"
    if not c.has_interval:
        tail = " [no interval]"
        core = {"ratio": f"×{c.estimate:.2f}", "exponent": _minus(f"{c.estimate:.2f}"),
                "correlation": _minus(f"{c.estimate:.2f}")}.get(c.unit, f"{two_figures(c.estimate)}×")
        return core + tail
    if c.unit == "ratio":
        return f"×{c.estimate:.2f} [{c.lo:.2f}, {c.hi:.2f}]"
    if c.unit in ("exponent", "correlation"):
        return _minus(f"{c.estimate:.2f} [{c.lo:.2f}, {c.hi:.2f}]")
    return f"{_factor_end(c, c.estimate)}× [{_factor_end(c, c.lo)}, {_factor_end(c, c.hi)}]"


# ---------------------------------------------------------------------------- the rule


def relation(c: Claim) -> str:
    """The one rule: what a claim may say about its subject against its reference (see the module)."""
    if c.kind == "bounded":
        return "more than" if c.side == "above" else "less than"
    if c.unit == "count":
        return count_relation(c)
    if c.unit == "p":
        return "rejected" if c.estimate < (c.null if c.null is not None else 1 - LEVEL) else "not rejected"
    if c.null is None:
        return "descriptive"
    if not c.has_interval:
        return "no interval"
    if c.undecided:
        return "undecided"
    if c.lo > c.null or c.hi < c.null:
        return "crosses" if c.sign_change else "above" if c.lo > c.null else "below"
    return "within noise"


AXIS = {"factor of data": "training examples", "factor of params": "parameters", "factor of compute": "compute"}

# (quantity, relation) -> template; "*" for any relation. Slots: subject, reference, number, axis, scope,
# and the claim's `at` numbers (at[...]).
TEMPLATES: dict[tuple[str, str], str] = {
    ("share", "*"): "{subject} {number}",
    ("share lead", "above"): "{subject} explains more than {reference} ({number} more)",
    ("share lead", "within noise"): "{subject} and {reference} explain about as much (difference {number}, "
                                    "within noise)",
    ("share lead", "undecided"): "whether {subject} explains more than {reference} is undecided ({number})",
    ("share lead", "no interval"): "{subject} {number} more than {reference} (no interval)",
    ("pair", "above"): "{subject} above {reference} by {number}",
    ("pair", "below"): "{subject} below {reference} ({number})",
    ("pair", "within noise"): "{subject} and {reference} within noise ({number})",
    ("pair", "undecided"): "{subject} against {reference} undecided ({number})",
    ("pair", "no interval"): "{subject} {number} against {reference}",
    ("gap", "above"): "{subject} {number} above {reference}",
    ("gap", "below"): "{subject} below {reference} ({number})",
    ("gap", "within noise"): "{subject} within noise of {reference} ({number})",
    ("gap", "undecided"): "{subject} against {reference} undecided ({number})",
    ("gap", "no interval"): "{subject} {number} against {reference}",
    ("gap trend", "above"): "{subject}'s gap to {reference} widens, {number} per tenfold data",
    ("gap trend", "below"): "{subject}'s gap to {reference} narrows, {number} per tenfold data",
    ("gap trend", "crosses"): "{subject} crosses {reference} within the measured data ({number} per tenfold data)",
    ("gap trend", "within noise"): "{subject}'s gap to {reference} is flat within noise ({number} per tenfold data)",
    ("gap trend", "undecided"): "{subject}'s gap trend is undecided ({number} per tenfold data)",
    ("gap trend", "no interval"): "{subject} against {reference}: {number} per tenfold data",
    ("crossover", "*"): "if the line held, {subject} would meet {reference} near {number} examples, "
                        "an extrapolation {past}× past the data",
    ("factor", "above"): "{subject} needs more {axis} than {reference}: {number} as many",
    ("factor", "below"): "{subject} needs {fewer} {axis} than {reference}: {number} as many",
    ("factor", "within noise"): "{subject} matches {reference} within noise ({number} the {axis})",
    ("factor", "undecided"): "{subject} against {reference} is undecided ({number} the {axis})",
    ("factor", "more than"): "{subject} needs {number} the {axis} of {reference}",
    ("factor", "less than"): "{subject} needs {number} the {axis} of {reference}",
    ("factor", "no interval"): "{subject} needs {number} the {axis} of {reference}",
    ("exponent", "*"): "{subject} {number}",
    ("peak", "above"): "{subject}'s loss peaks at {size} parameters inside the measured sizes, {number} above the "
                       "lower side",
    ("peak", "below"): "{subject}'s loss has no peak: at {size} parameters it lies below the lower side ({number})",
    ("peak", "within noise"): "{subject}'s loss shows no peak beyond noise (highest inside at {size} parameters, "
                              "{number})",
    ("peak", "undecided"): "whether {subject}'s loss peaks at {size} parameters is undecided ({number})",
    ("peak", "no interval"): "{subject}'s loss is highest inside the measured sizes at {size} parameters ({number})",
    ("spread", "*"): "the families' losses spread by {number} (one standard deviation)",
    ("optimal size exponent", "*"): "{subject}'s compute-optimal size grows as C^a, a = {number}",
    ("frontier gap", "above"): "{subject}'s frontier {number} above {reference}'s",
    ("frontier gap", "below"): "{subject}'s frontier below {reference}'s ({number})",
    ("frontier gap", "within noise"): "{subject}'s frontier within noise of {reference}'s ({number})",
    ("frontier gap", "undecided"): "{subject}'s frontier against {reference}'s is undecided ({number})",
    ("frontier gap", "no interval"): "{subject}'s frontier {number} against {reference}'s",
    ("equal exponents", "rejected"): "one shared exponent against {axis} is rejected ({number}): the families "
                                     "scale differently",
    ("equal exponents", "not rejected"): "the exponents against {axis} are consistent with one shared "
                                         "exponent ({number})",
    ("prediction", "rejected"): "fitted without the largest {axis}, the curves miss it by more than noise "
                                "({number}; rms error {rms}% against {noise}%)",
    ("prediction", "not rejected"): "fitted without the largest {axis}, the curves predict it as well as noise "
                                    "allows ({number}; rms error {rms}%)",
    ("decision accuracy", "*"): "{held} of {pairs} family pairs kept their order at the largest {axis} "
                                "({number})",
    ("frontier gap trend", "above"): "{subject}'s frontier diverges from {reference}'s, {number} per decade "
                                     "of compute",
    ("frontier gap trend", "below"): "{subject}'s frontier converges on {reference}'s, {number} per decade "
                                     "of compute",
    ("frontier gap trend", "crosses"): "{subject}'s frontier crosses {reference}'s within the measured compute "
                                       "({number} per decade)",
    ("frontier gap trend", "within noise"): "{subject}'s frontier gap to {reference} shows no trend beyond noise "
                                            "({number} per decade)",
    ("frontier gap trend", "undecided"): "{subject}'s frontier trend against {reference} is undecided "
                                         "({number} per decade)",
    ("frontier gap trend", "no interval"): "{subject} against {reference}: {number} per decade of compute",
    ("change", "above"): "it raises {subject}'s loss by {number}",
    ("change", "below"): "it lowers {subject}'s loss ({number})",
    ("change", "within noise"): "{subject}'s loss is unchanged within noise ({number})",
    ("change", "undecided"): "its effect on {subject} is undecided ({number})",
    ("change", "no interval"): "{subject} {number}",
    ("gap change", "above"): "{subject}'s gap to {reference} widens ({number})",
    ("gap change", "below"): "{subject}'s gap to {reference} narrows ({number})",
    ("gap change", "within noise"): "{subject}'s gap to {reference} is unchanged within noise ({number})",
    ("gap change", "undecided"): "{subject}'s gap change is undecided ({number})",
    ("gap change", "no interval"): "{subject}'s gap to {reference} changes {number}",
    ("spread change", "above"): "the families drift apart as quality falls ({number})",
    ("spread change", "below"): "the families draw closer as quality falls ({number})",
    ("spread change", "within noise"): "the families' spread is unchanged within noise ({number})",
    ("spread change", "undecided"): "whether the families' spread changes is undecided ({number})",
    ("spread change", "no interval"): "the families' spread changes {number}",
    ("rank correlation", "above"): "the families' orders on {subject} and {reference} agree beyond noise: rank "
                                   "correlation {number}, above 0",
    ("rank correlation", "below"): "the families rank in opposite orders on {subject} and {reference}: rank "
                                   "correlation {number}, below 0",
    ("rank correlation", "within noise"): "the families' orders on {subject} and {reference} show no agreement beyond "
                                          "noise: rank correlation {number}, within noise of 0",
    ("rank correlation", "undecided"): "whether the families rank alike on {subject} and {reference} is undecided "
                                       "(rank correlation {number})",
    ("rank correlation", "no interval"): "rank correlation of the families on {subject} and {reference}: {number}",
}


# ---------------------------------------------------------------------------- counts

# Counts are arithmetic: a count claim carries the numbers it is made of in `at`, its words say them, and
# `counts_agree` checks the arithmetic and the words. The runs of a design: `at` = families, sizes,
# data_sizes (the grid is their product). The other pairs separated beyond noise: `at` = pairs (compared),
# with_leader (of those, the ones with the leader), families. The decisions the runs to read with care
# carry: estimate = pairs whose decision changes without them, `at` = pairs, lost (no longer comparable),
# families. The runs to read with care: estimate = runs that had not converged, `at` = runs, at_edge (runs whose
# learning rate is on an edge of the search).
COUNTED = {"families": "family", "sizes": "size", "data_sizes": "data size", "pairs": "pair"}
TEMPLATES |= {
    ("runs", "grid"): "{number} runs ({families} × {sizes} × {data_sizes})",
    ("runs", "part of grid"): "{number} runs (of the {grid} cells of {families} × {sizes} × {data_sizes})",
    ("pairs apart", "*"): "{number} of the other {others} separated beyond noise",
    ("runs to read with care", "unconverged"): "{number} of {runs} runs had not converged",
    ("runs to read with care", "at edge"): "{at_edge} of {runs} runs chose a learning rate at an edge of the search",
    ("runs to read with care", "both"): "{number} of {runs} runs had not converged and {at_edge} chose a "
                                        "learning rate at an edge of the search",
    ("decisions changed", "kept"): "without them every pair keeps its decision",
    ("decisions changed", "changed"): "without them decisions change for {number} of the {pairs}",
    ("decisions changed", "lost"): "without them {lost} of the {pairs} cannot be compared",
    ("decisions changed", "changed and lost"): "without them decisions change for {number} of the {pairs} and "
                                               "{lost} cannot be compared",
}


# The lottery tickets (`benchmarks.analysis.tickets_report.ticket_claims`): accuracy in points, a ticket against
# a random mask with the same survivors per layer.
TEMPLATES |= {
    ("matched sparsity", "*"): "{subject} keeps within {margin} points of its dense accuracy up to {number} sparsity",
    ("ticket advantage", "above"): "{subject}'s ticket above a random mask by {number} at {sparsity}% sparsity or more",
    ("ticket advantage", "below"): "{subject}'s ticket below a random mask ({number}) at {sparsity}% sparsity or more",
    ("ticket advantage", "within noise"): "{subject}'s ticket and a random mask within noise ({number}) at "
                                          "{sparsity}% sparsity or more",
    ("ticket advantage", "no interval"): "{subject}'s ticket against a random mask: {number}",
    ("ticket trend", "above"): "{subject}'s ticket advantage widens with model size, {number} per tenfold parameters",
    ("ticket trend", "below"): "{subject}'s ticket advantage narrows with model size, {number} per tenfold "
                               "parameters",
    ("ticket trend", "within noise"): "{subject}'s ticket advantage is flat with model size within noise ({number} "
                                      "per tenfold parameters)",
    ("ticket trend", "no interval"): "{subject}'s ticket advantage: {number} per tenfold parameters",
    ("carried ticket", "above"): "{subject}'s ticket carried from {found_on} to {dataset} above a random mask there "
                                 "by {number}",
    ("carried ticket", "below"): "{subject}'s ticket carried from {found_on} to {dataset} below a random mask there "
                                 "({number})",
    ("carried ticket", "within noise"): "{subject}'s ticket carried from {found_on} to {dataset} within noise of a "
                                        "random mask there ({number})",
    ("carried ticket", "no interval"): "{subject}'s ticket carried from {found_on} to {dataset}: {number}",
    ("ticket locality", "above"): "{subject}'s first-layer ticket on {dataset}: locality above random masks' by "
                                  "{number}",
    ("ticket locality", "below"): "{subject}'s first-layer ticket on {dataset}: locality below random masks' "
                                  "({number})",
    ("ticket locality", "within noise"): "{subject}'s first-layer ticket on {dataset}: locality within noise of "
                                         "random masks' ({number})",
    ("ticket locality", "no interval"): "{subject}'s first-layer ticket on {dataset}: locality {number} against "
                                        "random masks'",
}

# Next tokens: from where a family's loss falls no further beyond noise along the context
# (verdict_statistics/context.py): never "stops improving", which no interval can show (docs/coverage.md). The
# number is the change of the loss from an octave of the context ({octave}: "tokens 9–16") to its last ({last}).
TEMPLATES |= {
    ("context plateau", "within noise"): "{subject}'s loss falls no further beyond noise from {octave} of the "
                                         "context on: to its {last} it changes {number}, within noise",
    ("context plateau", "above"): "{subject}'s loss falls no further beyond noise from {octave} of the context on: "
                                  "on its {last} it is above that by {number}",
    ("context plateau", "below"): "{subject}'s loss still falls at the end of the context: on its {last} it is "
                                  "below that on {octave} ({number})",
    ("context plateau", "undecided"): "whether {subject}'s loss still falls after {octave} of the context is "
                                      "undecided ({number})",
    ("context plateau", "no interval"): "{subject}'s loss changes {number} from {octave} of the context to its {last}",
}


def _grid(c: Claim) -> float:
    return c.at["families"] * c.at["sizes"] * c.at["data_sizes"]


def count_relation(c: Claim) -> str:
    """Which words a count takes: a full grid or part of it (runs), what changed (decisions)."""
    if c.quantity == "runs":
        return "grid" if c.estimate == _grid(c) else "part of grid"
    if c.quantity == "runs to read with care":
        return ("both" if c.at["at_edge"] else "unconverged") if c.estimate > 0 else "at edge"
    if c.quantity == "decisions changed":
        lost = c.at["lost"] > 0
        return ("changed and lost" if lost else "changed") if c.estimate > 0 else "lost" if lost else "kept"
    return "count"


def count_slots(c: Claim) -> dict[str, str]:
    """A count's numbers as words ('6 families'), and the ones made from them (the grid, the other pairs)."""
    out = {k: count_of(v, COUNTED[k]) for k, v in c.at.items() if k in COUNTED}
    if c.quantity == "runs":
        out["grid"] = f"{_grid(c):g}"
    if c.quantity == "pairs apart":
        out["others"] = count_of(c.at["pairs"] - c.at["with_leader"], "pair")
    if "lost" in c.at:
        out["lost"] = f"{c.at['lost']:g}"
    return out


def counts_agree(c: Claim, text: str) -> bool:
    """Whether a count claim is arithmetic that holds and `text` says its numbers (decided here from the
    numbers, not from the templates): runs fit in the grid of their families × sizes × data sizes and fill it
    where the words say so; the other pairs are the pairs compared less the leader's, and no more separate than
    there are; no more decisions change or are lost than there are pairs of the families."""
    at, n = c.at, c.estimate
    whole = lambda *v: all(float(x).is_integer() and x >= 0 for x in v)
    has = lambda *parts: all(p in text for p in parts)
    if c.quantity == "runs":
        f, s, d = at["families"], at["sizes"], at["data_sizes"]
        grid = f * s * d
        return (whole(n, f, s, d) and 1 <= n <= grid and has(f"{n:g} runs", count_of(f, "family"),
                                                               count_of(s, "size"), count_of(d, "data size"))
                and (f"of the {grid:g} cells" in text) == (n < grid))
    if c.quantity == "pairs apart":
        pairs, lead, k = at["pairs"], at["with_leader"], at["families"]
        return (whole(n, pairs, lead, k) and pairs <= k * (k - 1) / 2 and lead <= min(k - 1, pairs)
                and n <= pairs - lead and has(f"{n:g} of the other {count_of(pairs - lead, 'pair')}"))
    if c.quantity == "runs to read with care":
        runs, edge = at["runs"], at["at_edge"]
        said = (([f"{n:g} of {runs:g} runs had not converged"] if n else [])
                + ([f"{edge:g} " + ("" if n else f"of {runs:g} runs ") + "chose a learning rate at an edge"] if edge else []))
        return whole(n, runs, edge) and 0 < n + edge and n <= runs and edge <= runs and has(*said)
    if c.quantity == "decisions changed":
        pairs, lost, k = at["pairs"], at["lost"], at["families"]
        said = (([f"decisions change for {n:g} of the {count_of(pairs, 'pair')}"] if n else [])
                + ([f"{lost:g} " + ("of the " + count_of(pairs, "pair") + " " if not n else "") + "cannot be compared"]
                   if lost else []) or ["every pair keeps its decision"])
        return whole(n, pairs, lost, k) and pairs <= k * (k - 1) / 2 and n + lost <= pairs and has(*said)
    return False  # a count without its arithmetic here is not checked, so not said


def _fewer(unit: str) -> str:
    return "less" if unit == "factor of compute" else "fewer"


class _Slots(dict):
    def __missing__(self, key: str) -> str:
        raise KeyError(f"template slot {key!r} has no value")


def say(c: Claim) -> str:
    """The claim in words: its template for its relation, filled from the claim alone."""
    rel = relation(c)
    template = TEMPLATES.get((c.quantity, rel)) or TEMPLATES.get((c.quantity, "*"))
    if template is None:
        raise KeyError(f"no words for a {c.quantity!r} claim that is {rel!r}")
    at = {k: (short_count(v) if k in ("past", "size") else f"{v:.2g}" if isinstance(v, float) else v) for k, v in c.at.items()}
    slots = _Slots(subject=c.subject, reference=c.reference, number=number(c), axis=AXIS.get(c.unit, ""),
                   scope=c.scope, fewer=_fewer(c.unit))
    slots.update(at)  # the claim's own slice, its axis included where its unit has none
    if c.unit == "count":
        slots.update(count_slots(c))
    text = template.format_map(slots)
    return text + (" (extrapolated past the measurements)" if c.kind == "extrapolated" else "")


def sentence(*clauses: str) -> str:
    """Clauses joined by semicolons into one sentence closed with a full stop (not capitalised: a clause may
    open with a family's name, which is spelled as it is registered)."""
    text = "; ".join(c for c in clauses if c)
    return text + ("" if text.endswith((".", "?")) else ".") if text else ""


def words_in(text: str) -> int:
    """Words as a reader counts them: tokens with a letter or a digit (an arrow or a dash is none)."""
    return sum(1 for t in text.split() if re.search(r"\w", t))


# ---------------------------------------------------------------------------- the check

DIFFERENCE_WORDS = ("above", "below", "widens", "narrows", "raises", "lowers", "diverges", "converges", "crosses",
                    "separated", "drift apart", "draw closer", "explains more", "needs more", "needs fewer",
                    "needs less")


def agrees(c: Claim, text: str) -> bool:
    """Whether `text` says of claim `c` only what its interval allows (decided here from the numbers, not
    from `relation`): difference words only where the interval excludes the null, "within noise" only
    where it holds it, "crosses" only for a sign change, "more/less than" only on the side a bound bounds."""
    if c.unit == "count":
        return counts_agree(c, text)
    t = text
    for name in sorted({c.subject, c.reference} - {""}, key=len, reverse=True):
        t = t.replace(name, "·")
    if c.unit == "p":  # a test: "rejected" exactly where p is below its level
        level = c.null if c.null is not None else 1 - LEVEL
        return (re.search(r"\bis rejected\b|miss it by more than noise", t) is not None) == (c.estimate < level)
    if "undecided" in t:
        return c.undecided
    excludes = c.has_interval and c.null is not None and (c.lo > c.null or c.hi < c.null) and not c.undecided
    includes = c.has_interval and c.null is not None and c.lo <= c.null <= c.hi and not c.undecided
    said = {w for w in DIFFERENCE_WORDS if re.search(rf"\b{w}\b", t)}
    bounds = [(side, float(m.group(1))) for side, word in (("above", "more"), ("below", "less"))
              for m in re.finditer(rf"{word} than ([\d.]+)×", t)]
    if c.kind == "bounded":  # only the bound, on its side, and a bound that bounds something
        null = c.null if c.null is not None else 1.0
        return bool(bounds) and "within noise" not in t and all(
            side == c.side and (b > null if side == "above" else b < null) for side, b in bounds)
    if bounds:
        return False  # a measured claim is a number, not a bound
    if "within noise" in t:
        return includes and not said
    if said:
        return excludes and ("crosses" in said) == c.sign_change
    return not excludes  # a difference beyond noise must be said as one


# ---------------------------------------------------------------------------- two datasets' orders

REVERSAL = "{subject} and {reference} swap places: {subject} {first} {reference} on {base}, {second} it on {variant}"


def reversal(on_base: Claim, on_variant: Claim, base: str, variant: str) -> str:
    """A family and the leader swap places where the family's gap is beyond noise on both datasets with
    opposite signs (the one rule on each gap); '' where it is not."""
    first, second = relation(on_base), relation(on_variant)
    if {first, second} != {"above", "below"}:
        return ""
    return REVERSAL.format(subject=on_base.subject, reference=on_base.reference, first=first, second=second,
                           base=base, variant=variant)


KEPT = "{subject} and {reference} keep their order: {subject} {first} {reference} on {base} and on {variant}"


def kept_order(on_base: Claim, on_variant: Claim, base: str, variant: str) -> str:
    """A pair keeps its order where its difference is beyond noise on both datasets with the same sign (the one
    rule on each); '' where it does not."""
    first, second = relation(on_base), relation(on_variant)
    if first != second or first not in ("above", "below"):
        return ""
    return KEPT.format(subject=on_base.subject, reference=on_base.reference, first=first, base=base, variant=variant)


# ---------------------------------------------------------------------------- what a test can see

DETECTION_TEMPLATES = {
    "none": "no regression larger than {size} for {arch}",  # found nothing: what it would have found
    "regression": "a regression beyond noise for {arch} (its test catches {size} in {power} of reruns)",
    "improvement": "no regression for {arch}, an improvement beyond noise (its test catches {size} in {power} "
                   "of reruns)",
    "no test": "no test for {arch} (one seed on a side)",
}


def detection_kind(verdict: str, detectable_log: float) -> str:
    """Which of DETECTION_TEMPLATES a family's compare verdict takes."""
    if not np.isfinite(detectable_log):
        return "no test"
    return verdict if verdict in ("regression", "improvement") else "none"


def detection(arch: str, verdict: str, detectable_log: float, power: float) -> str:
    """What a family's compare test found and could have found: 'no regression larger than 24% for convnet',
    the size the smallest change (in log loss) its test catches in `power` of reruns, as a change in loss."""
    size = f"{two_figures(pct(detectable_log))}%" if np.isfinite(detectable_log) else ""
    return DETECTION_TEMPLATES[detection_kind(verdict, detectable_log)].format(
        arch=arch, size=size, power=f"{100 * power:g}%")


# ---------------------------------------------------------------------------- several claims at once

# (quantity, relation) -> template for several claims of one reference and relation; {items}: each claim's
# subject and number ("gru 71% [46, 101]"), claims of the same number sharing it ("gru and mlp more than 4×").
LIST_TEMPLATES: dict[tuple[str, str], str] = {
    ("pair", "above"): "above {reference}: {items}",
    ("gap", "above"): "above {reference}: {items}",
    ("gap trend", "above"): "gaps to {reference} widen per tenfold data: {items}",
    ("gap trend", "below"): "gaps to {reference} narrow per tenfold data: {items}",
    ("gap trend", "within noise"): "gaps to {reference} flat within noise: {items}",
    ("factor", "above"): "more {axis} than {reference} needed: {items}",
    ("factor", "below"): "{fewer} {axis} than {reference} needed: {items}",
    ("factor", "within noise"): "{items} the {axis} of {reference}, within noise",
    ("factor", "more than"): "{items} the {axis} of {reference} needed",
    ("factor", "less than"): "{items} the {axis} of {reference} needed",
    ("frontier gap trend", "above"): "frontiers diverging from {reference}'s, per decade of compute: {items}",
    ("frontier gap trend", "below"): "frontiers converging on {reference}'s, per decade of compute: {items}",
    ("frontier gap trend", "crosses"): "frontiers crossing {reference}'s within the measured compute: {items} "
                                       "per decade",
    ("frontier gap trend", "within noise"): "no frontier trend beyond noise against {reference}'s: {items} per decade",
    ("change", "above"): "it raises the loss of {items}",
    ("change", "below"): "it lowers the loss of {items}",
    ("change", "within noise"): "unchanged within noise: {items}",
    ("matched sparsity", "descriptive"): "the sparsity each ticket reaches within the margin of its dense accuracy: "
                                         "{items}",
    ("ticket advantage", "above"): "tickets above random masks at high sparsity: {items}",
    ("ticket advantage", "within noise"): "tickets and random masks within noise at high sparsity: {items}",
    ("ticket trend", "within noise"): "ticket advantage flat with model size within noise: {items} per tenfold "
                                      "parameters",
}


def say_many(claims: Sequence[Claim]) -> list[str]:
    """Several claims in as few clauses as the rule allows: one clause per (quantity, relation, reference,
    unit) with a list template, each other claim said alone (`say`)."""
    out, groups = [], {}
    for c in claims:
        key = (c.quantity, relation(c), c.reference, c.unit)
        if (key[0], key[1]) in LIST_TEMPLATES and c.kind != "extrapolated":
            groups.setdefault(key, []).append(c)
        else:
            out.append(say(c))
    for (quantity, rel, reference, unit), cs in groups.items():
        if len(cs) == 1:
            out.append(say(cs[0]))
            continue
        by_number: dict[str, list[str]] = {}
        for c in cs:
            by_number.setdefault(number(c), []).append(c.subject)
        items = ", ".join(f"{join_words(names)} {n}" for n, names in by_number.items())
        out.append(LIST_TEMPLATES[quantity, rel].format(reference=reference, items=items, axis=AXIS.get(unit, ""),
                                                        fewer=_fewer(unit)))
    return out
