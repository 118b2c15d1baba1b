"""What the evaluator logs: a lasting failure once, not once per request."""
from __future__ import annotations

import logging

from lovely.ws.status import OK, RED, addStatusHandler
from lovely.ws.status.evaluation.job import NOT_RUN

from ..helpers import PATIENCE, app_status, fixed


def broken():
    raise ConnectionError("no route to host")


def records(caplog, level):
    return [r for r in caplog.records
            if r.name == "lovely.ws.status" and r.levelno == level]


def test_a_handler_that_keeps_raising_is_logged_once_with_its_traceback(caplog):
    addStatusHandler("search", broken)
    app = app_status(timeout=PATIENCE)
    with caplog.at_level(logging.ERROR, logger="lovely.ws.status"):
        for _ in range(50):
            report = app.evaluate().as_dict()
            assert report["search"] == {"state": RED,
                                        "detail": "ConnectionError: no route to host"}
    [record] = records(caplog, logging.ERROR)
    assert record.getMessage() == "status handler 'search' raised ConnectionError: no route to host"
    assert record.exc_info[0] is ConnectionError


def test_the_next_record_says_how_many_failures_were_left_out(caplog):
    addStatusHandler("search", broken)
    app = app_status(timeout=PATIENCE)
    with caplog.at_level(logging.ERROR, logger="lovely.ws.status"):
        for _ in range(5):
            app.evaluate()
        for throttle in app.evaluator._failures.values():
            throttle.interval = 0  # as if a minute had passed
        app.evaluate()
    messages = [r.getMessage() for r in records(caplog, logging.ERROR)]
    assert messages == [
        "status handler 'search' raised ConnectionError: no route to host",
        "status handler 'search' raised ConnectionError: no route to host "
        "(4 more failures since the last record)",
    ]


def test_each_failing_handler_is_logged(caplog):
    addStatusHandler("a", broken)
    addStatusHandler("b", broken)
    addStatusHandler("ok", fixed(state=OK))
    app = app_status(timeout=PATIENCE)
    with caplog.at_level(logging.ERROR, logger="lovely.ws.status"):
        for _ in range(3):
            app.evaluate()
    assert sorted(r.args[0] for r in records(caplog, logging.ERROR)) == ["a", "b"]


def test_handlers_no_thread_could_run_are_reported_as_not_run(caplog, hung):
    # Two threads, held by the hung handlers queued first: the healthy one
    # never runs, and the report says so rather than "timed out". The next
    # request frees no thread either (two more hung handlers wait), and the
    # warning is not repeated.
    for name in ("a", "b", "c", "d"):
        addStatusHandler(f"{name}_hung", hung())
    addStatusHandler("z_ok", fixed(state=OK))
    app = app_status(timeout=0.3, max_workers=2)
    with caplog.at_level(logging.WARNING, logger="lovely.ws.status"):
        assert app.evaluate().as_dict()["z_ok"] == NOT_RUN
        assert app.evaluate().as_dict()["z_ok"] == NOT_RUN
    warnings = [r.getMessage() for r in records(caplog, logging.WARNING)]
    assert len(warnings) == 1
    assert "were not run" in warnings[0] and "max_workers = 2" in warnings[0]
