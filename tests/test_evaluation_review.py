"""A second look at the evaluator: races between requests and walkers,
accounting of the pool, and what must never grow or pile up."""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping

import pytest

from lovely.ws.status import OK, RED, addStatusHandler, evaluation
from lovely.ws.status.evaluation import StatusEvaluator

from .servers import run_in_child


class Blocked:
    """A handler that hangs until released; counts how often it started."""

    def __init__(self, state=OK):
        self.state = state
        self.release = threading.Event()
        self.entered = threading.Event()
        self.calls = 0
        self.returned = 0

    def __call__(self):
        self.calls += 1
        self.entered.set()
        self.release.wait(30)
        self.returned += 1
        return {"state": self.state, "detail": "released"}


@pytest.fixture
def blocked():
    handlers = []

    def make(state=OK):
        handler = Blocked(state)
        handlers.append(handler)
        return handler

    yield make
    for handler in handlers:  # never leave a thread hanging behind a test
        handler.release.set()


def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.002)


def in_thread(target, *args):
    out = []
    thread = threading.Thread(target=lambda: out.append(target(*args)), daemon=True)
    thread.start()
    return thread, out


# ------------------------------------------------------------ sharing a run


def test_a_request_arriving_while_the_first_walker_thread_starts_shares_its_run(
        blocked, monkeypatch):
    # Starting a pool thread releases the GIL for a while (Thread.start waits
    # for the thread to run). A request arriving then must see the handler as
    # about to run, not start a second run of it.
    hung = blocked()
    addStatusHandler("hung", hung)
    evaluator = StatusEvaluator(timeout=0.2)
    original_start = threading.Thread.start
    second = []

    def start(thread):
        if thread.name == "lovely.ws.status" and not second:
            second.append(None)
            second[0] = in_thread(evaluator.evaluate)
            second[0][0].join(0.3)  # it decides now, or waits for us
        return original_start(thread)

    monkeypatch.setattr(threading.Thread, "start", start)
    first = evaluator.evaluate()
    monkeypatch.undo()
    other, out = second[0]
    other.join(10)
    assert hung.calls == 1
    assert first.as_dict()["hung"]["state"] == RED
    assert out[0].as_dict()["hung"]["state"] == RED


def test_simultaneous_first_requests_share_one_run(blocked):
    hung = blocked()
    addStatusHandler("hung", hung)
    addStatusHandler("ok", lambda: {"state": OK})
    evaluator = StatusEvaluator(timeout=0.2)
    barrier = threading.Barrier(8)
    reports = []

    def client():
        barrier.wait(10)
        reports.append(evaluator.evaluate())

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert hung.calls == 1
    assert [r.as_dict()["ok"] for r in reports] == [{"state": OK}] * 8
    assert {r.as_dict()["hung"]["state"] for r in reports} == {RED}


# ------------------------------------------------------------ processes


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_child_forked_during_a_request_does_not_wait_for_the_parents_run(blocked):
    # The walker inside the handler stays behind in the parent: the child
    # must run the handler itself, not report the parent's run forever.
    hung = blocked()
    addStatusHandler("hung", hung)
    evaluator = StatusEvaluator(timeout=3)
    request, _ = in_thread(evaluator.evaluate)
    assert hung.entered.wait(5)

    def child():
        hung.release.set()
        start = time.monotonic()
        reports = [evaluator.evaluate().as_dict()["hung"] for _ in range(2)]
        took = time.monotonic() - start
        return repr((reports, took < 1))

    try:
        text = run_in_child(child, timeout=20)
    finally:
        hung.release.set()
        request.join(10)
    released = {"state": OK, "detail": "released"}
    assert text == repr(([released, released], True))


# ------------------------------------------------------------ not concurrent


def test_not_concurrent_never_times_out_in_any_format():
    # Documented: called one after the other in the request's thread, "without
    # timeouts". A slow handler's answer is its answer, timed or not.
    addStatusHandler("slow", lambda: time.sleep(0.03) or {"state": OK})
    evaluator = StatusEvaluator(timeout=0.01, concurrent=False)
    for durations in (True, False, True):
        report = evaluator.evaluate(durations=durations)
        assert report.as_dict() == {"slow": {"state": OK}}
    assert report.durations[0] >= 0.03


# ------------------------------------------------------------ caching


def test_a_timeout_reported_for_a_run_still_out_is_not_cached(blocked):
    # The request that started the run does not cache its timeout; the
    # requests after it (run still out) must not cache theirs either, or the
    # handler stays "timed out" for a whole ttl after it recovered.
    hung = blocked()
    addStatusHandler("x", hung, timeout=0.05, ttl=60)
    addStatusHandler("other", lambda: {"state": OK})
    evaluator = StatusEvaluator()
    assert evaluator.evaluate().as_dict()["x"]["state"] == RED
    assert evaluator.evaluate().as_dict()["x"]["detail"].endswith(
        "(still running from an earlier request)")
    hung.release.set()
    wait_until(lambda: evaluator.in_flight() == [])
    assert evaluator.evaluate().as_dict()["x"] == {"state": OK, "detail": "released"}
    assert hung.calls == 2


def test_a_timeout_of_a_shared_run_is_not_cached(blocked):
    hung = blocked()
    addStatusHandler("x", hung, timeout=0.2, ttl=60)
    evaluator = StatusEvaluator()
    first, out = in_thread(evaluator.evaluate)
    wait_until(lambda: evaluator.in_flight() == ["x"])
    second = evaluator.evaluate()  # shares the first one's run, until its deadline
    first.join(10)
    assert out[0].as_dict()["x"]["state"] == RED
    assert second.as_dict()["x"]["state"] == RED
    assert hung.calls == 1
    hung.release.set()
    wait_until(lambda: evaluator.in_flight() == [])
    assert evaluator.evaluate().as_dict() == {"x": {"state": OK, "detail": "released"}}


def test_a_shared_run_that_returns_is_cached(blocked):
    slow = blocked()
    addStatusHandler("x", slow, ttl=60)
    evaluator = StatusEvaluator()
    first, out = in_thread(evaluator.evaluate)
    wait_until(lambda: evaluator.in_flight() == ["x"])
    second, out2 = in_thread(evaluator.evaluate)
    time.sleep(0.02)
    slow.release.set()
    first.join(10)
    second.join(10)
    released = {"x": {"state": OK, "detail": "released"}}
    assert out[0].as_dict() == out2[0].as_dict() == released
    assert evaluator.evaluate().as_dict() == released
    assert slow.calls == 1


def test_an_expired_cache_entry_does_not_keep_requests_off_the_fast_path():
    # White-box: the same handler registered again without a ttl; its stale
    # cache entry made every later request plan every handler.
    def handler():
        return {"state": OK}

    addStatusHandler("x", handler, ttl=0.01)
    evaluator = StatusEvaluator()
    evaluator.evaluate()
    assert evaluator._cache
    addStatusHandler("x", handler)
    time.sleep(0.02)
    evaluator.evaluate()
    assert evaluator._cache == {}


# ------------------------------------------------------------ small pools


@pytest.mark.parametrize("max_workers", [1, 2])
def test_hung_handlers_do_not_take_the_whole_pool(blocked, max_workers):
    # As many hung handlers as threads: their threads are given up with
    # them, so the other handlers still get a thread on later requests.
    hung = [blocked() for _ in range(max_workers)]
    for i, handler in enumerate(hung):
        addStatusHandler(f"hung{i}", handler)
    addStatusHandler("ok", lambda: {"state": OK})
    evaluator = StatusEvaluator(timeout=0.1, max_workers=max_workers)
    evaluator.evaluate()  # the hung ones may keep "ok" from a thread here
    wait_until(lambda: all(h.calls for h in hung))
    for _ in range(3):
        report = evaluator.evaluate().as_dict()
        assert report.pop("ok") == {"state": OK}
        assert {s["state"] for s in report.values()} == {RED}
    assert [h.calls for h in hung] == [1] * max_workers


def test_threads_given_up_on_stay_bounded(blocked):
    # Given-up threads no longer count against max_workers, but there are
    # never more of them than max_workers either.
    hung = [blocked() for _ in range(4)]
    evaluator = StatusEvaluator(timeout=0.05, max_workers=1)
    for i, handler in enumerate(hung):
        addStatusHandler(f"hung{i}", handler)
        evaluator.evaluate()
        evaluator.evaluate()
    assert sum(h.calls for h in hung) <= 2
    pool = evaluator.pool
    assert pool._threads + pool._orphans <= 2
    for handler in hung:
        handler.release.set()
    # once they return, the threads take work again (or leave), within bounds
    wait_until(lambda: evaluator.in_flight() == [])
    wait_until(lambda: pool._orphans == 0)
    assert pool._threads <= 1
    report = evaluator.evaluate().as_dict()
    assert report == {f"hung{i}": {"state": OK, "detail": "released"} for i in range(4)}


def test_a_request_arriving_while_another_plans_shares_its_run(blocked, monkeypatch):
    # Between a request's look at the runs under way and its first walker,
    # another request must not decide on its own (it would start the same
    # handler a second time).
    hung = blocked()
    addStatusHandler("hung", hung, timeout=5)
    evaluator = StatusEvaluator()
    second = []

    class Options(dict):
        def get(self, *args):
            if not second:
                second.append(None)
                second[0] = in_thread(evaluator.evaluate)
                second[0][0].join(0.3)  # it decides now, or waits for us
            return dict.get(self, *args)

    monkeypatch.setattr(evaluation, "HANDLER_OPTIONS", Options(evaluation.HANDLER_OPTIONS))
    first, out = in_thread(evaluator.evaluate)
    wait_until(lambda: second and second[0] and hung.calls)
    time.sleep(0.05)  # the second one, if it went its own way, starts it now
    hung.release.set()
    first.join(10)
    second[0][0].join(10)
    released = {"hung": {"state": OK, "detail": "released"}}
    assert out[0].as_dict() == second[0][1][0].as_dict() == released
    assert hung.calls == 1


def test_a_handler_the_request_gave_up_on_before_it_started_is_not_shared(
        blocked, monkeypatch):
    # Giving up takes the handlers nobody started off the queue, then marks
    # them skipped. A request looking in between took them for running (and
    # past their deadline): "still running" for a handler that never ran.
    hung = [blocked(), blocked()]
    addStatusHandler("hung0", hung[0])
    addStatusHandler("hung1", hung[1])
    calls = []
    addStatusHandler("next", lambda: calls.append(1) or {"state": OK})
    evaluator = StatusEvaluator(timeout=0.2, max_workers=2)
    second = []

    class Statuses(list):
        def __setitem__(self, i, value):
            if value is evaluation._SKIPPED and not second:
                second.append(None)
                second[0] = in_thread(evaluator.evaluate)
                second[0][0].join(0.05)  # it looks now, or waits for us
            list.__setitem__(self, i, value)

    class Batch(evaluation._Batch):
        __slots__ = ()

        def __init__(self, names, handlers, statuses, durations):
            super().__init__(names, handlers, Statuses(statuses), durations)

    monkeypatch.setattr(evaluation, "_Batch", Batch)
    first = evaluator.evaluate().as_dict()
    assert second, "the first request did not give up on 'next'"
    other, out = second[0]
    other.join(10)
    assert first["next"]["state"] == RED
    assert out[0].as_dict()["next"] == {"state": OK}
    assert calls == [1]
    assert [h.calls for h in hung] == [1, 1]


def test_a_walker_waiting_for_a_thread_gets_one_when_a_request_gives_up(blocked):
    # max_workers=1, the thread hangs; a concurrent request queues its walker.
    # When the first request gives up, the thread no longer counts: the
    # queued walker must get a new one then, not wait for its deadline.
    hung = blocked()
    addStatusHandler("hung", hung, timeout=0.1)
    addStatusHandler("ok", lambda: {"state": OK})
    evaluator = StatusEvaluator(timeout=2, max_workers=1)
    first, out = in_thread(evaluator.evaluate, ["hung"])
    assert hung.entered.wait(5)
    start = time.monotonic()
    report = evaluator.evaluate().as_dict()
    assert time.monotonic() - start < 1
    assert report["ok"] == {"state": OK}
    assert report["hung"]["state"] == RED
    first.join(10)
    assert hung.calls == 1


def test_a_thread_that_cannot_be_started_is_not_a_crash(monkeypatch):
    # Out of threads (ulimit, a container's pids.max): the view must still
    # answer, and the pool must not count the thread it could not start.
    addStatusHandler("ok", lambda: {"state": OK})
    evaluator = StatusEvaluator(timeout=0.05, max_workers=2)
    original_start = threading.Thread.start

    def start(thread):
        if thread.name == "lovely.ws.status":
            raise RuntimeError("can't start new thread")
        return original_start(thread)

    monkeypatch.setattr(threading.Thread, "start", start)
    for _ in range(3):
        report = evaluator.evaluate().as_dict()
        assert report == {"ok": {"state": RED, "detail": "timed out after 0.05 seconds"}}
    monkeypatch.undo()
    assert evaluator.evaluate().as_dict() == {"ok": {"state": OK}}
    assert evaluator.pool._threads == 1


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


@pytest.mark.parametrize("concurrent", [True, False])
@pytest.mark.parametrize("handler", [
    raising(SystemExit(3)),
    raising(KeyboardInterrupt()),
    raising(GeneratorExit()),
    raising(UnprintableError()),
    lambda: Treacherous(KeyboardInterrupt()),
    lambda: Treacherous(GeneratorExit()),
    lambda: Treacherous(SystemExit(1)),
], ids=["SystemExit", "KeyboardInterrupt", "GeneratorExit", "unprintable",
        "mapping-KeyboardInterrupt", "mapping-GeneratorExit", "mapping-SystemExit"])
def test_base_exceptions_are_reported_and_the_rest_still_runs(handler, concurrent):
    addStatusHandler("bad", handler)
    addStatusHandler("ok", lambda: {"state": OK})
    evaluator = StatusEvaluator(timeout=1, concurrent=concurrent)
    for _ in range(2):  # and nothing is left "still running" behind it
        start = time.monotonic()
        report = evaluator.evaluate().as_dict()
        assert time.monotonic() - start < 0.5
        assert report["ok"] == {"state": OK}
        assert report["bad"]["state"] == RED
        assert "timed out" not in report["bad"]["detail"]
        assert evaluator.in_flight() == []


# ------------------------------------------------------------ churn


def test_the_run_of_a_replaced_handler_does_not_hide_the_run_of_its_successor(blocked):
    old, new = blocked(), blocked()
    addStatusHandler("x", old)
    evaluator = StatusEvaluator(timeout=3)
    first, _ = in_thread(evaluator.evaluate)
    assert old.entered.wait(5)
    addStatusHandler("x", new)
    second, _ = in_thread(evaluator.evaluate)
    assert new.entered.wait(5)
    wait_until(lambda: evaluator._stuck.get("x", (None,))[0] is new)
    # A third request sees both runs under way; it must share the new one.
    third, out = in_thread(evaluator.evaluate)
    time.sleep(0.05)
    new.release.set()
    old.release.set()
    for thread in (first, second, third):
        thread.join(10)
    assert out[0].as_dict() == {"x": {"state": OK, "detail": "released"}}
    assert (old.calls, new.calls) == (1, 1)


def test_sharing_a_run_does_not_stretch_a_requests_own_deadline(blocked):
    # The run was started under a longer timeout; the request that shares
    # it still answers within its own.
    hung = blocked()
    addStatusHandler("x", hung, timeout=5)
    evaluator = StatusEvaluator()
    first, _ = in_thread(evaluator.evaluate)
    wait_until(lambda: evaluator.in_flight() == ["x"])
    addStatusHandler("x", hung, timeout=0.1)
    start = time.monotonic()
    report = evaluator.evaluate().as_dict()
    assert time.monotonic() - start < 1
    assert report == {"x": {"state": RED, "detail": "timed out after 0.1 seconds"}}
    assert hung.calls == 1
    hung.release.set()
    first.join(10)


def test_a_huge_timeout_is_not_an_overflow():
    # Event.wait() refuses more than threading.TIMEOUT_MAX seconds.
    addStatusHandler("x", lambda: time.sleep(0.03) or {"state": OK})
    assert StatusEvaluator(timeout=1e10).evaluate().as_dict() == {"x": {"state": OK}}
