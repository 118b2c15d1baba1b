"""``failure_threshold=N``: a handler is reported YELLOW or RED only after N
results in a row that were not OK; until then its previous state, with a
detail that says how many so far."""
from __future__ import annotations

import threading

from lovely.ws.status import OK, RED, YELLOW
from lovely.ws.status.handlers import HandlerOptions

from ..helpers import PATIENCE, app_status, make_app, wait_until


class Scripted:
    """A handler that returns the states of ``script`` in turn, then the last."""

    def __init__(self, *script, labels=None):
        self.script = list(script)
        self.calls = 0
        self.labels = labels
        self.lock = threading.Lock()

    def __call__(self):
        with self.lock:
            state = self.script[min(self.calls, len(self.script) - 1)]
            self.calls += 1
            status = {"state": state, "detail": f"call {self.calls}"}
        if self.labels is not None:
            status["labels"] = self.labels
        return status


def reported(app, n):
    return [app.evaluate().as_dict()["db"] for _ in range(n)]


def test_failures_count_until_the_threshold():
    app = app_status(timeout=PATIENCE)
    app.add_handler("db", Scripted(OK, RED, RED, RED, RED, OK, YELLOW),
                    HandlerOptions(failure_threshold=3))
    assert reported(app, 7) == [
        {"state": OK, "detail": "call 1"},
        {"state": OK, "detail": "not yet RED: 1 of 3 results in a row: call 2"},
        {"state": OK, "detail": "not yet RED: 2 of 3 results in a row: call 3"},
        {"state": RED, "detail": "call 4"},
        {"state": RED, "detail": "call 5"},
        {"state": OK, "detail": "call 6"},  # one OK is reported at once
        {"state": OK, "detail": "not yet YELLOW: 1 of 3 results in a row: call 7"},
    ]


def test_the_previous_state_is_kept_with_the_new_labels():
    app = app_status(timeout=PATIENCE)
    handler = Scripted(YELLOW, YELLOW, RED, labels={"lag": 7})
    app.add_handler("db", handler, HandlerOptions(failure_threshold=2))
    assert reported(app, 3) == [
        {"state": OK, "detail": "not yet YELLOW: 1 of 2 results in a row: call 1",
         "labels": {"lag": 7}},
        {"state": YELLOW, "detail": "call 2", "labels": {"lag": 7}},
        {"state": RED, "detail": "call 3", "labels": {"lag": 7}},  # still not OK: counts on
    ]


def test_a_threshold_of_one_changes_nothing():
    app = app_status(timeout=PATIENCE)
    app.add_handler("db", Scripted(RED, OK), HandlerOptions(failure_threshold=1))
    assert reported(app, 2) == [{"state": RED, "detail": "call 1"},
                                {"state": OK, "detail": "call 2"}]


def test_a_timeout_counts_as_a_failure(blocked):
    app = app_status()
    app.add_handler("db", blocked, HandlerOptions(timeout=0.05, failure_threshold=2))
    first, second = reported(app, 2)
    assert first == {"state": OK, "detail": "not yet RED: 1 of 2 results in a row: "
                                            "timed out after 0.05 seconds"}
    assert second["state"] == RED and "still running" in second["detail"]


def test_a_cached_result_counts_once():
    app = app_status(timeout=PATIENCE)
    handler = Scripted(RED)
    app.add_handler("db", handler, HandlerOptions(failure_threshold=2, ttl=60))
    assert [s["detail"] for s in reported(app, 3)] == [
        "not yet RED: 1 of 2 results in a row: call 1"] * 3
    assert handler.calls == 1


def test_in_the_background_each_run_counts_once():
    app = app_status(timeout=PATIENCE)
    handler = Scripted(RED)
    app.add_handler("db", handler, HandlerOptions(failure_threshold=3, interval=PATIENCE))
    # Requests answer from the one result: they do not count it again.
    assert reported(app, 5) == [
        {"state": OK, "detail": "not yet RED: 1 of 3 results in a row: call 1"}] * 5
    app.add_handler("db", handler, HandlerOptions(failure_threshold=3, interval=0.01))
    wait_until(lambda: app.evaluate().as_dict()["db"]["state"] == RED, "three runs")
    assert handler.calls >= 3


def test_from_the_ini_file():
    settings = {
        "svcstatus.handlers": "db = tests.evaluation.test_failure_threshold:flaky",
        "svcstatus.handler.db.failure_threshold": "2",
    }
    testapp = make_app(settings=settings)
    assert testapp.get("/svc_status").text.startswith("db\tOK\tnot yet RED: 1 of 2")
    assert testapp.get("/svc_status").text.startswith("db\tRED\t")


flaky = Scripted(RED)
