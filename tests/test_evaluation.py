"""The evaluator behind the views: isolation, deadlines, no pile-up,
concurrency, caching and timing (issue 3)."""
from __future__ import annotations

import os
import threading
import time

import pytest
from pyramid.config import Configurator
from webtest import TestApp

from lovely.ws.status import OK, RED, STATUS_HANDLERS, YELLOW, addStatusHandler
from lovely.ws.status.evaluation import (
    DEFAULT_MAX_WORKERS,
    DEFAULT_TIMEOUT,
    IStatusEvaluator,
    StatusEvaluator,
    StatusReport,
    evaluate,
    get_evaluator,
    worst_state,
)

from .servers import run_in_child


def make_app(**settings):
    config = Configurator(settings={k.replace("__", "."): v for k, v in settings.items()})
    config.include("lovely.ws.status.svcstatus")
    return TestApp(config.make_wsgi_app())


def fixed(**status):
    return lambda: status


class Blocked:
    """A handler that hangs until released; counts how often it started."""

    def __init__(self):
        self.release = threading.Event()
        self.calls = 0
        self.returned = 0

    def __call__(self):
        self.calls += 1
        self.release.wait(30)
        self.returned += 1
        return {"state": OK, "detail": "released"}


@pytest.fixture
def blocked():
    handler = Blocked()
    yield handler
    handler.release.set()  # never leave a thread hanging behind a test


def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.005)


class Sleeper:
    """Sleeps, and records how many sleepers ran at the same time."""

    lock = threading.Lock()

    def __init__(self, seconds, group):
        self.seconds = seconds
        self.group = group

    def __call__(self):
        with self.lock:
            self.group["now"] += 1
            self.group["peak"] = max(self.group["peak"], self.group["now"])
        try:
            time.sleep(self.seconds)
        finally:
            with self.lock:
                self.group["now"] -= 1
        return {"state": OK}


# ---------------------------------------------------------------- the report


def test_defaults():
    assert DEFAULT_TIMEOUT == 5.0
    assert DEFAULT_MAX_WORKERS >= 1
    evaluator = StatusEvaluator()
    assert evaluator.timeout == 5.0
    assert evaluator.max_workers == DEFAULT_MAX_WORKERS


def test_report_keeps_registration_order_and_the_dicts_themselves():
    b_status = {"state": OK, "detail": "b"}
    a_status = {"state": YELLOW}
    addStatusHandler("b", lambda: b_status)
    addStatusHandler("a", lambda: a_status)
    report = StatusEvaluator().evaluate()
    assert isinstance(report, StatusReport)
    assert len(report) == 2
    assert report.names == ["b", "a"]
    assert report.statuses[0] is b_status
    assert report.statuses[1] is a_status
    assert report.items() == [("b", b_status), ("a", a_status)]
    assert report.sorted_items() == [("a", a_status), ("b", b_status)]
    assert report.as_dict() == {"b": b_status, "a": a_status}
    assert report.state == YELLOW
    assert all(d is not None and d >= 0 for d in report.durations)
    assert abs(report.timestamp - time.time()) < 60


def test_report_of_nothing():
    report = StatusEvaluator().evaluate()
    assert len(report) == 0
    assert report.state == OK
    assert report.sorted_items() == []


def test_report_sorts_mixed_names():
    addStatusHandler(2, fixed(state=OK))
    addStatusHandler("1", fixed(state=OK))
    report = StatusEvaluator().evaluate()
    assert [name for name, _ in report.sorted_items()] == ["1", 2]


def test_evaluate_some_names():
    for name in "abc":
        addStatusHandler(name, fixed(state=OK, detail=name))
    report = StatusEvaluator().evaluate(["c", "missing", "a", "c"])
    assert report.names == ["c", "a"]
    assert [s["detail"] for s in report.statuses] == ["c", "a"]


@pytest.mark.parametrize("states, worst", [
    ([], OK), ([OK], OK), ([OK, YELLOW], YELLOW), ([YELLOW, RED, OK], RED),
    (["nonsense"], RED), ([OK, None], RED),
])
def test_worst_state(states, worst):
    assert worst_state(states) == worst


def test_evaluate_uses_the_registry_evaluator():
    config = Configurator(settings={"svcstatus.timeout": "3"})
    config.include("lovely.ws.status.svcstatus")
    config.commit()
    evaluator = config.registry.getUtility(IStatusEvaluator)
    assert get_evaluator(config.registry) is evaluator
    assert evaluator.timeout == 3.0
    addStatusHandler("x", fixed(state=OK))
    assert evaluate(config.registry).as_dict() == {"x": {"state": OK}}
    # without a registry (a DummyRequest outside testing.setUp): a default one
    default = get_evaluator(None)
    assert default is get_evaluator(object())
    assert default.timeout == DEFAULT_TIMEOUT


# ---------------------------------------------------------------- isolation


def test_raising_handler_is_reported_and_the_rest_still_runs():
    addStatusHandler("a", fixed(state=OK))
    addStatusHandler("boom", lambda: 1 / 0)
    addStatusHandler("z", fixed(state=YELLOW))
    report = StatusEvaluator().evaluate()
    assert report.as_dict() == {
        "a": {"state": OK},
        "boom": {"state": RED, "detail": "ZeroDivisionError: division by zero"},
        "z": {"state": YELLOW},
    }


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
    evaluator = StatusEvaluator(timeout=2)
    for _ in range(2):
        report = evaluator.evaluate()
        status = report.as_dict()["broken"]
        assert status["state"] == RED
        assert "timed out" not in status["detail"]
        assert report.as_dict()["fine"] == {"state": OK}
    assert evaluator.running() == []
    app = make_app()
    for path in ("/svc_status", "/svc_status.json", "/svc_status.prometheus",
                 "/svc_status.html"):
        assert app.get(path).status_code == 200


def test_string_enum_states_are_valid():
    import enum

    class State(str, enum.Enum):
        OK = "OK"
        YELLOW = "YELLOW"

    addStatusHandler("a", fixed(state=State.OK))
    addStatusHandler("b", fixed(state=State.YELLOW))
    app = make_app()
    text = app.get("/svc_status.prometheus").text
    assert 'svc_status{name="a"} 0\n' in text
    assert 'svc_status{name="b"} 1\n' in text
    assert app.get("/svc_status.json").json == {
        "a": {"state": "OK"}, "b": {"state": "YELLOW"}
    }
    assert '<tr class="YELLOW"' in app.get("/svc_status.html").text


# ---------------------------------------------------------------- timeouts


def test_timeout_from_the_settings(blocked):
    app = make_app(svcstatus__timeout="0.2")
    addStatusHandler("hung", blocked)
    addStatusHandler("ok", fixed(state=OK))
    assert app.get("/svc_status").text == (
        "hung\tRED\ttimed out after 0.2 seconds\nok\tOK\t"
    )
    assert blocked.calls == 1


def test_timeout_per_handler_overrides_the_setting(blocked):
    app = make_app()  # the default, 5 seconds
    addStatusHandler("hung", blocked, timeout=0.1)
    addStatusHandler("ok", fixed(state=OK))
    data = app.get("/svc_status.json").json
    assert data == {
        "hung": {"state": RED, "detail": "timed out after 0.1 seconds"},
        "ok": {"state": OK},
    }


def test_a_longer_per_handler_timeout_is_waited_for():
    app = make_app(svcstatus__timeout="0.05")
    addStatusHandler("slow", lambda: time.sleep(0.2) or {"state": OK}, timeout=5)
    addStatusHandler("hung", lambda: time.sleep(0.5) or {"state": OK})
    assert app.get("/svc_status").text == (
        "hung\tRED\ttimed out after 0.05 seconds\nslow\tOK\t"
    )


def test_timeout_in_every_format(blocked):
    app = make_app(svcstatus__timeout="0.1")
    addStatusHandler("hung", blocked)
    assert 'svc_status{name="hung"} 2\n' in app.get("/svc_status.prometheus").text
    page = app.get("/svc_status.html").text
    assert '<tr class="RED"' in page and "timed out after 0.1 seconds" in page
    assert app.get("/svc_status.json").json["hung"]["detail"].startswith(
        "timed out after 0.1 seconds"
    )


def test_a_stuck_handler_is_not_started_again(blocked):
    app = make_app(svcstatus__timeout="0.1")
    addStatusHandler("hung", blocked)
    addStatusHandler("ok", fixed(state=OK))
    for _ in range(5):
        lines = app.get("/svc_status").text.split("\n")
        assert lines[0].startswith("hung\tRED\ttimed out after 0.1 seconds")
        assert lines[1] == "ok\tOK\t"
    assert blocked.calls == 1
    evaluator = get_evaluator(app.app.registry)
    assert evaluator.running() == ["hung"]
    # once it returns, the next request runs it again
    blocked.release.set()
    wait_until(lambda: blocked.returned == 1)
    wait_until(lambda: evaluator.running() == [])
    assert app.get("/svc_status").text == "hung\tOK\treleased\nok\tOK\t"
    assert blocked.calls == 2


def test_no_pile_up_with_concurrent_requests(blocked):
    app = make_app(svcstatus__timeout="0.3")
    evaluator = get_evaluator(app.app.registry)
    addStatusHandler("hung", blocked)
    addStatusHandler("ok", fixed(state=OK))
    errors = []
    bodies = []
    first = threading.Thread(target=lambda: bodies.append(app.get("/svc_status").text))
    first.start()
    # once the first request noticed the handler is busy, others wait for that run
    wait_until(lambda: evaluator.in_flight() == ["hung"])

    def client():
        try:
            for _ in range(3):
                bodies.append(app.get("/svc_status").text)
        except Exception as exc:  # pragma: no cover - the failure
            errors.append(exc)

    threads = [threading.Thread(target=client) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads + [first]:
        thread.join(30)
    assert errors == []
    assert len(bodies) == 19
    for body in bodies:
        assert body.startswith("hung\tRED\ttimed out after 0.3 seconds")
        assert body.endswith("\nok\tOK\t")
    assert blocked.calls == 1
    assert evaluator.running() == ["hung"]


def test_simultaneous_first_requests_start_a_hung_handler_at_most_once_each(blocked):
    evaluator = StatusEvaluator(timeout=0.2)
    addStatusHandler("hung", blocked)
    threads = [threading.Thread(target=evaluator.evaluate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    started = blocked.calls
    assert 1 <= started <= 4
    for _ in range(3):
        threads = [threading.Thread(target=evaluator.evaluate) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert blocked.calls == started


def test_a_request_shares_the_hung_run_of_a_concurrent_one(blocked, monkeypatch):
    # No tick in the first request marks the run as in flight: what the
    # second request sees is the first one's walker inside the handler.
    from lovely.ws.status import evaluation

    monkeypatch.setattr(evaluation, "FIRST_TICK_SECONDS", 30.0)
    evaluator = StatusEvaluator(timeout=0.5)
    addStatusHandler("hung", blocked)
    addStatusHandler("ok", fixed(state=OK))
    first = threading.Thread(target=evaluator.evaluate)
    first.start()
    wait_until(lambda: blocked.calls == 1)
    reports = []
    others = [threading.Thread(target=lambda: reports.append(evaluator.evaluate()))
              for _ in range(10)]
    for thread in others:
        thread.start()
    for thread in others + [first]:
        thread.join(30)
    assert blocked.calls == 1
    assert [r.as_dict()["hung"]["state"] for r in reports] == [RED] * 10
    assert [r.as_dict()["ok"] for r in reports] == [{"state": OK}] * 10


def test_concurrent_requests_share_a_slow_run():
    calls = []

    def slow():
        calls.append(1)
        time.sleep(0.3)
        return {"state": YELLOW, "detail": "slow but fine"}

    evaluator = StatusEvaluator(timeout=5)
    addStatusHandler("slow", slow)
    reports = []
    threads = [
        threading.Thread(target=lambda: reports.append(evaluator.evaluate()))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
        time.sleep(0.05)
    for thread in threads:
        thread.join(30)
    assert [r.as_dict() for r in reports] == [
        {"slow": {"state": YELLOW, "detail": "slow but fine"}}
    ] * 4
    assert len(calls) < 4


def test_a_handler_returning_late_is_still_a_timeout():
    evaluator = StatusEvaluator(timeout=0.05)
    addStatusHandler("late", lambda: time.sleep(0.15) or {"state": OK})
    report = evaluator.evaluate()
    assert report.as_dict() == {
        "late": {"state": RED, "detail": "timed out after 0.05 seconds"}
    }
    wait_until(lambda: evaluator.running() == [])
    assert evaluator.evaluate().as_dict()["late"]["state"] == RED


def test_a_hung_handler_does_not_block_the_others_across_requests(blocked):
    evaluator = StatusEvaluator(timeout=0.1)
    addStatusHandler("hung", blocked)
    ok = [fixed(state=OK, detail=str(i)) for i in range(50)]
    for i, handler in enumerate(ok):
        addStatusHandler(f"ok{i:02}", handler)
    for _ in range(5):
        report = evaluator.evaluate().as_dict()
        assert report.pop("hung")["state"] == RED
        assert report == {f"ok{i:02}": {"state": OK, "detail": str(i)} for i in range(50)}
    assert blocked.calls == 1


# ---------------------------------------------------------------- concurrency


def test_slow_handlers_run_concurrently():
    group = {"now": 0, "peak": 0}
    for i in range(20):
        addStatusHandler(f"s{i:02}", Sleeper(0.1, group))
    app = make_app()
    start = time.perf_counter()
    body = app.get("/svc_status").text
    took = time.perf_counter() - start
    assert body == "\n".join(f"s{i:02}\tOK\t" for i in range(20))
    assert group["peak"] > 1
    # functional, not a benchmark: one after the other would take 2 s
    assert took < 1.0
    start = time.perf_counter()
    app.get("/svc_status.json")
    assert time.perf_counter() - start < 1.0
    assert group["peak"] >= 10


def test_max_workers_bounds_the_threads():
    group = {"now": 0, "peak": 0}
    for i in range(6):
        addStatusHandler(f"s{i}", Sleeper(0.03, group))
    app = make_app(svcstatus__max_workers="2")
    for _ in range(3):
        assert app.get("/svc_status").text.count("\tOK\t") == 6
    assert group["peak"] <= 2


def test_many_cheap_handlers():
    calls = []
    for i in range(1000):
        addStatusHandler(f"h{i:04}", lambda i=i: calls.append(i) or {"state": OK})
    report = StatusEvaluator().evaluate()
    assert len(report) == 1000
    assert sorted(calls) == list(range(1000))
    assert all(s == {"state": OK} for s in report.statuses)


# ---------------------------------------------------------------- caching


class Counting:
    def __init__(self, state=OK):
        self.state = state
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return {"state": self.state, "detail": f"call {self.calls}"}


def test_no_caching_by_default():
    handler = Counting()
    addStatusHandler("x", handler)
    evaluator = StatusEvaluator()
    for _ in range(3):
        evaluator.evaluate()
    assert handler.calls == 3


def test_ttl_reuses_the_result():
    cached, fresh = Counting(), Counting()
    addStatusHandler("cached", cached, ttl=60)
    addStatusHandler("fresh", fresh)
    app = make_app()
    for path in ("/svc_status", "/svc_status.json", "/svc_status.prometheus"):
        app.get(path)
    assert cached.calls == 1
    assert fresh.calls == 3
    assert app.get("/svc_status").text == "cached\tOK\tcall 1\nfresh\tOK\tcall 4"


def test_ttl_expires():
    handler = Counting()
    addStatusHandler("x", handler, ttl=0.05)
    evaluator = StatusEvaluator()
    evaluator.evaluate()
    evaluator.evaluate()
    assert handler.calls == 1
    time.sleep(0.1)
    assert evaluator.evaluate().as_dict() == {"x": {"state": OK, "detail": "call 2"}}
    assert handler.calls == 2


def test_ttl_zero_calls_every_time():
    handler = Counting()
    addStatusHandler("x", handler, ttl=0)
    evaluator = StatusEvaluator()
    for _ in range(3):
        evaluator.evaluate()
    assert handler.calls == 3


def test_ttl_cache_belongs_to_the_handler_object():
    first, second = Counting(YELLOW), Counting(RED)
    addStatusHandler("x", first, ttl=60)
    evaluator = StatusEvaluator()
    evaluator.evaluate()
    addStatusHandler("x", second, ttl=60)
    assert evaluator.evaluate().as_dict() == {"x": {"state": RED, "detail": "call 1"}}
    STATUS_HANDLERS.clear()
    addStatusHandler("x", first)  # no ttl any more
    evaluator.evaluate()
    assert first.calls == 2


def test_ttl_caches_a_failure_too():
    calls = []

    def failing():
        calls.append(1)
        raise OSError("down")

    addStatusHandler("x", failing, ttl=60)
    evaluator = StatusEvaluator()
    for _ in range(3):
        assert evaluator.evaluate().as_dict() == {
            "x": {"state": RED, "detail": "OSError: down"}
        }
    assert len(calls) == 1


# ---------------------------------------------------------------- timing


def test_durations():
    addStatusHandler("slow", lambda: time.sleep(0.05) or {"state": OK})
    addStatusHandler("fast", fixed(state=OK))
    report = StatusEvaluator().evaluate()
    durations = dict(zip(report.names, report.durations))
    assert durations["slow"] >= 0.05
    assert 0 <= durations["fast"] < durations["slow"]


def test_untimed_evaluation_still_learns_which_handlers_are_slow():
    calls = []

    def slow():
        calls.append(threading.get_ident())
        time.sleep(0.05)
        return {"state": OK}

    addStatusHandler("slow", slow)
    addStatusHandler("fast", fixed(state=OK))
    evaluator = StatusEvaluator()
    report = evaluator.evaluate(durations=False)
    assert report.durations == [None, None]
    assert report.as_dict() == {"slow": {"state": OK}, "fast": {"state": OK}}
    # Seen running at a tick: timed from now on, and first in line.
    assert evaluator._slow == {"slow": slow}
    report = evaluator.evaluate(durations=False)
    assert report.durations[0] >= 0.05


def test_csv_and_json_are_untimed_prometheus_and_html_timed():
    addStatusHandler("fast", fixed(state=OK))
    config = Configurator()
    config.include("lovely.ws.status.svcstatus")
    app = TestApp(config.make_wsgi_app())
    evaluator = get_evaluator(config.registry)
    seen = []
    original = evaluator.evaluate

    def spy(names=None, durations=True):
        seen.append(durations)
        return original(names, durations)

    evaluator.evaluate = spy
    for path in ("/svc_status", "/svc_status.json", "/svc_status.prometheus",
                 "/svc_status.html"):
        app.get(path)
    assert seen == [False, False, True, True]


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


# ---------------------------------------------------------------- processes


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_works_in_a_forked_child():
    evaluator = StatusEvaluator(timeout=2)
    addStatusHandler("x", fixed(state=OK, detail="parent"))
    assert evaluator.evaluate().as_dict() == {"x": {"state": OK, "detail": "parent"}}

    def child():
        addStatusHandler("x", fixed(state=YELLOW, detail="child"))
        return repr(evaluator.evaluate().as_dict())

    text = run_in_child(child)
    assert text == repr({"x": {"state": YELLOW, "detail": "child"}})


def test_forgets_handlers_that_are_gone():
    # White-box: leftovers of removed handlers would keep every request off
    # the fast path (a measurable slowdown with many handlers).
    evaluator = StatusEvaluator(timeout=0.05)
    addStatusHandler("slow", lambda: time.sleep(0.01) or {"state": OK})
    addStatusHandler("cached", fixed(state=OK), ttl=60)
    addStatusHandler("late", lambda: time.sleep(0.2) or {"state": OK})
    addStatusHandler("fast", fixed(state=OK))
    evaluator.evaluate()
    assert evaluator._slow and evaluator._cache and evaluator._stuck
    for name in ("slow", "cached", "late"):
        del STATUS_HANDLERS[name]
    wait_until(lambda: evaluator.in_flight() == [])
    assert evaluator.evaluate().as_dict() == {"fast": {"state": OK}}
    assert (evaluator._slow, evaluator._cache, evaluator._stuck) == ({}, {}, {})


# ---------------------------------------------------------------- threads


def test_handlers_see_the_requests_threadlocals_and_context_variables():
    import contextvars

    from pyramid.threadlocal import get_current_registry, get_current_request

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
    config = Configurator(settings={"x": "1"})
    config.include("lovely.ws.status.svcstatus")
    app = TestApp(config.make_wsgi_app())
    tenant.set("acme")
    app.get("/svc_status")
    assert seen["request"].path == "/svc_status"
    assert seen["settings"]["x"] == "1"
    assert seen["tenant"] == "acme"
    assert tenant.get() == "acme"
    assert seen["thread"] != threading.get_ident()


def test_not_concurrent_runs_in_the_calling_thread():
    threads = []
    addStatusHandler("a", lambda: threads.append(threading.get_ident()) or {"state": OK})
    addStatusHandler("b", lambda: 1 / 0)
    report = StatusEvaluator(concurrent=False).evaluate()
    assert threads == [threading.get_ident()]
    assert report.as_dict()["b"] == {"state": RED, "detail": "ZeroDivisionError: division by zero"}


def test_concurrent_setting():
    config = Configurator(settings={"svcstatus.concurrent": "false"})
    config.include("lovely.ws.status")
    config.commit()
    assert get_evaluator(config.registry).concurrent is False
    assert config.registry.settings["svcstatus.concurrent"] is False
