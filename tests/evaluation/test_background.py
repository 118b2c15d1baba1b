"""Handlers with an ``interval`` run in the background: requests answer
from their latest result, wait only for the first one, and report a result
that is too old as RED "stale"."""
from __future__ import annotations

import gc
import re
import threading

import pytest
from pyramid.exceptions import ConfigurationError

from lovely.ws.status import OK, RED, YELLOW, addStatusHandler
from lovely.ws.status.appstatus import get_app_status
from lovely.ws.status.handlers import HandlerOptions

from ..helpers import (
    PATIENCE,
    PYRAMID_IMPORT_WARNING,
    app_status,
    in_thread,
    make_app,
    make_config,
    wait_until,
)


class Counting:
    """A handler that counts its calls; ``states`` are returned in turn."""

    def __init__(self, *states):
        self.states = states or (OK,)
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self):
        with self.lock:
            self.calls += 1
            calls = self.calls
        return {"state": self.states[(calls - 1) % len(self.states)], "detail": f"call {calls}"}


class Stuck:
    """A share whose ``publish`` blocks, from its ``after``-th call on, until
    :attr:`release` is set: the refresher's thread is stuck in it."""

    def __init__(self, after=1):
        self.after = after
        self.published = 0
        self.entered = threading.Event()
        self.release = threading.Event()

    def claim(self, name, handler, interval, timeout):
        return True

    def publish(self, name, handler, result):
        self.published += 1
        if self.published >= self.after:
            self.entered.set()
            self.release.wait(PATIENCE)

    def latest(self, name, handler):
        return None


def test_no_call_on_the_request_path_once_a_result_exists():
    handler = Counting()
    app = app_status(timeout=PATIENCE)
    app.add_handler("db", handler, HandlerOptions(interval=PATIENCE))
    first = app.evaluate()  # no result yet: this request runs it
    assert first.as_dict() == {"db": {"state": OK, "detail": "call 1"}}
    for _ in range(100):
        assert app.evaluate().statuses[0] is first.statuses[0]
    assert handler.calls == 1


def test_requests_do_not_wait_for_a_run_in_the_background(hung):
    # The second run hangs in the background; requests meanwhile answer
    # with the first result at once (they would wait PATIENCE otherwise).
    blocked = hung()
    calls = []

    def handler():
        calls.append(1)
        if len(calls) > 1:
            return blocked()
        return {"state": OK, "detail": "first"}

    app = app_status(timeout=PATIENCE)
    app.add_handler("db", handler, HandlerOptions(interval=0.01))
    assert app.evaluate().as_dict() == {"db": {"state": OK, "detail": "first"}}
    assert blocked.entered.wait(PATIENCE)
    assert app.evaluate().as_dict() == {"db": {"state": OK, "detail": "first"}}
    assert not blocked.returned
    blocked.release.set()
    wait_until(lambda: app.evaluate().as_dict()["db"]["detail"] == "released")


def test_the_handler_runs_every_interval_without_requests():
    handler = Counting()
    app = app_status()
    app.add_handler("db", handler, HandlerOptions(interval=0.01))
    app.evaluate()
    wait_until(lambda: handler.calls >= 5, "five runs")
    assert app.evaluate().as_dict()["db"]["detail"] != "call 1"


def test_before_the_first_result_a_request_waits_for_it(blocked):
    app = app_status(timeout=PATIENCE)
    app.add_handler("db", blocked, HandlerOptions(interval=PATIENCE))
    planned = []
    app.add_handler("mark", lambda: planned.append(1) or {"state": OK})
    request, out = in_thread(app.evaluate, ["db"])
    assert blocked.entered.wait(PATIENCE)
    second, out2 = in_thread(app.evaluate, ["db", "mark"])  # joins the run in flight
    wait_until(lambda: planned, "the second request planned")
    blocked.release.set()
    request.join(PATIENCE)
    second.join(PATIENCE)
    released = {"state": OK, "detail": "released"}
    assert out[0].as_dict() == {"db": released}
    assert out2[0].as_dict() == {"db": released, "mark": {"state": OK}}
    assert app.evaluate(["db"]).as_dict() == {"db": released}
    assert blocked.calls == 1


def test_a_first_run_past_its_timeout_is_reported_and_not_started_again(blocked):
    app = app_status()
    app.add_handler("db", blocked, HandlerOptions(interval=0.01, timeout=0.05))
    assert app.evaluate().as_dict() == {
        "db": {"state": RED, "detail": "timed out after 0.05 seconds"}}
    # The refresher finds it still running at each interval.
    wait_until(lambda: "still running" in app.evaluate().as_dict()["db"]["detail"])
    assert app.evaluate().as_dict()["db"]["state"] == RED
    assert blocked.calls == 1
    blocked.release.set()
    wait_until(lambda: app.evaluate().as_dict()["db"]["state"] == OK)


def test_a_stuck_refresher_is_reported_stale():
    handler = Counting()
    share = Stuck()
    app = app_status(timeout=0.1)
    app.evaluator.refresher.share = share
    app.add_handler("db", handler, HandlerOptions(interval=0.2))
    try:
        assert app.evaluate().as_dict()["db"]["state"] == OK
        assert share.entered.wait(PATIENCE)  # the refresher's thread is stuck
        wait_until(lambda: app.evaluate().as_dict()["db"]["state"] == RED, "stale")
        detail = app.evaluate().as_dict()["db"]["detail"]
        match = re.fullmatch(r"stale: last result ([0-9.]+) s ago", detail)
        assert match, detail
        assert float(match.group(1)) >= 0.3  # interval + timeout
    finally:
        share.release.set()
    wait_until(lambda: app.evaluate().as_dict()["db"]["state"] == OK, "fresh again")


def test_a_stopped_refresher_is_started_again_by_the_next_request():
    handler = Counting()
    app = app_status()
    app.add_handler("db", handler, HandlerOptions(interval=0.01))
    app.evaluate()
    refresher = app.evaluator.refresher
    thread = refresher.thread
    assert thread is not None and thread.is_alive()
    refresher.stop()
    assert not thread.is_alive()
    assert refresher.thread is None
    app.evaluate()
    assert refresher.thread is not None and refresher.thread.is_alive()
    calls = handler.calls
    wait_until(lambda: handler.calls > calls)


def test_no_thread_without_an_interval():
    app = app_status()
    app.add_handler("db", Counting(), HandlerOptions(ttl=60))
    app.evaluate()
    assert app.evaluator.refresher.thread is None


def test_the_thread_ends_with_its_app():
    app = app_status()
    app.add_handler("db", Counting(), HandlerOptions(interval=0.01))
    app.evaluate()
    thread = app.evaluator.refresher.thread
    assert thread is not None
    del app
    gc.collect()
    wait_until(lambda: not thread.is_alive(), "the refresher's thread ended")


def test_background_results_are_the_handlers_dicts_with_their_durations():
    status = {"state": YELLOW, "detail": "slow", "labels": {"lag": 3}}
    app = app_status()
    app.add_handler("db", lambda: status, HandlerOptions(interval=PATIENCE))
    app.evaluate()
    report = app.evaluate()
    assert report.statuses[0] is status
    assert report.durations[0] is not None and report.durations[0] >= 0


def test_a_replaced_handler_is_run_at_once():
    app = app_status()
    app.add_handler("db", Counting(YELLOW), HandlerOptions(interval=PATIENCE))
    assert app.evaluate().as_dict()["db"]["state"] == YELLOW
    app.add_handler("db", Counting(RED), HandlerOptions(interval=PATIENCE))
    assert app.evaluate().as_dict()["db"] == {"state": RED, "detail": "call 1"}


def test_a_handler_registered_again_without_interval_runs_on_request():
    handler = Counting()
    app = app_status()
    app.add_handler("db", handler, HandlerOptions(interval=PATIENCE))
    app.evaluate()
    app.add_handler("db", handler)
    assert app.evaluate().as_dict()["db"]["detail"] == "call 2"
    assert app.evaluate().as_dict()["db"]["detail"] == "call 3"


def test_process_wide_handlers_with_an_interval():
    handler = Counting()
    addStatusHandler("db", handler, interval=PATIENCE)
    app = app_status()
    for _ in range(3):
        assert app.evaluate().as_dict() == {"db": {"state": OK, "detail": "call 1"}}


def test_serial_evaluation_ignores_the_interval():
    handler = Counting()
    app = app_status(concurrent=False)
    app.add_handler("db", handler, HandlerOptions(interval=PATIENCE))
    for _ in range(3):
        app.evaluate()
    assert handler.calls == 3
    assert app.evaluator.refresher.thread is None


def test_the_interval_setting_is_every_handlers_default():
    fast, slow = Counting(), Counting()

    def setup(config):
        config.add_status_handler("fast", fast)
        config.add_status_handler("slow", slow, interval=0.01)

    testapp = make_app(settings={"svcstatus.interval": "3600"}, setup=setup)
    for _ in range(3):
        testapp.get("/svc_status")
    assert fast.calls == 1
    wait_until(lambda: slow.calls > 3, "the handler's own interval")
    assert get_app_status(testapp.app.registry).evaluator.interval == 3600.0


@pytest.mark.parametrize("value, expected", [("", None), ("  ", None), ("2.5", 2.5)])
def test_the_interval_setting(value, expected):
    config = make_config(settings={"svcstatus.interval": value})
    config.commit()
    assert get_app_status(config.registry).evaluator.interval == expected


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_a_bad_interval_setting_fails_at_commit(value):
    config = make_config(settings={"svcstatus.interval": value})
    with pytest.raises(ConfigurationError, match="svcstatus.interval"):
        config.commit()


def test_an_interval_from_the_ini_file():
    handler = Counting()
    settings = {
        "svcstatus.handlers": "db = tests.evaluation.test_background:INI_HANDLER",
        "svcstatus.handler.db.interval": "3600",
    }
    INI_HANDLER.inner = handler
    testapp = make_app(settings=settings)
    for _ in range(3):
        assert testapp.get("/svc_status").text == "db\tOK\tcall 1"


class _Delegate:
    inner = None

    def __call__(self):
        return self.inner()


INI_HANDLER = _Delegate()


SCRIPT = """
import atexit, threading
from lovely.ws.status.appstatus import AppStatus
from lovely.ws.status.handlers import HandlerOptions

calls, threads = [], []
# atexit runs the last registered first: this after the refresher's stop.
atexit.register(lambda: print("alive after exit:", threads[0].is_alive()))
app = AppStatus()
app.add_handler("db", lambda: calls.append(1) or {"state": "OK"}, HandlerOptions(interval=0.01))
app.evaluate()
while len(calls) < 3:  # the refresher runs
    threading.Event().wait(0.01)
threads.append(app.evaluator.refresher.thread)
print("refreshing:", threads[0].is_alive())
"""


def test_the_interpreter_exits_and_stops_the_thread(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-W", PYRAMID_IMPORT_WARNING, "-c", SCRIPT],
                          capture_output=True, text=True, timeout=PATIENCE)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["refreshing: True", "alive after exit: False"]
    assert proc.stderr == ""  # nothing about the refresher's thread at exit


def test_the_report_says_where_a_background_result_came_from():
    app = app_status(timeout=0.1)
    app.add_handler("db", Counting(), HandlerOptions(interval=PATIENCE))
    app.add_handler("now", Counting())
    first = app.evaluate()
    assert first.origins is None  # this request ran both
    report = app.evaluate()
    assert list(report.origins) == ["db"]
    origin = report.origins["db"]
    assert (origin.kind, origin.source) == ("background", None)
    assert origin.time == first.timestamp


def test_a_stale_result_says_so_in_the_report():
    share = Stuck()
    app = app_status(timeout=0.1)
    app.evaluator.refresher.share = share
    app.add_handler("db", Counting(), HandlerOptions(interval=0.2))
    try:
        app.evaluate()
        assert share.entered.wait(PATIENCE)
        wait_until(lambda: app.evaluate().as_dict()["db"]["state"] == RED, "stale")
        assert app.evaluate().origins["db"].kind == "stale"
    finally:
        share.release.set()


# --- requests answered from background results alone -------------------------


def test_the_same_background_results_are_looked_up_once():
    app = app_status(timeout=PATIENCE)
    app.add_handler("db", Counting(), HandlerOptions(interval=PATIENCE))
    app.add_handler("cache", Counting(), HandlerOptions(interval=PATIENCE))
    app.evaluate()
    first, second = app.evaluate(), app.evaluate()
    assert first.key is not None and second.key is first.key
    assert second.as_dict() == first.as_dict()
    assert second.statuses is not first.statuses  # each report has its own lists


def test_a_new_background_result_is_reported_at_once():
    handler = Counting()
    app = app_status(timeout=PATIENCE)
    app.add_handler("db", handler, HandlerOptions(interval=0.05))
    app.evaluate()
    key = app.evaluate().key
    wait_until(lambda: app.evaluate().as_dict()["db"]["detail"] != "call 1", "a new result")
    assert app.evaluate().key is not key


def test_another_handler_is_evaluated_with_the_others():
    app = app_status(timeout=PATIENCE)
    app.add_handler("db", Counting(), HandlerOptions(interval=PATIENCE))
    app.evaluate()
    app.evaluate()
    app.add_handler("now", Counting())
    report = app.evaluate()
    assert report.key is None and set(report.as_dict()) == {"db", "now"}
    del app.handlers["now"]
    assert list(app.evaluate().as_dict()) == ["db"]


def test_a_group_does_not_stand_for_every_handler():
    app = app_status(timeout=PATIENCE)
    app.add_handler("db", Counting(), HandlerOptions(interval=PATIENCE))
    app.add_handler("other", Counting(), HandlerOptions(interval=PATIENCE))
    app.evaluate()
    app.evaluate(["db"])
    known = app.evaluator._known
    assert known is not None and not known.complete
    # A complete evaluation of the same names does not take the group's
    # results for all there are.
    del app.handlers["other"]
    assert app.evaluate().key is not known


def test_handlers_are_told_apart_by_identity_not_equality():
    class Odd:
        def __init__(self, detail):
            self.detail = detail

        def __call__(self):
            return {"state": OK, "detail": self.detail}

        def __eq__(self, other):
            raise TypeError("no comparing")

        __hash__ = object.__hash__

    app = app_status(timeout=PATIENCE)
    app.add_handler("db", Odd("first"), HandlerOptions(interval=PATIENCE))
    app.evaluate()
    app.evaluate()
    app.add_handler("db", Odd("second"), HandlerOptions(interval=PATIENCE))
    assert app.evaluate().as_dict()["db"]["detail"] == "second"


def test_options_changed_in_place_are_seen():
    from lovely.ws.status.evaluation import StatusEvaluator

    evaluator = StatusEvaluator(timeout=PATIENCE)
    handler = Counting()
    options = [HandlerOptions(interval=PATIENCE)]
    evaluator.evaluate(["db"], [handler], options)
    known = evaluator.evaluate(["db"], [handler], options).key
    options[0] = HandlerOptions(interval=PATIENCE, critical=False)
    assert evaluator.evaluate(["db"], [handler], options).key is not known


def test_a_removed_handler_is_let_go():
    import weakref

    handler = Counting()
    gone = weakref.ref(handler)
    app = app_status(timeout=PATIENCE)
    app.add_handler("db", handler, HandlerOptions(interval=PATIENCE))
    app.evaluate()
    app.evaluate()
    del app.handlers["db"], app.options["db"], handler
    app.evaluate()
    assert not app.evaluator.refresher._entries  # not refreshed any more
    # (the status thread that ran it lets go once its task has returned)
    wait_until(lambda: gc.collect() is not None and gone() is None, "the handler let go")
