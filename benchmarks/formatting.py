"""How numbers and tables look, wherever archbench shows them: terminal, Markdown, HTML, files.

- `human(12345)` -> '12.3k'; `fmt_estimate(est)` -> '0.412 ± 0.021'
- `md_table`: a Markdown table padded to line up in a terminal
- `html_page`, `html_table` and `CSS`: every page archbench writes (the
  leaderboard and the report), with one style sheet
- `table_console`: a rich Console for tables
- `write_text`: a whole file at once, atomically
- `FORMATS`: the formats a leaderboard is written in (`archbench leaderboard --format`)
- `did_you_mean`: '; did you mean quick?' for a misspelt or wrong-case name
"""

from __future__ import annotations

import difflib
import html
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

FORMATS = ("md", "csv", "html", "json")  # what a leaderboard renders to (analysis/leaderboard_formats.py)


class Interval(Protocol):
    """A value with a symmetric interval (`benchmarks.analysis.stats.Estimate`)."""

    @property
    def value(self) -> float: ...

    @property
    def half_width(self) -> float: ...


def human(x: float) -> str:
    """12345 -> '12.3k': counts and rates at a glance."""
    if not math.isfinite(x):
        return "—"
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{suffix}"
    return f"{x:.3g}"


def fmt_estimate(est: Interval, *, percent: bool = False) -> str:
    """'0.412 ± 0.021'; the interval reads 'nan' with a single seed."""
    if math.isnan(est.value):
        return "—"
    scale = 100.0 if percent else 1.0
    digits = 1 if percent else 3
    return f"{est.value * scale:.{digits}f} ± {est.half_width * scale:.{digits}f}"


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]) -> list[str]:
    """A Markdown table padded to line up in a terminal."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]  # rows may be empty

    columns = list(zip(widths, right, strict=True))

    def line(cells: Sequence[str]) -> str:
        padded = (c.rjust(w) if r else c.ljust(w) for c, (w, r) in zip(cells, columns, strict=True))
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if r else ("-" * (w + 2)) for w, r in columns) + "|"
    return [line(header), rule, *(line(r) for r in rows)]


CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2328;max-width:1180px;margin:2em auto;
padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #d0d7de;padding-bottom:.2em;margin-top:2em}
.meta,.note{color:#57606a}.warn{color:#9a6700}
.verdict p{background:#f6f8fa;border-left:4px solid #0969da;padding:.6em 1em}
figure{margin:1.2em 0}figure img{max-width:100%;height:auto;border:1px solid #d0d7de}
figcaption{color:#57606a;font-size:.9em}
.verdict .headline p{margin:.1em 0;padding:.15em .8em}figure.lead img{max-height:55vh;width:auto}
p.group{font-weight:600;margin:.6em 0 0}
table{border-collapse:collapse;margin:.6em 0 1.4em;font-size:.9em}th,td{border:1px solid #d0d7de;padding:.25em .6em}
th{background:#f6f8fa;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.bad td{color:#8c959f;font-style:italic}tr.tied td{background:#eef6ee}
"""


def html_page(title: str, body: str) -> str:
    """A self-contained HTML page: the one style sheet inline, no scripts, nothing fetched from elsewhere."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width,initial-scale=1">\n'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>\n{body}\n</body></html>\n"
    )


class Num(str):
    """Text shown as a number in an HTML table (right-aligned, tabular figures)."""


def html_table(header: Sequence[str], rows: Sequence[Sequence[object]], *, classes: Sequence[str] = ()) -> str:
    """An HTML table; ints, floats and `Num` cells are numbers; `classes[i]` is the class of row i."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if i < len(classes) and classes[i] else ""
        cells = "".join(f"<td{' class=num' if isinstance(v, int | float | Num) else ''}>{html.escape(str(v))}</td>"
                        for v in row)
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def did_you_mean(name: str, known: Sequence[str]) -> str:
    """'; did you mean a, b?' naming the known names closest to `name`, case aside ('' when none is close)."""
    lower = {k.lower(): k for k in known}  # case-insensitive: MLP -> mlp, Quick -> quick
    same = [lower[name.lower()]] if name.lower() in lower else []  # only its case is wrong: that one alone
    close = same or [lower[m] for m in difflib.get_close_matches(name.lower(), lower, n=3)]
    return f"; did you mean {', '.join(close)}?" if close else ""


def table_console():
    """A rich Console for tables: the terminal's width, or 120 columns when piped (not squeezed into 80)."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=120)


def write_text(path: str | Path, text: str) -> None:
    """Write via a temporary file and rename, so a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
