"""How long each handler took, which formats time them, and slow handlers
running at the same time instead of one after the other."""
from __future__ import annotations

import threading
import time

from lovely.ws.status import OK, RED, addStatusHandler, removeStatusHandler
from lovely.ws.status.appstatus import get_app_status
from lovely.ws.status.evaluation import StatusEvaluator
from lovely.ws.status.handlers import HandlerOptions

from ..helpers import PATIENCE, Blocked, app_status, fixed, make_app, wait_until


class Concurrency:
    """Handlers that count how many of them run at the same time."""

    def __init__(self):
        self.lock = threading.Lock()
        self.now = 0
        self.peak = 0

    def handler(self, wait):
        """A handler that calls ``wait()`` while it counts as running."""
        def run():
            with self.lock:
                self.now += 1
                self.peak = max(self.peak, self.now)
            try:
                wait()
            finally:
                with self.lock:
                    self.now -= 1
            return {"state": OK}
        return run


# ------------------------------------------------------------ durations


def test_durations():
    addStatusHandler("slow", lambda: time.sleep(0.05) or {"state": OK})
    addStatusHandler("fast", fixed(state=OK))
    report = app_status().evaluate()
    durations = dict(zip(report.names, report.durations))
    assert durations["slow"] >= 0.05
    assert durations["fast"] >= 0


def test_each_duration_is_the_handlers_own():
    # One after the other in one thread: "fast" follows "slow", and its
    # duration must not include the time "slow" took.
    marks = {}

    def slow():
        time.sleep(0.05)
        marks["slow returns"] = time.perf_counter()
        return {"state": OK}

    def after():
        marks["after starts"] = time.perf_counter()
        return {"state": OK}

    app = app_status(concurrent=False)
    app.add_handler("slow", slow)
    app.add_handler("fast", fixed(state=OK))
    app.add_handler("after", after)
    report = app.evaluate()
    durations = dict(zip(report.names, report.durations))
    assert durations["slow"] >= 0.05
    assert 0 <= durations["fast"] <= marks["after starts"] - marks["slow returns"]


def test_a_timed_out_handler_has_the_time_the_request_waited(blocked):
    app = app_status(timeout=0.05)
    app.add_handler("hung", blocked)
    report = app.evaluate()
    assert report.durations[0] >= 0.05


def test_untimed_evaluation_still_learns_which_handlers_are_slow():
    addStatusHandler("slow", lambda: time.sleep(0.3) or {"state": OK})
    addStatusHandler("fast", fixed(state=OK))
    app = app_status()
    report = app.evaluate(durations=False)
    assert list(report.durations) == [None, None]
    assert report.as_dict() == {"slow": {"state": OK}, "fast": {"state": OK}}
    # Seen running at a tick: known to be slow, so timed from now on.
    report = app.evaluate(durations=False)
    assert report.durations[0] >= 0.3


def test_csv_and_json_are_untimed_prometheus_and_html_timed():
    seen = []

    class Spy(StatusEvaluator):
        def evaluate(self, names, handlers, options=None, durations=True, complete=True):
            seen.append(durations)
            return super().evaluate(names, handlers, options, durations, complete)

    addStatusHandler("fast", fixed(state=OK))
    testapp = make_app()
    get_app_status(testapp.app.registry).evaluator = Spy()
    for path in ("/svc_status", "/svc_status.json", "/svc_status.prometheus",
                 "/svc_status.html"):
        testapp.get(path)
    assert seen == [False, False, True, True]


def test_handlers_with_options_are_timed_anyway():
    app = app_status()
    app.add_handler("plain", fixed(state=OK))
    assert list(app.evaluate(durations=False).durations) == [None]
    app.add_handler("cached", fixed(state=OK), HandlerOptions(ttl=0))
    durations = app.evaluate(durations=False).durations
    assert all(d is not None and d >= 0 for d in durations)


def test_duration_family_in_prometheus():
    addStatusHandler("slow", lambda: time.sleep(0.05) or {"state": OK})
    addStatusHandler('fa"st', fixed(state=OK))
    text = make_app().get("/svc_status.prometheus").text
    lines = [line for line in text.split("\n")
             if line.startswith("svc_status_duration_seconds{")]
    assert [line.split("}")[0] for line in lines] == [
        'svc_status_duration_seconds{name="fa\\"st"',
        'svc_status_duration_seconds{name="slow"',
    ]
    assert float(lines[1].split()[-1]) >= 0.05


# ------------------------------------------------------------ concurrency


def test_slow_handlers_run_concurrently():
    # Each waits until all 20 run at once: one after the other, they
    # would all break the barrier.
    together = threading.Barrier(20)
    concurrency = Concurrency()
    for i in range(20):
        addStatusHandler(f"s{i:02}", concurrency.handler(lambda: together.wait(PATIENCE)))
    testapp = make_app(settings={"svcstatus.timeout": str(PATIENCE)})
    expected = "\n".join(f"s{i:02}\tOK\t" for i in range(20))
    assert testapp.get("/svc_status").text == expected
    # Known to be slow now: each starts with a thread of its own.
    assert testapp.get("/svc_status").text == expected
    assert concurrency.peak == 20


def test_max_workers_bounds_the_threads():
    concurrency = Concurrency()
    for i in range(6):
        addStatusHandler(f"s{i}", concurrency.handler(lambda: time.sleep(0.03)))
    testapp = make_app(settings={"svcstatus.max_workers": "2",
                                 "svcstatus.timeout": str(PATIENCE)})
    for _ in range(3):
        assert testapp.get("/svc_status").text.count("\tOK\t") == 6
    assert concurrency.peak <= 2


def test_many_cheap_handlers():
    calls = []
    for i in range(1000):
        addStatusHandler(f"h{i:04}", lambda i=i: calls.append(i) or {"state": OK})
    app = app_status()
    for durations in (True, False):
        calls.clear()
        report = app.evaluate(durations=durations)
        assert len(report) == 1000
        assert sorted(calls) == list(range(1000))
        assert all(s == {"state": OK} for s in report.statuses)


def test_many_cheap_handlers_beside_a_hung_one(blocked):
    for i in range(1000):
        addStatusHandler(f"h{i:04}", fixed(state=OK, detail=str(i)))
    app = app_status(timeout=PATIENCE)
    app.add_handler("hung", blocked, HandlerOptions(timeout=0.1))
    for _ in range(3):
        report = app.evaluate().as_dict()
        assert report.pop("hung")["state"] == RED
        assert report == {f"h{i:04}": {"state": OK, "detail": str(i)} for i in range(1000)}
    assert blocked.calls == 1


def test_forgets_handlers_that_are_gone():
    # Leftovers of removed handlers would keep every later request off the
    # common case, which times nothing when no durations are asked for.
    late = Blocked()
    addStatusHandler("slow", lambda: time.sleep(0.01) or {"state": OK})
    addStatusHandler("cached", fixed(state=OK), ttl=60)
    addStatusHandler("late", late, timeout=0.05)
    addStatusHandler("fast", fixed(state=OK))
    app = app_status()
    try:
        app.evaluate()
        for name in ("slow", "cached", "late"):
            removeStatusHandler(name)
    finally:
        late.release.set()
    wait_until(lambda: app.evaluator.in_flight() == [])
    assert app.evaluate().as_dict() == {"fast": {"state": OK}}
    assert list(app.evaluate(durations=False).durations) == [None]
