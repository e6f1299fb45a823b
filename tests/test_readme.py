"""The README is the user's manual (issue 29): it quotes what the code says, it reads in short sentences,
its links lead somewhere, and its tour runs as written without touching the committed reference."""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
sys.path.insert(0, str(ROOT / "scripts"))
import readme_front  # noqa: E402


def prose(text: str) -> str:
    """The README without its code blocks, HTML comments and image lines: what a person reads as text."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    return "\n".join(line for line in text.splitlines() if not line.startswith("!["))


def sentences(text: str, tables: bool = True) -> list[list[str]]:
    """Sentences of the prose as lists of words: paragraphs and list items split at their full stops, and
    (with `tables`) each table cell as one more."""
    out, paragraph = [], []

    def split(chunk: str) -> None:
        for s in re.split(r"(?<=[.!?])\s+(?=[A-Z`*(\[])", chunk.strip()):
            if words := re.findall(r"[\w`'’.,×±%\-/:]+", s):
                out.append(words)

    for line in [*prose(text).splitlines(), ""]:
        line = line.strip()
        if line.startswith("|"):
            if tables and not set(line) <= set("|-: "):
                for cell in line.strip("|").split("|"):
                    split(cell)
        elif line and not line.startswith("#") and not line.startswith("- "):
            paragraph.append(line)
            continue
        elif line.startswith("- "):
            split(" ".join(paragraph))
            paragraph = [line[2:]]
            continue
        split(" ".join(paragraph))
        paragraph = []
    return out


def test_the_readme_quotes_the_reference_as_the_code_renders_it():
    """The headline and the largest cell's table are what scripts/readme_front.py renders from the committed
    reference (`python scripts/readme_front.py --write` puts them back)."""
    quoted = readme_front.read_blocks(README.read_text())
    assert quoted == readme_front.blocks()


def test_the_readme_is_short_and_its_sentences_are_short():
    text = README.read_text()
    prose_lengths = [len(s) for s in sentences(text, tables=False)]  # the median of what is read as text
    assert len(re.findall(r"\S+", prose(text))) <= 2500
    assert statistics.median(prose_lengths) <= 18, statistics.median(prose_lengths)
    assert max(len(s) for s in sentences(text)) <= 45, [" ".join(s) for s in sentences(text) if len(s) > 45]


def test_every_relative_link_of_the_readme_and_its_docs_leads_to_a_file():
    for page in [README, *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)\s#]+)(?:#[^)]*)?\)", page.read_text()):
            if not re.match(r"[a-z]+:", target):
                assert (page.parent / target).exists(), f"{page.name}: {target}"


def test_every_archbench_command_of_the_readme_parses():
    from benchmarks.cli import build_parser

    text = README.read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    lines = [c for b in blocks for line in b.splitlines() for c in line.split("&&")]
    lines += re.findall(r"`(archbench [^`]+)`", re.sub(r"```.*?```", "", text, flags=re.S))  # inline commands
    commands = [c.split("#")[0].split() for c in lines if "--help" not in c]
    commands = [c[1:] for c in commands if c[:1] == ["archbench"] and len(c) > 2]  # not a command's bare name
    assert len(commands) >= 10
    for argv in commands:
        build_parser().parse_args(argv)  # an unknown command or flag exits 2


def _tour() -> str:
    block = README.read_text().split("## A one-minute tour")[1]
    return re.search(r"```bash\n(.*?)```", block, flags=re.S).group(1)


@pytest.mark.slow  # a leaderboard, a report and a compare of the committed reference: about 30 s
def test_the_tour_runs_as_written_and_leaves_the_reference_as_committed(tmp_path):
    """The tour's commands, in a shell at the repository's root, with its temporary folder moved under
    tmp_path and the browser line left out: every command succeeds, compare finds no change, and git sees
    the committed reference untouched."""
    script = _tour().replace("/tmp/archbench-tour", str(tmp_path / "tour"))
    script = "\n".join(line for line in script.splitlines()
                       if not line.startswith(("source ", "python -m webbrowser")))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    before = subprocess.run(["git", "status", "--porcelain", "--", "results"], cwd=ROOT, capture_output=True, text=True)
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "No change" in done.stdout
    assert (tmp_path / "tour" / "quick" / "report.html").stat().st_size > 10_000
    after = subprocess.run(["git", "status", "--porcelain", "--", "results"], cwd=ROOT, capture_output=True, text=True)
    assert after.stdout == before.stdout
