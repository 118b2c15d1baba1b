"""svc_status_checks_total: how many evaluations ended in each state, per
app, and summed over the processes in prometheus_client's multiprocess mode."""
from __future__ import annotations

import json
import os
import time

import pytest

from lovely.ws.status import OK, RED, YELLOW, addStatusHandler
from lovely.ws.status.appstatus import get_app_status
from lovely.ws.status.evaluation.counts import FILE_PREFIX, CheckCounts

from ..helpers import fixed, make_app, make_config, wait_until
from ..servers import run_in_child


def statuses(*states):
    return [{"state": state} for state in states]


def rows(counts):
    series, values = counts.snapshot()
    return [(name, state, count) for (name, state, _), count in zip(series, values)]


def test_runs_of_the_same_states_are_counted():
    counts = CheckCounts()
    names = ["b", "a"]
    for _ in range(3):
        counts.add(names, statuses(OK, RED))
    counts.add(list(names), statuses(OK, RED))  # equal names, another list
    assert rows(counts) == [("a", RED, 4), ("b", OK, 4)]


def test_a_change_of_state_starts_a_series():
    counts = CheckCounts()
    counts.add(["a"], statuses(OK))
    counts.add(["a"], statuses(YELLOW))
    counts.add(["a"], statuses(YELLOW))
    counts.add(["a"], statuses(OK))
    counts.add(["a", "b"], statuses(RED, OK))
    # by name, then OK, YELLOW, RED
    assert rows(counts) == [("a", OK, 2), ("a", YELLOW, 2), ("a", RED, 1), ("b", OK, 1)]


def test_reading_in_between_loses_nothing():
    counts = CheckCounts()
    seen = []
    for _ in range(5):
        counts.add(["a"], statuses(OK))
        seen.append(rows(counts))
    assert seen == [[("a", OK, n)] for n in range(1, 6)]


def test_series_stay_one_object_until_one_is_added():
    counts = CheckCounts()
    counts.add(["a"], statuses(OK))
    first, _ = counts.snapshot()
    counts.add(["a"], statuses(OK))
    assert counts.snapshot()[0] is first
    counts.add(["a"], statuses(RED))
    assert counts.snapshot()[0] is not first


def test_created_is_when_the_series_was_first_counted():
    counts = CheckCounts()
    before = time.time()
    counts.add(["a"], statuses(OK))
    after = time.time()
    counts.add(["a"], statuses(OK))
    (series,), _ = counts.snapshot()
    assert before <= series[2] <= after
    counts.add(["a"], statuses(RED))
    counts.add(["a"], statuses(OK))
    (ok, red), _ = counts.snapshot()
    assert ok[2] == series[2]
    assert red[2] >= series[2]


def test_names_are_counted_by_their_text():
    counts = CheckCounts()
    counts.add([1, "x"], statuses(OK, OK))
    assert rows(counts) == [("1", OK, 1), ("x", OK, 1)]


def test_statuses_that_are_not_a_reports_are_looked_at_one_by_one():
    counts = CheckCounts()
    counts.add(["a", "b"], [{"state": "GREENISH"}, {}])
    assert rows(counts) == [("a", RED, 1), ("b", RED, 1)]


def test_every_evaluation_of_an_app_counts(monkeypatch):
    addStatusHandler("db", fixed(state=OK))
    app = make_app()
    for path in ("/svc_status", "/svc_status.json", "/svc_status.html"):
        app.get(path)
    text = app.get("/svc_status.prometheus").text
    assert 'svc_status_checks_total{name="db",state="OK"} 4\n' in text
    # each app counts its own
    other = make_app()
    assert 'svc_status_checks_total{name="db",state="OK"} 1\n' in (
        other.get("/svc_status.prometheus").text)


def test_a_forked_child_starts_from_zero():
    counts = CheckCounts()
    counts.add(["a"], statuses(OK))
    counts.add(["a"], statuses(OK))

    def child():
        counts.add(["a"], statuses(OK))
        return json.dumps(rows(counts))

    assert json.loads(run_in_child(child)) == [["a", OK, 1]]
    assert rows(counts) == [("a", OK, 2)]


# ---------------------------------------------------------------- multiprocess


@pytest.fixture
def multiproc(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    return tmp_path


def files(directory):
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(FILE_PREFIX))


def test_each_process_writes_its_counts(multiproc):
    counts = CheckCounts()
    counts.add(["a"], statuses(OK))
    # written within a second, without anybody reading
    wait_until(lambda: len(files(multiproc)) == 1, "the file")
    (name,) = files(multiproc)
    assert name.startswith(f"{FILE_PREFIX}{os.getpid()}_") and name.endswith(".json")
    data = json.loads((multiproc / name).read_text())
    assert [row[:3] for row in data["counts"]] == [["a", OK, 1]]


def test_a_reader_sums_every_process(multiproc):
    counts = CheckCounts()
    counts.add(["a", "b"], statuses(OK, RED))

    def child():
        mine = CheckCounts()
        for _ in range(3):
            mine.add(["a"], statuses(OK))
        mine.add(["c"], statuses(YELLOW))
        return json.dumps(rows(mine))  # reading writes the file

    assert json.loads(run_in_child(child)) == [
        ["a", OK, 4], ["b", RED, 1], ["c", YELLOW, 1]]
    counts.add(["a", "b"], statuses(OK, RED))
    # the child has ended: its counts stay (a counter never goes down)
    assert rows(counts) == [("a", OK, 5), ("b", RED, 2), ("c", YELLOW, 1)]
    created = {(n, s): c for n, s, c in counts.snapshot()[0]}
    assert created[("a", OK)] <= created[("c", YELLOW)]


def test_files_that_are_not_counts_are_left_out(multiproc):
    (multiproc / f"{FILE_PREFIX}1_x.json").write_text("{not json")
    (multiproc / f"{FILE_PREFIX}2_x.json").write_text('{"counts": [["a", "OK", "x", 1], 7]}')
    (multiproc / "counter_1.db").write_bytes(b"prometheus_client's own")
    counts = CheckCounts()
    counts.add(["a"], statuses(OK))
    assert rows(counts) == [("a", OK, 1)]


def test_without_sharing_no_file_is_written(multiproc):
    counts = CheckCounts()
    counts.share = False
    counts.add(["a"], statuses(OK))
    assert rows(counts) == [("a", OK, 1)]
    assert files(multiproc) == []


def test_an_unwritable_directory_is_logged_once(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "missing"))
    counts = CheckCounts()
    counts.share = True
    with caplog.at_level("WARNING", logger="lovely.ws.status"):
        counts._share(str(tmp_path / "missing"))
        counts._share(str(tmp_path / "missing"))
    assert [r.getMessage().startswith("cannot write the check counts") for r in caplog.records
            ] == [True]


def test_the_view_shows_the_sum(multiproc):
    addStatusHandler("db", fixed(state=OK))
    config = make_config()
    app = get_app_status(config.registry)
    (multiproc / f"{FILE_PREFIX}1_old.json").write_text(
        json.dumps({"counts": [["db", OK, 40, 1700000000.0]]}))
    from webtest import TestApp

    text = TestApp(config.make_wsgi_app()).get("/svc_status.prometheus").text
    assert 'svc_status_checks_total{name="db",state="OK"} 41\n' in text
    assert 'svc_status_checks_created{name="db",state="OK"} 1700000000.0\n' in text
    assert app.checks.snapshot()[1] == [41]
