"""`archbench check-arch`: the architecture test matrix on a family loaded with --plugin."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import architectures
from benchmarks.cli import main
from benchmarks.cli.archs import new_arch
from benchmarks.running import arch_checks

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def registry(monkeypatch):
    """A copy of the registry for the test: families it loads are gone afterwards."""
    architectures.names()
    monkeypatch.setattr(architectures, "_REGISTRY", dict(architectures._REGISTRY))


def test_every_check_has_cases_and_every_case_names_its_check():
    assert set(arch_checks.CHECKS) == {"build", "shapes", "gradients", "size", "learns", "causal"}
    assert {c.check for c in arch_checks.CASES} == set(arch_checks.CHECKS)


def test_a_family_written_from_the_template_passes_the_plugin_check(tmp_path):
    plugin = new_arch("check_good", tmp_path)
    done = subprocess.run([sys.executable, "-m", "benchmarks.cli", "check-arch", "--plugin", str(plugin)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    n = len(arch_checks.CASES)
    assert f"{n} of {n} cases passed" in done.stdout
    assert done.stdout.count("pass") >= n and "check_good" in done.stdout


def test_a_family_with_a_shape_bug_fails_naming_the_check(tmp_path, registry, capsys):
    plugin = new_arch("check_bad", tmp_path)
    text = plugin.read_text()
    assert "cfg.width, task.num_classes, rngs," in text
    plugin.write_text(text.replace("cfg.width, task.num_classes, rngs,", "cfg.width, task.num_classes + 1, rngs,"))
    assert main(["check-arch", "--plugin", str(plugin), "--check", "build,shapes"]) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == len(arch_checks.TASKS)  # one line per failed case: shapes, on every input kind
    assert all(line.startswith("archbench: check-arch: check_bad failed shapes on ") for line in lines)
    assert "expected (4, 10) float32" in lines[0]
    assert "failed: shapes" in captured.out


def test_check_arch_without_a_family_is_one_line_and_exit_2(capsys):
    assert main(["check-arch"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
