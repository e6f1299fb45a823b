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
steps = 40
eval_every = 20
[lr]
trials = [1e-3, 3e-3]
"""


def test_quick_suite_covers_every_architecture_three_sizes_three_data_sizes_two_seeds():
    import architectures

    suite = load_suite("quick")
    specs = suite.run_specs()
    assert set(s.arch for s in specs) == set(architectures.names())
    assert len(suite.target_params) >= 3 and len(suite.data_sizes) >= 3 and len(suite.seeds) >= 2
    assert len(specs) == len(architectures.names()) * len(suite.target_params) * len(suite.data_sizes)


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
        (("steps = 40", "stepz = 40"), ":9: unknown key 'stepz' in [training]"),
        (('architectures = ["mlp"]', 'architectures = ["mpl"]'), "did you mean mlp"),
        (('datasets = ["mnist1d"]', 'datasets = ["mnist2d"]'), "unknown dataset 'mnist2d'"),
        (("steps = 40", "steps = -40"), "steps must be positive"),
        (("data_sizes = [100, 200]", "data_sizes = [100, -200]"), ":6: data_size must be positive"),
        (("seeds = [0, 1]", "seeds = [0, 1"), "malformed TOML"),
    ],
)
def test_bad_suite_files_fail_with_a_clear_message(tmp_path, edit, message):
    path = tmp_path / "bad.toml"
    path.write_text(GOOD.replace(*edit))
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_suite(str(path))


def test_unknown_suite_name_lists_the_known_ones():
    with pytest.raises(UserError, match="known: .*quick"):
        load_suite("no-such-suite")
