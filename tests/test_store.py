import subprocess
import sys

from benchmarks.spec import RunRecord, RunSpec
from benchmarks.store import ResultsStore, suites_in


def _record(i: int) -> RunRecord:
    spec = RunSpec(arch="mlp", dataset="mnist1d", target_params=10_000, data_size=100 * (i + 1))
    return RunRecord(run_id=f"id{i}", spec=spec, status="ok", params=i)


def test_appended_records_read_back_in_order(tmp_path):
    store = ResultsStore(tmp_path, "s")
    for i in range(3):
        store.append(_record(i))
    assert [r.run_id for r in store.records()] == ["id0", "id1", "id2"]
    assert store.done_ids() == {"id0", "id1", "id2"}
    assert suites_in(tmp_path) == ["s"]


def test_torn_last_line_is_reported_once_and_skipped_and_next_append_is_clean(tmp_path, capsys):
    store = ResultsStore(tmp_path, "s")
    store.append(_record(0))
    with open(store.path, "a") as f:
        f.write(_record(1).to_json()[:40])  # a write cut short by a kill
    assert [r.run_id for r in store.records()] == ["id0"]
    assert [r.run_id for r in store.records()] == ["id0"]
    assert capsys.readouterr().err.count("not a valid record") == 1
    store.append(_record(2))
    assert [r.run_id for r in ResultsStore(tmp_path, "s").records()] == ["id0", "id2"]


def test_concurrent_appenders_never_interleave_lines(tmp_path):
    code = (
        "import sys; sys.path.insert(0, '.');"
        "from tests.test_store import _record; from benchmarks.store import ResultsStore;"
        f"s = ResultsStore({str(tmp_path)!r}, 's');"
        "[s.append(_record(int(sys.argv[1]) * 100 + i)) for i in range(50)]"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(k)]) for k in range(3)]
    assert all(p.wait() == 0 for p in procs)
    records = ResultsStore(tmp_path, "s").records()
    assert len(records) == 150 and len({r.run_id for r in records}) == 150
