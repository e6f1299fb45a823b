"""Quality levels: a suite's `quality` axis applied to a dataset name, and read back from a recorded one.

    with_quality("mnist1d", "label_noise=0.1")  -> "mnist1d?label_noise=0.1"
    with_quality("mnist1d", "label_noise=0")    -> "mnist1d"   (the defaults: the clean runs, their old ids)
    quality_of("listops?length=64&label_noise=0.1") -> ("listops?length=64", "label_noise=0.1")

The level is part of the dataset name a RunSpec records, so it joins the run id and every table
that groups runs by dataset; `quality_of` splits it off again for the analysis of quality
(`benchmarks.analysis.verdict_statistics.quality`); `quality_groups` finds a dataset's levels among names.
"""

from __future__ import annotations

from benchmarks import data
from benchmarks.data.quality import KNOBS
from benchmarks.spec import UserError

CLEAN = ""  # the level of a dataset whose knobs are all at their defaults


def _items(query: str) -> list[tuple[str, str]]:
    return [(key, value) for key, _, value in (item.partition("=") for item in filter(None, query.split("&")))]


def with_quality(name: str, level: str) -> str:
    """The dataset `name` at quality `level` (`key=value&...` of quality knobs); knobs at their defaults are left
    out, so the level of the defaults is the name as given (UserError naming dataset and option if it does not fit)."""
    keys = [key for key, _ in _items(level)]
    for item in filter(None, level.split("&")):
        key, eq, _ = item.partition("=")
        if key not in KNOBS or not eq:
            raise UserError(f"quality level {level!r}: {item!r} is not a quality knob=value "
                            f"(knobs: {', '.join(KNOBS)})")
    given = dict(_items(name.partition("?")[2]))
    for key in keys:
        if key in given:
            raise UserError(f"dataset {name}: option {key} is set in the name and by the quality level {level!r}")
    ref = data.parse(f"{name}{'&' if '?' in name else '?'}{level}" if level else name)
    changed = [f"{k}={ref.options[k]}" for k in keys if ref.options[k] != ref.info.options[k]]
    return f"{name}{'&' if '?' in name else '?'}{'&'.join(changed)}" if changed else name


def quality_of(name: str) -> tuple[str, str]:
    """(the dataset without its quality knobs, the level: `knob=value&...` of the knobs off their defaults, sorted;
    CLEAN where none). Names of your files (`NAME:PATH`), and of datasets no longer registered, have no knobs."""
    base, _, query = name.partition("?")
    if not query or ":" in base:
        return name, CLEAN
    try:
        ref = data.parse(name)
    except UserError:
        return name, CLEAN
    rest = [f"{k}={v}" for k, v in _items(query) if k not in KNOBS]
    level = [f"{k}={ref.options[k]}" for k in sorted(KNOBS) if k in ref.options and ref.options[k] != ref.info.options[k]]
    return base + ("?" + "&".join(rest) if rest else ""), "&".join(level)


def quality_groups(datasets: list[str]) -> dict[str, dict[str, str]]:
    """{dataset without knobs: {level: dataset}} for each one whose clean level and another level are present."""
    groups: dict[str, dict[str, str]] = {}
    for ds in sorted(datasets):
        base, level = quality_of(ds)
        groups.setdefault(base, {})[level] = ds
    return {b: dict(sorted(g.items())) for b, g in groups.items() if CLEAN in g and len(g) > 1}
