import re

import pytest

from benchmarks.running.suite import load_suite
from benchmarks.spec import UserError

GOOD = """
name = "tiny"
datasets = ["mnist1d"]
architectures = ["mlp"]
target_params = [10_000]
data_sizes = [100, 200]
seeds = [0, 1]
[training]
epochs = 1
min_steps = 40
max_steps = 40
eval_every = 20
[lr]
trials = [1e-3, 3e-3]
"""


def test_quick_suite_covers_every_architecture_three_sizes_four_data_sizes_three_seeds():
    import architectures

    suite = load_suite("quick")
    specs = suite.run_specs()
    assert set(s.arch for s in specs) == set(architectures.wildcard_names())  # "*": not the named-only linear, bigru
    assert len(suite.target_params) >= 3 and len(suite.data_sizes) >= 4 and len(suite.seeds) >= 3
    steps = [suite.steps_for(d) for d in sorted(suite.data_sizes)]
    assert steps == sorted(steps)  # a larger training set never trains for fewer steps
    assert len(specs) == len(architectures.wildcard_names()) * len(suite.target_params) * len(suite.data_sizes)


def test_suite_file_expands_into_run_specs(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(GOOD)
    specs = load_suite(str(path)).run_specs()
    assert [(s.arch, s.data_size, s.lr_trials, s.steps) for s in specs] == [
        ("mlp", 100, (1e-3, 3e-3), 40), ("mlp", 200, (1e-3, 3e-3), 40)
    ]


@pytest.mark.parametrize(
    "edit, message",
    [
        (("min_steps = 40", "min_stepz = 40"), ":10: unknown key 'min_stepz' in [training]"),
        (('architectures = ["mlp"]', 'architectures = ["mpl"]'), "did you mean mlp"),
        (('datasets = ["mnist1d"]', 'datasets = ["mnist2d"]'), "unknown dataset 'mnist2d'"),
        (("epochs = 1", "epochs = -1"), ":9: [training] epochs must be positive"),
        (("data_sizes = [100, 200]", "data_sizes = [100, -200]"), ":6: data_size must be positive"),
        (("seeds = [0, 1]", "seeds = [0, 1"), "malformed TOML"),
        (("epochs = 1", "steps = 40"), ":9: [training] steps: a fixed number of steps trains a larger training set for fewer"),
        (("min_steps = 40", "min_steps = 400"), ":10: [training] min_steps (400) is above max_steps (40)"),
        (("max_steps = 40", "max_steps = 0"), ":11: [training] min_steps and max_steps must be positive"),
        (("data_sizes = [100, 200]", "data_sizes = [10000, 20000]"), ":11: [training] max_steps (40) x batch_size (128) is less"),
        (("trials = [1e-3, 3e-3]", "trials = []"), ":14: [lr] trials must be a non-empty list"),
        (("trials = [1e-3, 3e-3]", "trials = [1e-3, -3e-3]"), ":14: [lr] trials must all be positive"),
        (("trials = [1e-3, 3e-3]", "trials = [1e-3, 3e-3]\nextend = -1"), ":15: [lr] extend must be a whole number, 0 or more"),
    ],
)
def test_bad_suite_files_fail_with_a_clear_message(tmp_path, edit, message):
    path = tmp_path / "bad.toml"
    path.write_text(GOOD.replace(*edit))
    with pytest.raises(UserError, match=re.escape(message)):
        load_suite(str(path))


def test_unknown_suite_name_lists_the_known_ones():
    with pytest.raises(UserError, match="known: .*quick"):
        load_suite("no-such-suite")
