"""Since when each handler has been in its state, and its last transitions:
on the reports of evaluations that show times."""
from __future__ import annotations

import threading

from lovely.ws.status import OK, RED, YELLOW
from lovely.ws.status.evaluation.history import HISTORY_LENGTH, History, Transition
from lovely.ws.status.handlers import HandlerOptions

from ..helpers import PATIENCE, app_status, make_app, wait_until


class Switch:
    def __init__(self, state=OK):
        self.state = state

    def __call__(self):
        return {"state": self.state}


def test_changes_are_on_timed_reports():
    db, cache = Switch(), Switch(YELLOW)
    app = app_status()
    app.add_handler("db", db)
    app.add_handler("cache", cache)
    first = app.evaluate()
    assert first.changed == [first.timestamp, first.timestamp]
    assert first.transitions == [(Transition(first.timestamp, OK),),
                                 (Transition(first.timestamp, YELLOW),)]
    db.state = RED
    second = app.evaluate()
    assert second.changed == [second.timestamp, first.timestamp]
    assert second.transitions[0] == (Transition(first.timestamp, OK),
                                     Transition(second.timestamp, RED))
    third = app.evaluate()
    assert third.changed == second.changed


def test_unchanged_states_share_the_lists():
    # What keeps a thousand handlers cheap: no look at each one.
    app = app_status()
    for i in range(1000):
        app.add_handler(f"h{i}", Switch())
    first, second = app.evaluate(), app.evaluate()
    assert second.changed is first.changed
    assert second.transitions is first.transitions


def test_untimed_reports_have_none():
    app = app_status()
    app.add_handler("db", Switch())
    report = app.evaluate(durations=False)
    assert report.changed is None and report.transitions is None


def test_the_history_is_bounded():
    db = Switch()
    app = app_status()
    app.add_handler("db", db)
    for i in range(3 * HISTORY_LENGTH):
        db.state = (OK, RED)[i % 2]
        report = app.evaluate()
    transitions = report.transitions[0]
    assert len(transitions) == HISTORY_LENGTH
    assert [t.state for t in transitions[-2:]] == [OK, RED]
    assert report.changed[0] == transitions[-1].time


def test_background_runs_are_seen_without_requests():
    calls = []
    lock = threading.Lock()

    def flapping():
        with lock:
            calls.append(1)
            return {"state": (OK, RED)[len(calls) % 2]}

    app = app_status(timeout=PATIENCE)
    app.add_handler("db", flapping, HandlerOptions(interval=0.01))
    app.evaluate()
    history = app.evaluator.history
    wait_until(lambda: len(history.of("db")) >= 4, "four transitions")
    report = app.evaluate()
    assert len(report.transitions[0]) >= 4
    assert report.transitions[0][-1].state == report.statuses[0]["state"]


def test_the_json_output_stays_the_handlers_dict():
    status = {"state": OK, "detail": "fine", "extra": [1, 2]}
    testapp = make_app(setup=lambda config: config.add_status_handler("db", lambda: status))
    testapp.get("/svc_status.prometheus")
    assert testapp.get("/svc_status.json").json == {"db": status}


def test_a_report_older_than_one_seen_changes_nothing():
    history = History()
    ok, red = [{"state": OK}], [{"state": RED}]
    history.columns(["db"], ok, 100.0)
    history.columns(["db"], red, 200.0)
    changed, transitions = history.columns(["db"], ok, 150.0)
    assert changed == [200.0]
    assert transitions == [(Transition(100.0, OK), Transition(200.0, RED))]


def test_handlers_that_are_gone_are_forgotten():
    history = History()
    history.columns(["a", "b"], [{"state": OK}] * 2, 1.0)
    history.columns(["a"], [{"state": OK}], 2.0, complete=False)
    assert history.of("b")
    history.columns(["a"], [{"state": OK}], 3.0)
    assert history.of("b") == ()
