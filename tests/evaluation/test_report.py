"""What an evaluation reports: the handlers' own dicts, in registration
order, for all handlers or some; and which evaluator an app uses."""
from __future__ import annotations

import time

import pytest

from lovely.ws.status import OK, RED, STATUS_HANDLERS, YELLOW, addStatusHandler
from lovely.ws.status.appstatus import evaluate, get_app_status
from lovely.ws.status.evaluation import (
    DEFAULT_MAX_WORKERS,
    DEFAULT_TIMEOUT,
    StatusEvaluator,
    StatusReport,
    timed_out,
)
from lovely.ws.status.states import worst_state

from ..helpers import app_status, fixed, make_config


def test_defaults():
    assert DEFAULT_TIMEOUT == 5.0
    assert DEFAULT_MAX_WORKERS >= 1
    evaluator = StatusEvaluator()
    assert evaluator.timeout == 5.0
    assert evaluator.max_workers == DEFAULT_MAX_WORKERS
    assert evaluator.concurrent is True


def test_timed_out_status():
    assert timed_out(0.25) == {"state": RED, "detail": "timed out after 0.25 seconds"}
    assert timed_out(2.0, still_running=True) == {
        "state": RED,
        "detail": "timed out after 2 seconds (still running from an earlier request)",
    }


def test_report_keeps_registration_order_and_the_dicts_themselves():
    b_status = {"state": OK, "detail": "b"}
    a_status = {"state": YELLOW}
    addStatusHandler("b", lambda: b_status)
    addStatusHandler("a", lambda: a_status)
    report = app_status().evaluate()
    assert isinstance(report, StatusReport)
    assert len(report) == 2
    assert report.names == ["b", "a"]
    assert report.statuses[0] is b_status
    assert report.statuses[1] is a_status
    assert report.items() == [("b", b_status), ("a", a_status)]
    assert report.sorted_items() == [("a", a_status), ("b", b_status)]
    assert report.sorted_columns() == (("a", "b"), (a_status, b_status),
                                       tuple(reversed(report.durations)))
    assert report.as_dict() == {"b": b_status, "a": a_status}
    assert report.state == YELLOW
    assert all(d is not None and d >= 0 for d in report.durations)
    assert abs(report.timestamp - time.time()) < 60


def test_an_apps_own_handlers_come_after_the_global_ones_and_win():
    addStatusHandler("shared", fixed(state=OK, detail="global"))
    addStatusHandler("global", fixed(state=OK))
    app = app_status()
    app.add_handler("own", fixed(state=YELLOW))
    app.add_handler("shared", fixed(state=RED, detail="own"))
    report = app.evaluate()
    assert report.names == ["shared", "global", "own"]
    assert report.as_dict()["shared"] == {"state": RED, "detail": "own"}


def test_report_of_nothing():
    report = app_status().evaluate()
    assert len(report) == 0
    assert report.state == OK
    assert report.sorted_items() == []
    assert report.sorted_columns() == ((), (), ())


def test_report_of_one():
    addStatusHandler("only", fixed(state=YELLOW))
    names, statuses, durations = app_status().evaluate().sorted_columns()
    assert (names, statuses) == (("only",), ({"state": YELLOW},))
    assert len(durations) == 1


def test_report_sorts_mixed_names():
    STATUS_HANDLERS[2] = fixed(state=OK)  # addStatusHandler takes only text
    addStatusHandler("1", fixed(state=OK))
    report = app_status().evaluate()
    assert [name for name, _ in report.sorted_items()] == ["1", 2]
    assert report.sorted_columns()[0] == ("1", 2)


def test_evaluate_some_names():
    for name in "abc":
        addStatusHandler(name, fixed(state=OK, detail=name))
    report = app_status().evaluate(["c", "missing", "a", "c"])
    assert report.names == ["c", "a"]
    assert [s["detail"] for s in report.statuses] == ["c", "a"]


def test_evaluating_some_names_keeps_what_is_known_of_the_others():
    # Only the handlers given: those not asked for this time are not gone.
    calls = []
    addStatusHandler("cached", lambda: calls.append(1) or {"state": OK}, ttl=60)
    addStatusHandler("other", fixed(state=OK))
    app = app_status()
    app.evaluate()
    app.evaluate(["other"])
    app.evaluate()
    assert calls == [1]


@pytest.mark.parametrize("states, worst", [
    ([], OK), ([OK], OK), ([OK, YELLOW], YELLOW), ([YELLOW, RED, OK], RED),
    (["nonsense"], RED), ([OK, None], RED),
])
def test_worst_state(states, worst):
    assert worst_state(states) == worst


def test_evaluate_uses_the_apps_evaluator():
    config = make_config(settings={"svcstatus.timeout": "3", "svcstatus.max_workers": "4"})
    config.commit()
    app = get_app_status(config.registry)
    assert app.evaluator.timeout == 3.0
    assert app.evaluator.max_workers == 4
    addStatusHandler("x", fixed(state=OK))
    assert evaluate(config.registry).as_dict() == {"x": {"state": OK}}
    assert evaluate(config.registry, ["nothing"]).as_dict() == {}
    # Without a registry (a DummyRequest outside testing.setUp): Pyramid's
    # current one, with a default evaluator.
    default = get_app_status(None)
    assert default is get_app_status(object())
    assert default is not app
    assert default.evaluator.timeout == DEFAULT_TIMEOUT
    assert evaluate().as_dict() == {"x": {"state": OK}}


def test_two_apps_have_their_own_evaluators_and_handlers():
    one, two = make_config(), make_config(settings={"svcstatus.timeout": "2"})
    one.commit()
    two.commit()
    first, second = get_app_status(one.registry), get_app_status(two.registry)
    assert first.evaluator is not second.evaluator
    assert (first.evaluator.timeout, second.evaluator.timeout) == (DEFAULT_TIMEOUT, 2.0)
    first.add_handler("mine", fixed(state=OK))
    assert evaluate(one.registry).names == ["mine"]
    assert evaluate(two.registry).names == []
