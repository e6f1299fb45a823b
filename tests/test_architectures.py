"""Every registered family passes the architecture checks (`benchmarks/running/arch_checks.py`)
on every input kind: builds, maps inputs to logits in float32 and bfloat16, has finite
gradients on every parameter, matches parameter targets, and learns a tiny task.

Parametrised over `architectures.names()`, so a family added as one file in
architectures/ is tested with no edit here; a family outside the repo runs the same
checks with `archbench check-arch --plugin FILE`.
"""

from __future__ import annotations

import pytest

import architectures
from architectures.layers import patch_size
from benchmarks.running import arch_checks, sizing
from benchmarks.spec import TaskSpec

ARCHS = architectures.names()


@pytest.mark.parametrize("case", arch_checks.CASES, ids=str)
@pytest.mark.parametrize("arch", ARCHS)
def test_family_passes_every_architecture_check(arch, case):
    case.run(arch, case.kind)


def test_unreachable_target_names_the_nearest_feasible_one():
    with pytest.raises(sizing.UserError, match=r"nearest feasible target is [\d,]+"):
        sizing.solve("transformer", arch_checks.TASKS["tokens"], 100)


@pytest.mark.parametrize(
    ("shape", "kind", "patch"),
    [((40, 1), "signal1d", 4), ((8, 8, 1), "image", 2), ((32, 32, 3), "image", 4), ((28, 28, 1), "image", 4),
     ((512,), "tokens", 1)],
)
def test_sequence_models_see_short_sequences_of_patches(shape, kind, patch):
    task = TaskSpec("t", kind, shape, 10, vocab_size=16 if kind == "tokens" else 0)
    assert patch_size(task) == patch
