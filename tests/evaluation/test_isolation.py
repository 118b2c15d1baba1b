"""Each handler is isolated: what it raises or returns is its own RED
status, never the others' or the view's; and it runs as if in the
request's thread (Pyramid's threadlocals, context variables)."""
from __future__ import annotations

import contextvars
import enum
import threading
from collections.abc import Mapping

import pytest
from pyramid.threadlocal import get_current_registry, get_current_request

from lovely.ws.status import OK, RED, YELLOW, addStatusHandler

from ..helpers import PATIENCE, app_status, fixed, make_app

PATHS = ("/svc_status", "/svc_status.json", "/svc_status.prometheus", "/svc_status.html")


def test_raising_handler_is_reported_and_the_rest_still_runs():
    addStatusHandler("a", fixed(state=OK))
    addStatusHandler("boom", lambda: 1 / 0)
    addStatusHandler("z", fixed(state=YELLOW))
    report = app_status().evaluate()
    assert report.as_dict() == {
        "a": {"state": OK},
        "boom": {"state": RED, "detail": "ZeroDivisionError: division by zero"},
        "z": {"state": YELLOW},
    }


@pytest.mark.parametrize("result, detail", [
    ("fine", "invalid status: handler returned str, not a dict"),
    (None, "invalid status: handler returned NoneType, not a dict"),
    ({"detail": "x"}, "invalid status: no 'state' in the handler's result"),
    ({"state": "GREENISH"}, "invalid status: state 'GREENISH' is not one of OK, YELLOW, RED"),
    ({"state": ["OK"]}, "invalid status: state ['OK'] is not one of OK, YELLOW, RED"),
])
def test_an_invalid_result_is_red_and_says_why(result, detail):
    addStatusHandler("bad", lambda: result)
    addStatusHandler("ok", fixed(state=OK))
    report = app_status().evaluate().as_dict()
    assert report == {"bad": {"state": RED, "detail": detail}, "ok": {"state": OK}}


class BrokenMapping(dict):
    """A dict whose every lookup fails."""

    def get(self, key, default=None):
        raise RuntimeError("broken get")

    def __getitem__(self, key):
        raise RuntimeError("broken getitem")

    def __contains__(self, key):
        raise RuntimeError("broken contains")


def test_a_result_that_breaks_on_lookup_is_red_not_stuck():
    addStatusHandler("broken", lambda: BrokenMapping(state=OK))
    addStatusHandler("fine", fixed(state=OK))
    app = app_status(timeout=PATIENCE)
    for _ in range(2):
        report = app.evaluate()
        status = report.as_dict()["broken"]
        assert status["state"] == RED
        assert "timed out" not in status["detail"]
        assert report.as_dict()["fine"] == {"state": OK}
    assert app.evaluator.in_flight() == []
    testapp = make_app()
    for path in PATHS:
        assert testapp.get(path).status_code == 200


def test_string_enum_states_are_valid():
    class State(str, enum.Enum):
        OK = "OK"
        YELLOW = "YELLOW"

    addStatusHandler("a", fixed(state=State.OK))
    addStatusHandler("b", fixed(state=State.YELLOW))
    testapp = make_app()
    text = testapp.get("/svc_status.prometheus").text
    assert 'svc_status{name="a"} 0\n' in text
    assert 'svc_status{name="b"} 1\n' in text
    assert testapp.get("/svc_status.json").json == {
        "a": {"state": "OK"}, "b": {"state": "YELLOW"}
    }
    assert '<tr class="YELLOW"' in testapp.get("/svc_status.html").text


# ------------------------------------------------------------ BaseException


class UnprintableError(Exception):
    def __str__(self):
        raise SystemExit("no text for you")


class Treacherous(Mapping):
    """A mapping that raises a BaseException when looked into."""

    def __init__(self, exc):
        self.exc = exc

    def __getitem__(self, key):
        raise self.exc

    def __iter__(self):
        raise self.exc

    def __len__(self):
        raise self.exc


def raising(exc):
    def handler():
        raise exc
    return handler


RAISING = {
    "SystemExit": raising(SystemExit(3)),
    "KeyboardInterrupt": raising(KeyboardInterrupt()),
    "GeneratorExit": raising(GeneratorExit()),
}
# Reported in the calling thread too: the handler returned (or raised an
# Exception); what fails is turning its result or its error into text.
MISBEHAVING = {
    "unprintable": raising(UnprintableError()),
    "mapping-KeyboardInterrupt": lambda: Treacherous(KeyboardInterrupt()),
    "mapping-GeneratorExit": lambda: Treacherous(GeneratorExit()),
    "mapping-SystemExit": lambda: Treacherous(SystemExit(1)),
}


def check_reported_and_the_rest_still_runs(handler, concurrent):
    addStatusHandler("bad", handler)
    addStatusHandler("ok", fixed(state=OK))
    app = app_status(timeout=PATIENCE, concurrent=concurrent)
    for _ in range(2):  # and nothing is left "still running" behind it
        report = app.evaluate().as_dict()
        assert report["ok"] == {"state": OK}
        assert report["bad"]["state"] == RED
        assert "timed out" not in report["bad"]["detail"]
        assert app.evaluator.in_flight() == []


@pytest.mark.parametrize("handler", list({**RAISING, **MISBEHAVING}.values()),
                         ids=list({**RAISING, **MISBEHAVING}))
def test_base_exceptions_are_reported_and_the_rest_still_runs(handler):
    check_reported_and_the_rest_still_runs(handler, concurrent=True)


@pytest.mark.parametrize("handler", list(MISBEHAVING.values()), ids=list(MISBEHAVING))
def test_misbehaving_results_are_reported_in_the_calling_thread_too(handler):
    check_reported_and_the_rest_still_runs(handler, concurrent=False)


def test_keyboard_interrupt_in_a_handler_is_red_in_every_format():
    addStatusHandler("interrupted", raising(KeyboardInterrupt()))
    addStatusHandler("ok", fixed(state=OK))
    testapp = make_app(settings={"svcstatus.timeout": str(PATIENCE)})
    assert testapp.get("/svc_status").text == (
        "interrupted\tRED\tKeyboardInterrupt\nok\tOK\t"
    )
    assert testapp.get("/svc_status.json").json["interrupted"] == {
        "state": RED, "detail": "KeyboardInterrupt"
    }
    assert 'svc_status{name="interrupted"} 2\n' in testapp.get("/svc_status.prometheus").text


# ------------------------------------------------------------ the request's thread


def test_handlers_see_the_requests_threadlocals_and_context_variables():
    tenant = contextvars.ContextVar("tenant", default=None)
    seen = {}

    def handler():
        seen["request"] = get_current_request()
        seen["settings"] = get_current_registry().settings
        seen["tenant"] = tenant.get()
        seen["thread"] = threading.get_ident()
        tenant.set("changed by the handler")  # stays in the handler's copy
        return {"state": OK}

    addStatusHandler("probe", handler)
    testapp = make_app(settings={"x": "1"})
    token = tenant.set("acme")
    try:
        testapp.get("/svc_status")
        assert seen["request"].path == "/svc_status"
        assert seen["settings"]["x"] == "1"
        assert seen["tenant"] == "acme"
        assert tenant.get() == "acme"
        assert seen["thread"] != threading.get_ident()
    finally:
        tenant.reset(token)


def test_handlers_running_at_once_each_have_their_own_copy_of_the_context():
    # Two walkers at once: one context cannot be entered by two threads.
    tenant = contextvars.ContextVar("tenant", default=None)
    both = threading.Barrier(2)
    seen = []

    def handler():
        both.wait(PATIENCE)
        seen.append(tenant.get())
        tenant.set("mine")
        return {"state": OK}

    addStatusHandler("a", handler)
    addStatusHandler("b", lambda: handler())
    app = app_status(timeout=PATIENCE)
    token = tenant.set("acme")
    try:
        assert app.evaluate().as_dict() == {"a": {"state": OK}, "b": {"state": OK}}
    finally:
        tenant.reset(token)
    assert seen == ["acme", "acme"]
