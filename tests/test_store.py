import json
import os
import socket
import subprocess
import sys
import time

import pytest

from benchmarks.layout import TORN_FILE
from benchmarks.running.store import CLAIM_LEASE_S, Claim, Owner, ResultsStore, _process_start, suites_in
from benchmarks.spec import RunRecord, RunSpec, UserError


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
    torn = _record(1).to_json()[:40]
    with open(store.path, "a") as f:
        f.write(torn)  # a write cut short by a kill
    assert [r.run_id for r in store.records()] == ["id0"]
    assert [r.run_id for r in ResultsStore(tmp_path, "s").records()] == ["id0"]
    err = capsys.readouterr().err
    assert err.count("torn last line") == 1 and "runs.jsonl:2" in err
    store.append(_record(2))
    assert [r.run_id for r in ResultsStore(tmp_path, "s").records()] == ["id0", "id2"]
    assert store.path.read_text().count("\n") == 2  # the torn bytes never become a line in the middle
    assert (store.dir / TORN_FILE).read_text() == torn + "\n"  # kept for inspection
    assert capsys.readouterr().err == ""


def test_complete_record_that_lost_its_newline_is_kept(tmp_path):
    store = ResultsStore(tmp_path, "s")
    store.path.parent.mkdir(parents=True)
    store.path.write_text(_record(0).to_json())
    assert [r.run_id for r in store.records()] == ["id0"]
    store.append(_record(1))
    assert [r.run_id for r in ResultsStore(tmp_path, "s").records()] == ["id0", "id1"]


@pytest.mark.parametrize("damage", ["{not json", '{"run_id": "x"}', "\x00\x00\x00"])
def test_damaged_line_in_the_middle_refuses_with_file_and_line(tmp_path, damage):
    store = ResultsStore(tmp_path, "s")
    store.append(_record(0))
    with open(store.path, "a") as f:
        f.write(damage + "\n")
    store.append(_record(1))
    before = store.path.read_bytes()
    with pytest.raises(UserError, match=r"runs\.jsonl:2: not a valid run record .*delete line 2") as err:
        store.records()
    assert "\n" not in str(err.value)
    with pytest.raises(UserError):
        store.append_new(_record(2))
    assert store.path.read_bytes() == before


def test_concurrent_appenders_never_interleave_lines(tmp_path):
    code = (
        "import sys; sys.path.insert(0, '.');"
        "from tests.test_store import _record; from benchmarks.running.store import ResultsStore;"
        f"s = ResultsStore({str(tmp_path)!r}, 's');"
        "[s.append(_record(int(sys.argv[1]) * 100 + i)) for i in range(50)]"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(k)]) for k in range(3)]
    assert all(p.wait() == 0 for p in procs)
    records = ResultsStore(tmp_path, "s").records()
    assert len(records) == 150 and len({r.run_id for r in records}) == 150


def test_append_new_never_stores_a_run_twice(tmp_path):
    store = ResultsStore(tmp_path, "s")
    assert store.append_new(_record(0)) is True
    assert store.append_new(_record(0)) is False
    assert [r.run_id for r in store.records()] == ["id0"]


def _failed(i: int) -> RunRecord:
    return RunRecord(run_id=f"id{i}", spec=_record(i).spec, status="failed", reason="RuntimeError: out of memory")


def test_a_retried_run_supersedes_its_failed_record_and_a_result_is_never_superseded(tmp_path):
    store = ResultsStore(tmp_path, "s")
    for record in (_failed(0), _record(1), _record(0), _record(1), _failed(2), _failed(2)):  # id1 twice: run --force
        store.append(record)
    assert len(store.path.read_text().splitlines()) == 6  # the file is only ever appended to
    assert [(r.run_id, r.status) for r in store.records()] == [("id1", "ok"), ("id0", "ok"), ("id1", "ok"),
                                                                ("id2", "failed")]


def test_only_a_store_that_retries_failed_runs_claims_them_and_a_retry_is_recorded_once(tmp_path):
    ResultsStore(tmp_path, "s").append(_failed(0))
    assert ResultsStore(tmp_path, "s").claim("id0") is None  # a failed record is final...
    retrying = ResultsStore(tmp_path, "s", retry_failed=True)
    assert retrying.done_ids() == set()  # ...unless the sweep retries failed runs
    claim = retrying.claim("id0")
    assert isinstance(claim, Claim)
    assert retrying.append_new(_record(0), claim) is True
    assert retrying.claim("id0") is None and retrying.append_new(_record(0)) is False
    assert [(r.run_id, r.status) for r in retrying.records()] == [("id0", "ok")]


def _write_claim(store: ResultsStore, run_id: str, owner: Owner, age_s: float = 0.0) -> None:
    path = store.claim_path(run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(owner.__dict__))
    if age_s:
        os.utime(path, (time.time() - age_s, time.time() - age_s))


def test_run_claimed_by_a_live_process_is_not_claimed_again(tmp_path):
    store = ResultsStore(tmp_path, "s")
    parent = Owner(os.getppid(), socket.gethostname(), _process_start(os.getppid()), "t")
    _write_claim(store, "id0", parent)
    assert store.claim("id0") == parent


def test_claim_of_a_dead_process_is_taken_over(tmp_path):
    store = ResultsStore(tmp_path, "s")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _write_claim(store, "id0", Owner(dead.pid, socket.gethostname(), "1", "t"))
    claim = store.claim("id0")
    assert isinstance(claim, Claim) and claim.owner.pid == os.getpid()
    assert json.loads(store.claim_path("id0").read_text())["pid"] == os.getpid()


def test_claim_of_a_reused_pid_is_taken_over(tmp_path):
    store = ResultsStore(tmp_path, "s")
    _write_claim(store, "id0", Owner(os.getppid(), socket.gethostname(), "not-its-start-time", "t"))
    assert isinstance(store.claim("id0"), Claim)


def test_claim_from_another_host_holds_until_its_lease_runs_out(tmp_path):
    store = ResultsStore(tmp_path, "s")
    other = Owner(1, "some-other-host", "1", "t")
    _write_claim(store, "fresh", other)
    _write_claim(store, "old", other, age_s=CLAIM_LEASE_S + 60)
    assert store.claim("fresh") == other
    assert isinstance(store.claim("old"), Claim)


def test_recorded_run_is_not_claimed_and_release_frees_a_claim(tmp_path):
    store = ResultsStore(tmp_path, "s")
    store.append(_record(0))
    assert store.claim("id0") is None
    claim = store.claim("id1")
    assert isinstance(claim, Claim) and claim.path.exists()
    store.append_new(_record(1), claim)
    assert not claim.path.exists()


def test_torn_claim_file_is_stale(tmp_path):
    store = ResultsStore(tmp_path, "s")
    store.claim_path("id0").parent.mkdir(parents=True)
    store.claim_path("id0").write_text('{"pid": 12')
    assert isinstance(store.claim("id0"), Claim)


def test_reading_a_missing_or_read_only_store_writes_nothing(tmp_path):
    assert ResultsStore(tmp_path / "nowhere", "s").records() == []
    assert not (tmp_path / "nowhere").exists()


def test_claim_of_a_killed_process_not_yet_reaped_is_taken_over(tmp_path):
    store = ResultsStore(tmp_path, "s")
    zombie = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    start = _process_start(zombie.pid)
    zombie.kill()
    time.sleep(0.5)  # killed, and not waited for: a zombie still holding its pid
    try:
        _write_claim(store, "id0", Owner(zombie.pid, socket.gethostname(), start, "t"))
        assert isinstance(store.claim("id0"), Claim)
    finally:
        zombie.wait()
