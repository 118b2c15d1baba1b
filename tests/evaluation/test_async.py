"""Async handlers: awaited on one event-loop thread, cancelled for real at
their deadline, with the isolation and reporting of the others."""
from __future__ import annotations

import asyncio
import contextvars
import gc
import logging
import threading

from lovely.ws.status import OK, RED, YELLOW
from lovely.ws.status.handlers import HandlerOptions

from ..helpers import PATIENCE, app_status, make_app, wait_until


async def fine():
    await asyncio.sleep(0)
    return {"state": OK, "detail": "async"}


class Awaitable:
    """Not a coroutine, but awaitable."""

    def __await__(self):
        yield from asyncio.sleep(0).__await__()
        return {"state": YELLOW, "detail": "awaitable"}


def test_a_coroutine_function_is_awaited():
    app = app_status(timeout=PATIENCE)
    app.add_handler("a", fine)
    assert app.evaluate().as_dict() == {"a": {"state": OK, "detail": "async"}}


def test_a_handler_returning_an_awaitable():
    app = app_status(timeout=PATIENCE)
    app.add_handler("a", Awaitable)
    assert app.evaluate().as_dict() == {"a": {"state": YELLOW, "detail": "awaitable"}}


def test_through_the_view():
    testapp = make_app(setup=lambda config: config.add_status_handler("a", fine))
    assert testapp.get("/svc_status.json").json == {"a": {"state": OK, "detail": "async"}}


def test_a_timeout_cancels_it_and_its_finally_runs():
    seen = {"cancelled": threading.Event(), "finally": threading.Event()}

    async def sleeper():
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            seen["cancelled"].set()
            raise
        finally:
            seen["finally"].set()
        return {"state": OK}

    app = app_status()
    app.add_handler("a", sleeper, HandlerOptions(timeout=0.3))
    assert app.evaluate().as_dict() == {
        "a": {"state": RED, "detail": "timed out after 0.3 seconds"}}
    assert seen["cancelled"].wait(PATIENCE)
    assert seen["finally"].wait(PATIENCE)
    wait_until(lambda: app.evaluator.in_flight() == [], "nothing left running")


def test_many_slow_handlers_wait_side_by_side_on_one_thread():
    count = 100
    started = []
    finished = []
    shared = {}

    def make():
        async def waiter():
            started.append(threading.get_ident())
            event = shared.setdefault("event", asyncio.Event())
            if len(started) == count:
                event.set()
            await event.wait()
            finished.append(len(started))
            return {"state": OK}
        return waiter

    app = app_status(timeout=PATIENCE, max_workers=2)
    for i in range(count):
        app.add_handler(f"a{i:03d}", make())
    report = app.evaluate()
    assert report.state == OK and len(report) == count
    assert len(finished) == count
    assert min(finished) == count  # each finished after all had started
    assert len(set(started)) == 1


def test_an_exception_is_reported_and_logged(caplog):
    async def broken():
        await asyncio.sleep(0)
        raise OSError("refused")

    app = app_status(timeout=PATIENCE)
    app.add_handler("a", broken)
    with caplog.at_level(logging.ERROR, logger="lovely.ws.status"):
        assert app.evaluate().as_dict() == {"a": {"state": RED, "detail": "OSError: refused"}}
    assert "status handler 'a' raised OSError: refused" in caplog.text


def test_its_own_timeout_error_is_its_exception():
    async def strict():
        await asyncio.wait_for(asyncio.sleep(10), 0.01)

    app = app_status(timeout=PATIENCE)
    app.add_handler("a", strict)
    status = app.evaluate().as_dict()["a"]
    assert status["state"] == RED and "timed out after" not in status["detail"]


def test_a_result_that_is_no_status():
    async def nonsense():
        return 42

    app = app_status(timeout=PATIENCE)
    app.add_handler("a", nonsense)
    assert app.evaluate().as_dict() == {
        "a": {"state": RED, "detail": "invalid status: handler returned int, not a dict"}}


def test_serial_evaluation_awaits_them_too():
    app = app_status(concurrent=False)
    app.add_handler("a", fine)
    app.add_handler("b", lambda: {"state": OK})
    assert app.evaluate().as_dict() == {"a": {"state": OK, "detail": "async"},
                                        "b": {"state": OK}}


def test_in_the_background():
    calls = []

    async def counted():
        calls.append(1)
        return {"state": OK, "detail": f"call {len(calls)}"}

    app = app_status(timeout=PATIENCE)
    app.add_handler("a", counted, HandlerOptions(interval=0.01))
    assert app.evaluate().as_dict() == {"a": {"state": OK, "detail": "call 1"}}
    wait_until(lambda: len(calls) > 3)
    assert app.evaluate().as_dict()["a"]["detail"] != "call 1"


def test_it_sees_the_requests_context_variables():
    var = contextvars.ContextVar("var", default="unset")

    async def reads():
        return {"state": OK, "detail": var.get()}

    app = app_status(timeout=PATIENCE)
    app.add_handler("a", reads)
    token = var.set("the request's")
    try:
        assert app.evaluate().as_dict()["a"]["detail"] == "the request's"
    finally:
        var.reset(token)


def test_the_loop_is_shared_and_ends_with_its_app():
    app = app_status(timeout=PATIENCE)
    threads = []

    async def where():
        threads.append(threading.current_thread())
        return {"state": OK}

    app.add_handler("a", where)
    app.add_handler("b", where)
    app.evaluate()
    app.evaluate()
    assert len(set(threads)) == 1
    thread = threads.pop()
    threads.clear()
    del app
    gc.collect()
    wait_until(lambda: not thread.is_alive(), "the loop's thread ended")
