"""``failure_ttl``: how long a result that is not OK is reused (default:
``ttl``), so that a recovering dependency is noticed sooner."""
from __future__ import annotations

from lovely.ws.status import OK, RED, YELLOW
from lovely.ws.status.handlers import HandlerOptions

from ..helpers import Counting, app_status


def test_failures_are_kept_for_failure_ttl_only():
    handler = Counting(RED)
    app = app_status()
    app.add_handler("db", handler, HandlerOptions(ttl=60, failure_ttl=0))
    app.evaluate()
    app.evaluate()
    assert handler.calls == 2  # a failure is not reused
    handler.state = OK
    assert app.evaluate().as_dict()["db"] == {"state": OK, "detail": "call 3"}
    app.evaluate()
    assert handler.calls == 3  # a success is


def test_failure_ttl_defaults_to_ttl():
    handler = Counting(YELLOW)
    app = app_status()
    app.add_handler("db", handler, HandlerOptions(ttl=60))
    app.evaluate()
    app.evaluate()
    assert handler.calls == 1


def test_failure_ttl_without_ttl_caches_failures_only():
    handler = Counting(OK)
    app = app_status()
    app.add_handler("db", handler, HandlerOptions(failure_ttl=60))
    app.evaluate()
    app.evaluate()
    assert handler.calls == 2
    handler.state = RED
    assert app.evaluate().as_dict()["db"] == {"state": RED, "detail": "call 3"}
    handler.state = OK
    assert app.evaluate().as_dict()["db"] == {"state": RED, "detail": "call 3"}
    assert handler.calls == 3


def test_a_failure_after_a_success_replaces_the_cached_success():
    handler = Counting(OK)
    app = app_status()
    app.add_handler("db", handler, HandlerOptions(ttl=0, failure_ttl=60))
    app.evaluate()
    handler.state = RED
    app.evaluate()
    handler.state = OK
    assert app.evaluate().as_dict()["db"] == {"state": RED, "detail": "call 2"}
