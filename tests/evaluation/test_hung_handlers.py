"""A handler that hangs holds one thread: it is not started again while it
runs, requests do not pile up behind it, and neither it nor its thread
keeps the other handlers from running."""
from __future__ import annotations

import threading

import pytest

from lovely.ws.status import OK, RED, addStatusHandler
from lovely.ws.status.appstatus import get_app_status
from lovely.ws.status.evaluation.job import NOT_RUN
from lovely.ws.status.handlers import HandlerOptions

from ..helpers import PATIENCE, app_status, fixed, in_thread, make_app, wait_until

STILL_RUNNING = "(still running from an earlier request)"


def test_a_hung_handler_is_not_started_again(blocked):
    testapp = make_app(settings={"svcstatus.timeout": "0.1"})
    evaluator = get_app_status(testapp.app.registry).evaluator
    addStatusHandler("hung", blocked)
    addStatusHandler("ok", fixed(state=OK))
    lines = testapp.get("/svc_status").text.split("\n")
    assert lines == ["hung\tRED\ttimed out after 0.1 seconds", "ok\tOK\t"]
    for _ in range(4):
        lines = testapp.get("/svc_status").text.split("\n")
        assert lines == [f"hung\tRED\ttimed out after 0.1 seconds {STILL_RUNNING}",
                         "ok\tOK\t"]
    assert blocked.calls == 1
    assert evaluator.running() == ["hung"]
    # once it returns, the next request runs it again
    blocked.release.set()
    wait_until(lambda: blocked.returned == 1)
    wait_until(lambda: evaluator.running() == [])
    assert testapp.get("/svc_status").text == "hung\tOK\treleased\nok\tOK\t"
    assert blocked.calls == 2


def test_no_pile_up_with_concurrent_clients(blocked):
    testapp = make_app(settings={"svcstatus.timeout": "0.3"})
    evaluator = get_app_status(testapp.app.registry).evaluator
    addStatusHandler("hung", blocked)
    addStatusHandler("ok", fixed(state=OK))
    errors = []
    bodies = []
    start = threading.Barrier(10)

    def client():
        try:
            start.wait(PATIENCE)
            for _ in range(3):
                bodies.append(testapp.get("/svc_status").text)
        except Exception as exc:  # pragma: no cover - the failure
            errors.append(exc)

    threads = [threading.Thread(target=client) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PATIENCE)
    assert errors == []
    assert len(bodies) == 30
    for body in bodies:
        assert body.startswith("hung\tRED\ttimed out after 0.3 seconds")
        assert body.endswith("\nok\tOK\t")
    assert blocked.calls == 1
    assert evaluator.running() == ["hung"]


def test_a_hung_handler_does_not_block_the_others_across_requests(blocked):
    app = app_status(timeout=PATIENCE)
    app.add_handler("hung", blocked, HandlerOptions(timeout=0.1))
    for i in range(50):
        app.add_handler(f"ok{i:02}", fixed(state=OK, detail=str(i)))
    for _ in range(5):
        report = app.evaluate().as_dict()
        assert report.pop("hung")["state"] == RED
        assert report == {f"ok{i:02}": {"state": OK, "detail": str(i)} for i in range(50)}
    assert blocked.calls == 1


@pytest.mark.parametrize("max_workers", [1, 2])
def test_hung_handlers_do_not_take_the_whole_pool(hung, max_workers):
    # As many hung handlers as threads: their threads are detached with
    # them, so the other handlers still get a thread on later requests.
    app = app_status(timeout=PATIENCE, max_workers=max_workers)
    app.add_handler("ok", fixed(state=OK))
    handlers = [hung() for _ in range(max_workers)]
    for i, handler in enumerate(handlers):
        app.add_handler(f"hung{i}", handler, HandlerOptions(timeout=0.1))
    # A busy machine may start the second thread only after the first
    # request gave up: the next one starts the handlers not started yet.
    wait_until(lambda: app.evaluate() and all(h.calls for h in handlers),
               "every hung handler started")
    for _ in range(3):
        report = app.evaluate().as_dict()
        assert report.pop("ok") == {"state": OK}
        assert [s["detail"] for s in report.values()] == [
            f"timed out after 0.1 seconds {STILL_RUNNING}"] * max_workers
    assert [h.calls for h in handlers] == [1] * max_workers


def test_threads_of_hung_handlers_stay_bounded(hung):
    # Detached threads no longer count against max_workers; a hung handler
    # is never started twice, so there is at most one per hung handler.
    app = app_status(timeout=PATIENCE, max_workers=1)
    handlers = [hung() for _ in range(4)]
    threads = []

    def tracked(handler):
        def run():
            threads.append(threading.current_thread())
            return handler()
        return run

    baseline = threading.active_count()
    for i, handler in enumerate(handlers):
        app.add_handler(f"hung{i}", tracked(handler), HandlerOptions(timeout=0.05))
        for _ in range(5):
            app.evaluate()
            assert threading.active_count() <= baseline + 1 + i + 1
    wait_until(lambda: app.evaluate() and all(h.calls for h in handlers),
               "every hung handler started")
    for _ in range(10):
        app.evaluate()
    assert [h.calls for h in handlers] == [1] * 4
    assert len(set(threads)) == 4
    assert threading.active_count() <= baseline + 1 + 4
    pool = app.evaluator.pool
    assert pool._threads <= 1
    for handler in handlers:
        handler.release.set()
    # Once they return, the detached threads end.
    wait_until(lambda: not any(t.is_alive() for t in threads), "detached threads ended")
    wait_until(lambda: app.evaluator.in_flight() == [])
    assert pool._threads <= 1
    report = app.evaluate().as_dict()
    assert report == {f"hung{i}": {"state": OK, "detail": "released"} for i in range(4)}


def test_a_walker_waiting_for_a_thread_gets_one_when_a_request_gives_up(blocked):
    # max_workers=1 and its thread hangs; a concurrent request queues its
    # walker. Once the first request gives up, that thread no longer
    # counts: the queued walker gets a new one, long before its deadline.
    app = app_status(timeout=PATIENCE, max_workers=1)
    app.add_handler("hung", blocked, HandlerOptions(timeout=0.1))
    app.add_handler("ok", fixed(state=OK))
    first, out = in_thread(app.evaluate, ["hung"])
    assert blocked.entered.wait(PATIENCE)
    report = app.evaluate().as_dict()
    assert report["ok"] == {"state": OK}
    assert report["hung"]["state"] == RED
    first.join(PATIENCE)
    assert out[0].as_dict()["hung"]["state"] == RED
    assert blocked.calls == 1


def test_a_thread_that_cannot_be_started_is_not_a_crash(monkeypatch):
    # Out of threads (ulimit, a container's pids.max): the request still
    # answers, and the pool does not count the threads it could not start.
    addStatusHandler("ok", fixed(state=OK))
    app = app_status(timeout=0.05, max_workers=2)
    original_start = threading.Thread.start

    def start(thread):
        if thread.name == "lovely.ws.status":
            raise RuntimeError("can't start new thread")
        return original_start(thread)

    monkeypatch.setattr(threading.Thread, "start", start)
    for _ in range(3):
        report = app.evaluate().as_dict()
        assert report == {"ok": {"state": RED, "detail": NOT_RUN["detail"]}}
    pool = app.evaluator.pool
    assert pool._threads == 0
    monkeypatch.undo()
    app.evaluator.timeout = PATIENCE
    assert app.evaluate().as_dict() == {"ok": {"state": OK}}
    assert 1 <= pool._threads <= 2
