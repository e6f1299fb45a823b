"""The verdict in words: a headline, bullets of one finding each, then the details, all from claims.

Every number said here is a claim's (`benchmarks.analysis.claims`), and every claim is said by
`benchmarks.analysis.wording.say`, the one rule; this module only chooses which claims carry the answer
and in which order. Per dataset, per declared contrast, per quality level of a dataset, and for the lottery
tickets:

    headline  at most 5 lines: which factor explains most (with the shares), which family is best and
              where, how the gaps move with data and with size, the scope
    bullets   one finding each, grouped (families, data, size, compute, checks), each at most ~40 words
    details   every claim of every statistic, one a line

The terminal (`verdict_text`) prints the first section's headline and bullets and every other section's
headline; `--details` prints every section whole.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from benchmarks.analysis.claims import Claim
from benchmarks.analysis.verdict import DatasetVerdict, Verdict
from benchmarks.analysis.verdict_statistics import registered
from benchmarks.analysis.verdict_statistics.dataset_contrasts import ContrastEffect
from benchmarks.analysis.verdict_statistics.quality import QualityAxis, QualityLevel
from benchmarks.analysis.wording import (
    count_of,
    join_words,
    kept_order,
    number,
    relation,
    reversal,
    say,
    say_many,
    sentence,
    short_count,
    span,
    words_in,
)

GROUPS = ("families", "data", "size", "compute", "checks")
BUILT_IN = {"shares", "contrasts", "ranking", "gaps", "gap_trend", "multipliers", "frontiers", "equal_exponents",
            "small_to_large", "scope", "peak", "dataset_contrasts", "quality", "modalities"}  # placed here by name; any other
# statistic's claims are said as bullets under the group it names
BULLET_WORDS = 45  # about 40: a bullet longer than this is split between its claims
HEADLINE_LINES = 5


@dataclass(frozen=True)
class Section:
    """One part of the verdict (a dataset, a contrast, a quality level) in words."""

    title: str
    headline: tuple[str, ...]
    bullets: dict[str, tuple[str, ...]] = field(default_factory=dict)  # group -> bullets
    details: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"title": self.title, "headline": list(self.headline),
                "bullets": {g: list(b) for g, b in self.bullets.items()}, "details": list(self.details)}

    @classmethod
    def from_dict(cls, d: dict) -> Section:
        """A section as fits.json holds it (`to_dict`)."""
        return cls(d["title"], tuple(d["headline"]), {g: tuple(b) for g, b in d["bullets"].items()}, tuple(d["details"]))

    def text(self, details: bool = False, bullets: bool = True) -> str:
        out = [f"{self.title}", *self.headline]
        for group in GROUPS if bullets or details else ():
            if self.bullets.get(group):
                out.append(f"  {group}:")
                out += [f"  - {b}" for b in self.bullets[group]]
        if details and self.details:
            out.append("  details:")
            out += [f"    {d}" for d in self.details]
        return "\n".join(out)


def bullets_of(claims: Iterable[Claim], lead: str = "") -> list[str]:
    """The claims said as one bullet, or as several where one would run past BULLET_WORDS."""
    said = say_many(list(claims))
    if not said:
        return []
    one = sentence(lead + "; ".join(said))
    if words_in(one) <= BULLET_WORDS:
        return [one]
    return [sentence(s) for s in said]


def _of(claims: Sequence[Claim], statistic: str, quantity: str | None = None) -> list[Claim]:
    return [c for c in claims if c.statistic == statistic and (quantity is None or c.quantity == quantity)]


# ---------------------------------------------------------------------------- a dataset


def _factor_line(v: DatasetVerdict) -> str:
    s = v.statistics.get("shares")
    if s is None or not s.shares:
        if s is not None and s.aliased:
            return (f"No variance shares: {join_words(s.aliased)} cannot be separated from the other factors in "
                    "this design.")
        return "One family: nothing to compare architectures against."
    main = [c for c in s.claims if c.quantity == "share" and " × " not in c.subject and "without" not in c.at
            and c.subject in {x.term for x in s.shares}]
    main.sort(key=lambda c: -c.estimate)
    shares = ", ".join(say(c) for c in main)
    lead = next((c for c in s.claims if c.quantity == "share lead"), None)
    rel = relation(lead) if lead is not None else "no interval"
    if rel == "above":
        head = f"{lead.subject.capitalize()} explains the most variance in log loss"
    elif rel == "within noise":
        head = f"{lead.subject.capitalize()} and {lead.reference} tie within noise"
    elif rel == "undecided":
        head = f"Whether {lead.subject} or {lead.reference} explains more is undecided"
    else:
        head = "Variance in log loss by factor" + ("" if v.has_intervals else " (one seed per run: no intervals)")
    flips: dict[str, list[str]] = {}  # the factor that leads without a family, where it is not the one with all
    for c in s.claims:
        if "without" in c.at and s.leading and c.at["leads"] != s.leading:
            left_out = flips.setdefault(c.at["leads"], [])
            left_out += [c.at["without"]] if c.at["without"] not in left_out else []
    turn = "".join(f"; {lead_} leads without {' or '.join(f)}" for lead_, f in flips.items())
    return f"{head}: {shares}{turn}."


def _best_line(v: DatasetVerdict) -> str:
    r = v.statistics.get("ranking")
    if r is None or len(r.ranking) < 2:
        return ""
    if not v.has_intervals:
        return f"Lowest mean loss: {r.leader} (one seed per run, so no claim that it is better)."
    if r.clear:
        return f"Best family: {r.leader}, below every other beyond noise."
    tied = [a for a, _ in r.ranking[1:] if a not in r.separated]
    return f"Lowest mean loss: {r.leader}, not separated from {join_words(tied)}."


def _data_line(v: DatasetVerdict) -> str:
    t = v.statistics.get("gap_trend")
    if t is None:
        return ""
    if not t.trends:
        if t.not_given:
            n, decades = t.data_sizes
            return (f"Gaps against data: no trend ({count_of(n, 'training-set size')} over {decades:.1g} "
                    "decades; a trend needs 4 over 1).")
        return ""
    by: dict[str, list[str]] = {}
    for c in _of(t.claims, "gap_trend", "gap trend"):
        by.setdefault(relation(c), []).append(c.subject)
    words = {"above": "widen for", "below": "narrow for", "crosses": "cross for", "within noise": "stay flat for",
             "undecided": "are undecided for", "no interval": "have no interval for"}
    return (f"With more data, gaps to {t.leader} " + "; ".join(f"{words[k]} {join_words(a)}" for k, a in by.items())
            + ".")


def _size_line(v: DatasetVerdict) -> str:
    x = v.statistics.get("equal_exponents")
    test = [c for c in (x.claims if x is not None else ()) if c.quantity == "equal exponents"
            and c.at.get("axis") == "parameters"]
    if test:
        rel = relation(test[0])
        return (f"With model size the families scale {'differently' if rel == 'rejected' else 'alike within noise'}"
                f" (one shared exponent{' rejected' if rel == 'rejected' else ''}, {number(test[0])}).")
    peak = v.statistics.get("peak")
    if peak is not None and peak.claims and len(v.archs) == 1:
        return sentence("With model size: " + "; ".join(say(c) for c in peak.claims[:2]))
    return ""  # at one model size the scope line says so


def _scope_line(v: DatasetVerdict) -> str:
    s = v.statistics.get("scope")
    if s is None:
        return ""
    runs = next(c for c in s.claims if c.quantity == "runs")  # the design's count, checked arithmetic
    seeds = f"{s.seeds:.3g} seed{'' if s.seeds == 1 else 's'} each"
    left_out = f", {v.n_excluded} left out" if v.n_excluded else ""
    return (f"Scope: {say(runs)}, {span(s.sizes, short_count)} parameters, "
            f"{span(s.data_sizes, lambda d: f'{d:,}')} examples, {seeds}{left_out}.")


def dataset_section(v: DatasetVerdict) -> Section:
    lines = [x for x in (_factor_line(v), _best_line(v), _data_line(v), _size_line(v), _scope_line(v)) if x]
    claims = v.claims
    r = v.statistics.get("ranking")
    leader = r.leader if r is not None and r.ranking else ""
    bullets: dict[str, list[str]] = {g: [] for g in GROUPS}
    if v.has_intervals:
        pairs = _of(claims, "contrasts", "pair")
        bullets["families"] += bullets_of([c for c in pairs if leader in (c.subject, c.reference)])
        others = [c for c in pairs if leader not in (c.subject, c.reference)]
        apart = _of(claims, "ranking", "pairs apart")
        if len(others) > 1 and apart:
            bullets["families"].append(sentence(say(apart[0])))
        elif others:
            bullets["families"].append(sentence(say(others[0])))
        if len(v.data_sizes) > 1:  # at one data size a gap is its pair's contrast: said once, with its interval
            bullets["data"] += _gap_ends(_of(claims, "gaps", "gap"))
    factors = [c for c in _of(claims, "multipliers", "factor") if c.reference == leader]
    bullets["data"] += bullets_of([c for c in factors if c.unit == "factor of data"])
    bullets["size"] += bullets_of([c for c in factors if c.unit == "factor of params"])
    peak = v.statistics.get("peak")
    if peak is not None and len(v.archs) > 1:
        bullets["size"] += bullets_of([c for c in peak.claims if relation(c) == "above"])
    m = v.statistics.get("multipliers")
    if m is not None and m.pairs and not m.compute_measured:
        bullets["compute"].append("Compute is the parameter count relabelled here (a fixed budget per size).")
    bullets["compute"] += bullets_of([c for c in factors if c.unit == "factor of compute"])
    frontier = [c for c in _of(claims, "frontiers") if c.kind == "measured"
                and c.quantity in ("frontier gap trend", "factor")]
    bullets["compute"] += _frontier_lead(v)
    for quantity in ("frontier gap trend", "factor"):
        bullets["compute"] += bullets_of([c for c in frontier if c.quantity == quantity])
    bullets["compute"] += bullets_of(_of(claims, "frontiers", "optimal size exponent"))
    bullets["checks"] += _checks(v)
    for s in registered():  # a statistic of one's own: its claims under the group it names
        if s.name not in BUILT_IN and s.name in v.statistics:
            bullets[s.group] += bullets_of(v.statistics[s.name].claims)
    unread = ((f"{count_of(len(m.unread), 'multiplier')} not read: the two families' ranges do not overlap.",)
              if m is not None and m.unread else ())
    unread += ((f"{count_of(len(m.unbounded), 'multiplier')} past the measured range with an interval through 1: "
                "no bound stated.",) if m is not None and m.unbounded else ())
    details = unread + tuple(f"[{c.statistic}] {sentence(say(c))} ({c.scope}" + (f"; {c.level}" if c.level else "")
                             + ")" for c in claims)
    return Section(f"{v.dataset}", tuple(lines[:HEADLINE_LINES]), {g: tuple(b) for g, b in bullets.items() if b},
                   details)


def _gap_ends(gaps: Sequence[Claim]) -> list[str]:
    """Each family's gap to the leader at the smallest and the largest data size, in one bullet where it fits."""
    sizes = sorted({c.at["data_size"] for c in gaps})
    if not sizes:
        return []
    ends = [sizes[0], sizes[-1]] if len(sizes) > 1 else sizes
    by: dict[str, list[Claim]] = {}
    for c in gaps:
        if c.at["data_size"] in ends:
            by.setdefault(c.subject, []).append(c)
    head = f"Loss above {gaps[0].reference}'s at {' → '.join(f'{d:,}' for d in ends)} examples: "
    one = sentence(head + "; ".join(f"{a} " + " → ".join(number(c) for c in cs) for a, cs in by.items()))
    if words_in(one) <= BULLET_WORDS:
        return [one]
    return [b for d in ends for b in bullets_of([c for c in gaps if c.at["data_size"] == d], f"at {d:,} examples, ")]


def past_its_runs(leader: str, log_top: float, log_reach: float) -> str:
    """" (extrapolated there: LEADER's runs reach X FLOPs)" where the leader's runs stop short of the top of the
    compute by more than the printed precision; "" where they reach it, or fall short of it by less than a rounding
    of the printed count (the two numbers would read the same)."""
    top, reach = short_count(float(math.exp(log_top))), short_count(float(math.exp(log_reach)))
    return f" (extrapolated there: {leader}'s runs reach {reach} FLOPs)" if log_reach < log_top and reach != top else ""


def _frontier_lead(v: DatasetVerdict) -> list[str]:
    """Which family's compute frontier is lowest at the top of the compute, whether that is read past its runs, and
    the families it is not separated from there (`ComputeFrontiers.tied`)."""
    fv = v.statistics.get("frontiers")
    f = fv.frontiers if fv is not None else None
    if f is None or not f.fitted or f.leader not in f.fitted:
        return []
    top, reach = f.log_levels[-1], f.fitted[f.leader].log_c_range[1]
    past = past_its_runs(f.leader, top, reach)
    tied = ", not separated from " + join_words([f"{a}'s" for a in f.tied]) if f.tied else ""
    return [f"Compute frontiers (lowest held-out loss at each training compute): {f.leader}'s is lowest at "
            f"{short_count(float(math.exp(top)))} FLOPs{past}{tied}."]


def _listed(labels: Sequence[str], limit: int = 3) -> str:
    return join_words(list(labels[:limit]) + ([f"{len(labels) - limit} more"] if len(labels) > limit else []))


def _checks(v: DatasetVerdict) -> list[str]:
    out = []
    if not v.has_intervals:
        out.append("One seed per run: no estimate of seed noise, so no intervals and no claim that families differ.")
    s = v.statistics.get("scope")
    if s is not None:
        flagged = [c for c in s.claims if c.quantity == "runs to read with care"]
        if flagged:
            text = say(flagged[0])
            decisions = [c for c in s.claims if c.quantity == "decisions changed"]
            if decisions:
                text += "; " + say(decisions[0])
            out.append(sentence(text))
    small = v.statistics.get("small_to_large")
    tests = [c for c in (small.claims if small is not None else ()) if c.quantity == "prediction"]
    if tests:
        out.append(sentence("Fitted on smaller sizes, curves " + join_words([
            f"{'miss' if relation(c) == 'rejected' else 'predict'} the largest {c.at['axis']} ({number(c)})"
            for c in tests])))
    r = v.statistics.get("ranking")
    if r is not None and r.unranked:
        out.append(f"{join_words(r.unranked)} cannot be ranked against {r.leader}: no training-set size in common.")
    sh = v.statistics.get("shares")
    if sh is not None and sh.shares:
        below = [x.term for x in sh.shares if x.raw < 0]
        if below and v.has_intervals:
            out.append(f"{join_words(below).capitalize()} {'is' if len(below) == 1 else 'are'} estimated below zero "
                       "(less than seed noise alone would give) and shown as 0.")
        if sh.aliased:
            out.append(f"No share for {join_words(sh.aliased)}: not separable from the other factors in this design.")
    c = v.statistics.get("contrasts")
    by_size = [x for x in (c.contrasts if c is not None else ()) if x.matched == "data size"]
    if by_size:
        out.append(f"{'; '.join(f'{x.higher} and {x.lower}' for x in by_size[:3])}"
                   + (f" ({len(by_size)} pairs)" if len(by_size) > 3 else "")
                   + " never ran at the same model size: compared at each training-set size, each at its own sizes.")
    return out


# ---------------------------------------------------------------------------- contrasts and quality


def _change_lines(c: ContrastEffect, claims: Sequence[Claim], variant: str = "variant") -> list[str]:
    """What the variant does to each family's loss and to its gap to the leader, and who swaps places."""
    changes = [x for x in claims if x.quantity == "change"]
    by: dict[str, list[str]] = {}
    for x in changes:
        by.setdefault(relation(x), []).append(x.subject)
    words = {"above": "raises the loss of", "below": "lowers the loss of", "within noise": "leaves unchanged",
             "undecided": "has an undecided effect on", "no interval": "changes"}
    head = [sentence(f"The {variant} " + "; ".join(f"{words[k]} {join_words(a)}" for k, a in by.items()))]
    gaps = [x for x in claims if x.quantity == "gap change"]
    if gaps:
        byg: dict[str, list[str]] = {}
        for x in gaps:
            byg.setdefault(relation(x), []).append(x.subject)
        gw = {"above": "widen for", "below": "narrow for", "within noise": "are unchanged for",
              "undecided": "are undecided for", "no interval": "change for"}
        head.append(sentence(f"Gaps to {c.leader}, the best on {c.base}, "
                             + "; ".join(f"{gw[k]} {join_words(a)}" for k, a in byg.items())))
    swaps = [reversal(x, y, c.base, c.variant) for x, y in zip(c.gap_claims("base"), c.gap_claims("variant"),
                                                                strict=True)]
    return head + [sentence(s) for s in swaps if s]


def contrast_section(c: ContrastEffect) -> Section:
    claims = c.claims
    what = f" ({c.contrast.label})" if c.contrast.label else ""
    title = f"Contrast: {c.variant} against {c.base}{what}"
    if not c.has_intervals:
        return Section(title, ("One seed per run: the changes have no intervals and support no claim.",),
                       {}, tuple(sentence(say(x)) for x in claims))
    bullets = {"families": tuple(bullets_of([x for x in claims if x.quantity == "change"])),
               "data": tuple(bullets_of([x for x in claims if x.quantity == "gap change"]))}
    return Section(title, tuple(_change_lines(c, claims)), {g: b for g, b in bullets.items() if b},
                   tuple(f"{sentence(say(x))} ({x.scope})" for x in claims))


def quality_section(axis: QualityAxis, q: QualityLevel) -> Section:
    claims = q.claims
    factors = [x for x in claims if x.quantity == "factor"]
    spread = [x for x in claims if x.quantity == "spread change"]
    head = []
    if factors:
        worst = max(factors, key=lambda x: x.bound if x.kind == "bounded" else x.estimate)
        head.append(sentence(f"At {q.level} the most affected family: " + say(worst)))
    if spread:
        head.append(sentence("Spread: " + say(spread[0])))
    effect = q.effect if q.effect is not None and q.effect.has_intervals else None
    if effect is not None:  # the level as a contrast of the clean data: its loss changes and gap changes
        head += _change_lines(effect, claims, "level")
    missing = sorted(a for a in q.data_multiplier if q.headline(a).log_k is None)
    unbounded = sorted(a for a in q.data_multiplier if q.headline(a).through_one)
    checks = ((f"No multiplier for {join_words(missing)} (no curve to read).",) if missing else ())
    checks += ((f"No bound for {join_words(unbounded)}: past the measured sizes, with an interval through 1.",)
               if unbounded else ())
    bullets = {"families": tuple(bullets_of([x for x in claims if x.quantity == "change"])),
               "data": tuple(bullets_of(factors) + bullets_of([x for x in claims if x.quantity == "gap change"])),
               "checks": checks}
    return Section(f"Quality: {axis.base} at {q.level} against clean", tuple(head[:HEADLINE_LINES]) or ("Nothing to read.",),
                   {g: b for g, b in bullets.items() if b}, tuple(f"{sentence(say(x))} ({x.scope})" for x in claims))


# ---------------------------------------------------------------------------- across modalities


def _factors_words(claims: Sequence[Claim], lead: Claim) -> str:
    """A dataset's main factors' shares, largest first, then the lead of the first over the next."""
    shares = sorted((c for c in claims if c.quantity == "share" and c.at["dataset"] == lead.at["dataset"]),
                    key=lambda c: -c.estimate)
    return "; ".join([", ".join(say(c) for c in shares), say(lead)] if shares else [say(lead)])


def modality_section(claims: Sequence[Claim]) -> Section:
    """Per dataset, the factor that explains the most; per pair of datasets of different modalities, whether the
    families rank alike (the rank correlation, then the pairs that keep or swap their order on both)."""
    head, bullets, checks = [], [], []
    for lead in (c for c in claims if c.quantity == "share lead"):
        head.append(sentence(f"On {lead.at['dataset']} ({lead.at['modality']}): {_factors_words(claims, lead)}"))
    for rho in (c for c in claims if c.quantity == "rank correlation"):
        first, second = rho.subject, rho.reference
        on = lambda ds: {(c.subject, c.reference): c for c in claims if c.quantity == "pair" and c.at["dataset"] == ds}
        a, b = on(first), on(second)
        pairs = [(a[k], b[k]) for k in a if k in b]
        kept = [s for x, y in pairs if (s := kept_order(x, y, first, second))]
        swapped = [s for x, y in pairs if (s := reversal(x, y, first, second))]
        head.append(sentence(say(rho).capitalize()))
        counts = [f"{len(kept)} of the {count_of(len(pairs), 'pair')} of families keep their order beyond noise "
                  f"on both", f"{len(swapped)} swap places", f"{len(pairs) - len(kept) - len(swapped)} are not "
                  "separated on both"]
        head.append(sentence("; ".join(counts)))
        bullets += [sentence(s) for s in swapped] + [sentence(s) for s in kept]
        checks.append(sentence(f"Orders over {count_of(rho.at['cells'], 'cell')} every family ran on both; a loss on "
                               "one task kind is never compared with a loss on the other"))
    if not head:
        return Section("Across modalities", ("Nothing to compare: fewer than 3 families ran on two task kinds.",))
    return Section("Across modalities", tuple(head[:HEADLINE_LINES]),
                   {g: tuple(b) for g, b in (("families", bullets), ("checks", checks)) if b},
                   tuple(f"{sentence(say(x))} ({x.scope})" for x in claims))


# ---------------------------------------------------------------------------- lottery tickets

TICKET_WORDS = {"above": "beat random masks for", "below": "lose to random masks for",
                "within noise": "match random masks within noise for", "no interval": "have no interval for"}


def _by_relation(claims: Sequence[Claim], words: dict[str, str], label=lambda c: c.subject) -> str:
    by: dict[str, list[str]] = {}
    for c in claims:
        by.setdefault(relation(c), []).append(label(c))
    return "; ".join(f"{words[k]} {join_words(a)}" for k, a in by.items())


def tickets_section(claims: Sequence[Claim]) -> Section:
    """The lottery tickets (`tickets_report.ticket_claims`): a headline line per dataset they were found on, one
    for the advantage against size, one for carried tickets, one for the first layer's locality; then bullets."""
    if not claims:
        return Section("Lottery tickets", ("No lottery-ticket runs in these results.",))
    of = lambda q: [c for c in claims if c.quantity == q]
    datasets = dict.fromkeys(c.at["dataset"] for c in of("matched sparsity"))
    head = []
    for ds in datasets:
        kept = [c for c in of("matched sparsity") if c.at["dataset"] == ds]
        mine = [c for c in of("ticket advantage") if c.at["dataset"] == ds]
        sparse, margin = kept[0].at["sparsity"], kept[0].at["margin"]
        head.append(sentence(f"On {ds}, at {sparse}% sparsity or more, tickets " + _by_relation(mine, TICKET_WORDS))
                    if mine else sentence(f"On {ds}, no ticket was pruned to {sparse}% sparsity; tickets keep within "
                                          f"{margin:g} points of dense accuracy up to "
                                          f"{span([c.estimate for c in kept], lambda v: f'{v:.3g}%')} sparsity"))
    if of("ticket trend"):
        twice = {c.subject for c in of("ticket trend") if sum(d.subject == c.subject for d in of("ticket trend")) > 1}
        on = lambda c: f"{c.subject} on {c.at['dataset']}" if c.subject in twice else c.subject
        head.append(sentence("With model size the ticket advantage " + _by_relation(of("ticket trend"), {
            "above": "widens for", "below": "narrows for", "within noise": "is flat within noise for",
            "no interval": "has no interval for"}, on)))
    if of("carried ticket"):
        carried = lambda c: f"{c.subject} from {c.at['found_on']} to {c.at['dataset']}"
        head.append(sentence("Tickets carried to another dataset " + _by_relation(of("carried ticket"), TICKET_WORDS,
                                                                                   carried)))
    if of("ticket locality"):
        head.append(sentence(f"{of('ticket locality')[0].subject}'s first-layer ticket's locality: " + _by_relation(
            of("ticket locality"), {"above": "above random masks' on", "below": "below random masks' on",
                                    "within noise": "within noise of random masks' on", "no interval": "no interval on"},
            lambda c: c.at["dataset"])))
    per_dataset = lambda quantities: tuple(b for ds in datasets for q in quantities for b in bullets_of(
        [c for c in of(q) if c.at["dataset"] == ds], f"on {ds}, " if len(datasets) > 1 else ""))
    bullets = {"families": per_dataset(("matched sparsity", "ticket advantage")), "size": per_dataset(("ticket trend",)),
               "data": tuple(bullets_of(of("carried ticket"))),
               "checks": tuple(bullets_of(of("ticket locality")))}
    return Section("Lottery tickets", tuple(head[:HEADLINE_LINES]), {g: b for g, b in bullets.items() if b},
                   tuple(f"{sentence(say(c))} ({c.scope})" for c in claims))


# ---------------------------------------------------------------------------- the whole verdict


def sections(verdict: Verdict) -> list[Section]:
    """Each dataset's section, then each declared contrast's and each quality level's; a statistic of the suite of
    one's own gets a section of its claims."""
    out = [dataset_section(d) for d in verdict.datasets]
    out += [Section(ds, (f"All {count_of(n, 'run')} failed or diverged: no verdict.",)) for ds, n in
            verdict.unusable.items()]
    out += [contrast_section(c) for c in verdict.contrasts]
    out += [Section(f"Contrast: {u.contrast.variant} against {u.contrast.base}",
                    (f"Not reported: no records of {' or '.join(u.missing)}, by name or by content.",))
            for u in verdict.unmatched]
    out += [quality_section(a, q) for a in verdict.quality for q in a.levels]
    if verdict.statistics.get("modalities") is not None and verdict.statistics["modalities"].claims:
        out.append(modality_section(verdict.statistics["modalities"].claims))
    for s in registered("suite"):
        if s.name not in BUILT_IN and s.name in verdict.statistics and verdict.statistics[s.name].claims:
            claims = verdict.statistics[s.name].claims
            out.append(Section(s.name, tuple(bullets_of(claims))[:HEADLINE_LINES],
                               details=tuple(f"{sentence(say(x))} ({x.scope})" for x in claims)))
    return out


def verdict_text(verdict: Verdict, *, details: bool = False) -> str:
    """The verdict as the terminal prints it: the first section's headline and bullets, then each other section's
    headline; with `details`, every section's bullets and every claim."""
    parts = sections(verdict)
    out = [s.text(details, bullets=i == 0) for i, s in enumerate(parts)]
    folded = not details and any(s.bullets for s in parts[1:])
    return "\n\n".join(out + (["The other sections' findings, and every claim: --details."] if folded else []))


def verdict_dict(verdict: Verdict) -> dict:
    """The verdict as fits.json holds it: the statistics' numbers and claims, then each section's words."""
    out = verdict.to_dict()
    words = sections(verdict)
    by_title = {s.title: s for s in words}
    for d in out["datasets"]:
        d["words"] = by_title[d["dataset"]].to_dict()
    out["sections"] = [s.to_dict() for s in words]
    return out
