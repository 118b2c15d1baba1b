"""Groups and criticality in an evaluation: which handlers a group holds,
and a non-critical RED that counts as YELLOW in the report's state."""
from __future__ import annotations

import pytest

from lovely.ws.status import OK, RED, YELLOW, addStatusHandler
from lovely.ws.status.evaluation import StatusReport
from lovely.ws.status.evaluation.report import counted_state

from ..helpers import app_status, fixed


def report(*rows, critical=None):
    names = [f"h{i}" for i in range(len(rows))]
    return StatusReport(names, [{"state": s} for s in rows], [None] * len(rows),
                        critical=critical)


@pytest.mark.parametrize("states, critical, expected", [
    ((), None, OK),
    ((RED,), None, RED),
    ((RED,), [False], YELLOW),
    ((RED, OK), [False, True], YELLOW),
    ((RED, RED), [False, True], RED),
    ((YELLOW, RED), [True, False], YELLOW),
    ((OK, OK), [False, False], OK),
])
def test_state(states, critical, expected):
    assert report(*states, critical=critical).state == expected


def test_counted_state():
    assert counted_state({"state": RED}, False) == YELLOW
    assert counted_state({"state": RED}, True) == RED
    assert counted_state({"state": YELLOW}, False) == YELLOW
    assert counted_state({"state": OK}, False) == OK


def test_non_critical_names():
    assert report(RED, OK).non_critical == frozenset()
    assert report(RED, OK, critical=[False, True]).non_critical == {"h0"}
    assert report(RED).is_critical(0)
    assert not report(RED, critical=[False]).is_critical(0)


def test_without_details_keeps_name_state_and_criticality():
    full = StatusReport(["a", "b"], [{"state": RED, "detail": "x", "password": "p"},
                                     {"state": OK}], [0.5, 0.1], 10.0, [False, True])
    hidden = full.without_details()
    assert hidden.names == ["a", "b"]
    assert hidden.statuses == [{"state": RED}, {"state": OK}]
    assert hidden.durations == [None, None]
    assert (hidden.timestamp, hidden.critical) == (10.0, [False, True])
    assert hidden.state == YELLOW
    assert full.statuses[0]["detail"] == "x"  # the handler's dict is untouched


def test_every_handler_critical_gives_no_flags():
    app = app_status()
    addStatusHandler("a", fixed(state=RED), timeout=2, groups=["liveness"])
    addStatusHandler("b", fixed(state=OK))
    evaluated = app.evaluate()
    assert evaluated.critical is None
    assert evaluated.state == RED


def test_flags_in_registration_order():
    app = app_status()
    addStatusHandler("a", fixed(state=RED), critical=False)
    addStatusHandler("b", fixed(state=OK))
    evaluated = app.evaluate()
    assert evaluated.critical == [False, True]
    assert evaluated.state == YELLOW
    assert app.evaluate(["b"]).critical is None


def test_members_and_groups():
    app = app_status()
    addStatusHandler("a", fixed(state=OK))
    addStatusHandler("b", fixed(state=OK), groups=["liveness", "db"])
    addStatusHandler("c", fixed(state=OK), groups=[])
    app.add_handler("d", fixed(state=OK))
    assert app.members("readiness") == ["a", "d"]
    assert app.members("startup") == ["a", "d"]
    assert app.members("liveness") == ["b"]
    assert app.members("db") == ["b"]
    assert app.members("nothing") == []
    assert app.groups() == {"liveness", "readiness", "startup", "db"}


def test_evaluate_a_group():
    calls = []

    def counted(name, state):
        def handler():
            calls.append(name)
            return {"state": state}
        return handler

    app = app_status()
    addStatusHandler("a", counted("a", RED))
    addStatusHandler("b", counted("b", OK), groups=["liveness"])
    addStatusHandler("c", counted("c", YELLOW), groups=["liveness", "readiness"])
    evaluated = app.evaluate(group="liveness")
    assert evaluated.names == ["b", "c"]
    assert sorted(calls) == ["b", "c"]
    assert app.evaluate(["c", "a", "b"], group="liveness").names == ["b", "c"]
    assert app.evaluate(group="nothing").names == []
