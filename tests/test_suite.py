import re
from pathlib import Path

import pytest

from benchmarks.running.suite import declared_contrasts, load_suite, save_contrasts
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
        (("eval_every = 20", "eval_every = 20\npatience = 1.5"), ":13: [training] patience must be in [0, 1]"),
        (("eval_every = 20", "eval_every = 20\npatience = 1.0"), ":13: [training] patience 1 of 2 evaluations"),
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


def test_paper_suite_runs_the_papers_four_models_at_its_sizes_and_budget_on_both_datasets():
    suite = load_suite("paper")
    specs = suite.run_specs()
    assert {s.dataset for s in specs} == {"mnist1d", "mnist1d-shuffled"} and len(suite.seeds) >= 3
    sizes = {(s.arch, s.target_params) for s in specs}
    assert sizes == {("linear", 410), ("mlp", 15_210), ("convnet?head=dense", 5_210),
                     ("bigru", 5_134)}
    assert len(specs) == 2 * 4
    for s in specs:  # 6,000 steps of batch 100 on the paper's 4,000 examples, Adam at 1e-2, scored at the end
        assert (s.data_size, s.steps, s.batch_size, s.lr, s.lr_trials, s.weight_decay, s.scored_at) == (
            4000, 6000, 100, 1e-2, (), 0.0, "last_step")


def test_paper_suite_sizes_are_matched_and_linear_is_its_one_size():
    from benchmarks import data
    from benchmarks.running import sizing

    task = data.task("mnist1d")
    counts = {s.arch: sizing.solve(s.arch, task, s.target_params) for s in load_suite("paper").run_specs()}
    assert {a: c.params for a, c in counts.items()} == {
        "linear": 410, "mlp": 15_210, "convnet?head=dense": 5_236, "bigru": 5_134}  # the paper's: 410, 15,210, 5,210, 5,134
    assert [a for a, c in counts.items() if c.fixed] == ["linear"]


SIZED = """
name = "sized"
datasets = ["mnist1d"]
architectures = ["mlp", "convnet?head=dense", "linear"]
target_params = [10_000]
data_sizes = [100]
seeds = [0]
[sizes]
convnet = [5_000, 8_000]
linear = [410]
[training]
epochs = 1
min_steps = 40
max_steps = 40
eval_every = 20
"""


def test_sizes_table_gives_a_family_its_own_sizes_and_the_rest_keep_target_params(tmp_path):
    path = tmp_path / "sized.toml"
    path.write_text(SIZED)
    specs = load_suite(str(path)).run_specs()
    assert [(s.arch, s.target_params) for s in specs] == [
        ("mlp", 10_000), ("convnet?head=dense", 5_000), ("convnet?head=dense", 8_000), ("linear", 410)
    ]


def test_a_fixed_size_family_named_at_a_target_it_cannot_match_still_expands_and_checks(tmp_path):
    from benchmarks.running import sweep

    path = tmp_path / "sized.toml"
    path.write_text(SIZED.replace("linear = [410]\n", ""))
    specs = load_suite(str(path)).run_specs()
    assert ("linear", 10_000) in [(s.arch, s.target_params) for s in specs]
    sweep.check([s for s in specs if s.arch == "linear"])  # no size error: its one size, whatever the target


def test_options_at_their_defaults_name_the_same_runs_as_the_bare_family(tmp_path):
    path = tmp_path / "sized.toml"
    path.write_text(SIZED.replace('"convnet?head=dense"', '"convnet?head=pool"'))
    assert [s.arch for s in load_suite(str(path)).run_specs()][1] == "convnet"
CONTRASTED = GOOD.replace('datasets = ["mnist1d"]', 'datasets = ["mnist1d", "mnist1d-shuffled", "recall"]') + """
[[contrasts]]
base = "mnist1d"
variant = "mnist1d-shuffled"
label = "input order destroyed"
"""


def test_built_in_suites_declare_the_shuffled_twin_as_a_contrast():
    for name in ("inductive", "standard"):
        (c,) = load_suite(name).contrasts
        assert (c.base, c.variant) == ("mnist1d", "mnist1d-shuffled") and "order" in c.label
    assert load_suite("quick").contrasts == ()


def test_declared_contrasts_are_read_with_dataset_names_as_runs_record_them(tmp_path, monkeypatch):
    (tmp_path / "mine").mkdir()
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "c.toml"
    path.write_text(CONTRASTED.replace('"recall"', '"parquet:mine"') + """
[[contrasts]]
base = "parquet:./mine"
variant = "mnist1d"
""")
    first, second = load_suite(str(path)).contrasts
    assert (first.base, first.variant, first.label) == ("mnist1d", "mnist1d-shuffled", "input order destroyed")
    assert (second.base, second.label) == (f"parquet:{(tmp_path / 'mine').resolve()}", "")


@pytest.mark.parametrize(
    "edit, message",
    [
        (("convnet = [5_000, 8_000]", "transformer = [5_000]"), ":9: [sizes] transformer: not an architecture of this suite"),
        (("convnet = [5_000, 8_000]", "convnet = [5_000, -8]"), ":9: [sizes] convnet must be a non-empty list of positive"),
        (("convnet = [5_000, 8_000]", "convnet = []"), ":9: [sizes] convnet must be a non-empty list"),
        (("convnet = [5_000, 8_000]", '"convnet?head=max" = [5_000]'), ":9: [sizes] convnet?head=max: option head"),
        (('"convnet?head=dense"', '"convnet?head=max"'), ":4: option head of convnet must be one of pool, dense"),
        (("target_params = [10_000]\n", ""), "'target_params' must be a non-empty list ([sizes] gives no size to mlp)"),
        (("eval_every = 20", 'eval_every = 20\nscored_at = "best"'), ":16: scored_at must be one of best_val_loss, last_step"),
    ],
)
def test_bad_sizes_options_and_scoring_fail_with_file_and_line(tmp_path, edit, message):
    path = tmp_path / "bad.toml"
    path.write_text(SIZED.replace(*edit))
    with pytest.raises(UserError, match=re.escape(message)):
        load_suite(str(path))


@pytest.mark.parametrize(
    "edit, message",
    [
        (('variant = "mnist1d-shuffled"', 'variant = "mnist1d-shufled"'),
         ':18: [[contrasts]] variant: unknown dataset \'mnist1d-shufled\'; did you mean mnist1d-shuffled'),
        (('variant = "mnist1d-shuffled"', 'variant = "listops"'),
         ":18: [[contrasts]] variant = 'listops' is not one of the suite's datasets (mnist1d, mnist1d-shuffled, recall)"),
        (('variant = "mnist1d-shuffled"', 'variant = "mnist1d"'),
         ":18: [[contrasts]] base and variant are the same dataset ('mnist1d'): a contrast needs two"),
        (('base = "mnist1d"\n', ''), ":16: [[contrasts]] base must name one of the suite's datasets, got None"),
        (('label = "input order destroyed"', 'lable = "x"'), ":19: [[contrasts]] unknown key 'lable'"),
    ],
)
def test_bad_contrasts_fail_naming_file_line_and_what_is_wrong(tmp_path, edit, message):
    path = tmp_path / "bad.toml"
    path.write_text(CONTRASTED.replace(*edit))
    with pytest.raises(UserError, match=re.escape(f"{path}{message}")):
        load_suite(str(path))


def test_a_contrast_declared_twice_is_refused_at_its_second_declaration(tmp_path):
    path = tmp_path / "twice.toml"
    path.write_text(CONTRASTED + CONTRASTED[CONTRASTED.index("\n[[contrasts]]"):])
    with pytest.raises(UserError, match=re.escape(f"{path}:22: [[contrasts]] 'mnist1d' against 'mnist1d-shuffled' "
                                                  "is declared twice")):
        load_suite(str(path))


def test_contrasts_that_are_not_tables_are_refused(tmp_path):
    path = tmp_path / "flat.toml"
    path.write_text(GOOD.replace('name = "tiny"', 'name = "tiny"\ncontrasts = ["mnist1d"]'))
    with pytest.raises(UserError, match=re.escape(f"{path}:3: contrasts are tables: [[contrasts]] with base =")):
        load_suite(str(path))


def test_a_sweep_keeps_the_contrasts_for_the_report_and_old_results_fall_back_to_the_built_in_suite(tmp_path):
    suite = load_suite("inductive")
    save_contrasts(suite, tmp_path)
    assert declared_contrasts(tmp_path, "inductive") == suite.contrasts
    assert declared_contrasts(tmp_path / "elsewhere", "inductive") == suite.contrasts  # swept before the file
    assert declared_contrasts(tmp_path, "mine") == ()
    save_contrasts(load_suite("quick"), tmp_path)  # a suite without contrasts leaves no file
    assert not (tmp_path / "quick" / "contrasts.json").exists()


ONLINE = """
name = "tiny-online"
datasets = ["mnist1d"]
architectures = ["mlp"]
target_params = [2_000, 4_000]
seeds = [0, 1]
regime = "online"
budgets = [80, 40]
[training]
batch_size = 32
eval_every = 20
"""


def test_an_online_suite_trains_each_size_for_each_budget_on_fresh_examples(tmp_path):
    path = tmp_path / "online.toml"
    path.write_text(ONLINE)
    specs = load_suite(str(path)).run_specs()
    assert [(s.target_params, s.steps, s.data_size, s.regime) for s in specs] == [
        (n, b, b * 32, "online") for n in (2_000, 4_000) for b in (40, 80)
    ]


def test_the_frontier_suite_spans_four_sizes_four_budgets_and_over_a_decade_and_a_half_of_compute():
    import architectures

    suite = load_suite("frontier")
    assert suite.regime == "online" and suite.datasets == ("mnist1d",) and len(suite.seeds) >= 3
    assert set(s.arch for s in suite.run_specs()) == set(architectures.wildcard_names())
    assert len(suite.target_params) >= 4 and len(suite.budgets) >= 4
    span = max(suite.target_params) * max(suite.budgets) / (min(suite.target_params) * min(suite.budgets))
    assert span >= 10**1.5


@pytest.mark.parametrize(
    "edit, message",
    [
        (('regime = "online"', 'regime = "streaming"'), ":7: regime must be one of finite, online, got 'streaming'"),
        (('regime = "online"', 'regime = "finite"'), ":8: budgets need regime = \"online\""),
        (("budgets = [80, 40]", "budgets = [80, 30]"), ":8: budgets must be multiples of [training] eval_every (20)"),
        (("budgets = [80, 40]", "budgets = []"), ":8: budgets must be a non-empty list of positive step counts"),
        (("budgets = [80, 40]", "budgets = [80, 40]\ndata_sizes = [100]"), ":9: data_sizes: in the online regime"),
        (('datasets = ["mnist1d"]', 'datasets = ["digits"]'), ":3: dataset digits cannot train online"),
    ],
)
def test_bad_online_suites_fail_with_file_and_line(tmp_path, edit, message):
    path = tmp_path / "bad.toml"
    path.write_text(ONLINE.replace(*edit))
    with pytest.raises(UserError, match=re.escape(message)):
        load_suite(str(path))


def test_the_suites_page_states_quicks_real_sizes():
    quick = load_suite("quick")
    row = next(line for line in (Path(__file__).parent.parent / "docs" / "suites.md").read_text().splitlines()
               if line.startswith("| `quick` |"))
    sizes = "/".join(f"{n / 1000:g}k" for n in quick.target_params)
    assert f"{sizes} params × {min(quick.data_sizes):,}–{max(quick.data_sizes):,} examples" in row
    assert f"× {len(quick.seeds)} seeds" in row


TWO_KINDS = """
name = "kinds"
datasets = ["mnist1d", "pydoc?context=16"]
architectures = ["mlp"]
target_params = [10_000]
data_sizes = [100, 400]
seeds = [0]
[training]
epochs = 1
min_steps = 40
max_steps = 400
eval_every = 20
[training."pydoc?context=16"]
epochs = 2
min_steps = 60
batch_size = 16
"""


def test_a_dataset_s_own_training_table_replaces_those_keys_for_its_runs_alone(tmp_path):
    path = tmp_path / "kinds.toml"
    path.write_text(TWO_KINDS)
    specs = load_suite(str(path)).run_specs()
    assert [(s.dataset, s.data_size, s.steps, s.batch_size, s.eval_every) for s in specs] == [
        ("mnist1d", 100, 40, 128, 20), ("mnist1d", 400, 40, 128, 20),  # [training]: one epoch, at least 40 steps
        ("pydoc?context=16", 100, 60, 16, 20), ("pydoc?context=16", 400, 60, 16, 20),  # its own: 2 epochs of 16, >= 60
    ]


@pytest.mark.parametrize(("edit", "message"), [
    (('[training."pydoc?context=16"]', '[training."pydoc"]'), "[training.'pydoc']: not a dataset of this suite"),
    (("batch_size = 16", "batch_sise = 16"), "unknown key 'batch_sise' in [training.'pydoc?context=16']"),
    (("min_steps = 60", "min_steps = 600"), "[training] min_steps (600) is above max_steps (400)"),
    (("batch_size = 16", "batch_size = 1.5"), "[training] batch_size must be an integer"),
])
def test_a_bad_dataset_training_table_fails_naming_it(tmp_path, edit, message):
    path = tmp_path / "kinds.toml"
    path.write_text(TWO_KINDS.replace(*edit))
    with pytest.raises(UserError, match=re.escape(message)):
        load_suite(str(path))


def test_the_modalities_suite_runs_the_same_families_and_sizes_on_both_task_kinds():
    suite = load_suite("modalities")
    specs = suite.run_specs()
    by = {ds: {(s.arch, s.target_params, s.data_size) for s in specs if s.dataset == ds} for ds in suite.datasets}
    (signal, text), = [tuple(by.values())]
    assert signal == text and len(signal) == 5 * 2 * 2 and len(suite.seeds) == 3
    assert {s.batch_size for s in specs if s.dataset == "mnist1d"} != {s.batch_size for s in specs if s.dataset != "mnist1d"}
