"""The evaluator's threads: what counts against max_workers, what a broken
log does, what happens when an app goes, and after a fork."""
from __future__ import annotations

import gc
import logging
import os
import threading

import pytest

from lovely.ws.status import OK, RED, addStatusHandler
from lovely.ws.status.handlers import HandlerOptions

from ..helpers import PATIENCE, app_status, fixed, in_thread, wait_until
from ..servers import run_in_child


def pool_threads():
    return [t for t in threading.enumerate() if t.name == "lovely.ws.status"]


def test_a_handler_past_its_own_deadline_frees_its_thread_for_the_others(hung):
    # Four handlers hang past their 0.2 s while the request waits for a
    # fifth with a longer timeout: their threads stop counting, so the
    # fifth one gets a thread although max_workers is 4.
    app = app_status(timeout=0.2, max_workers=4)
    for n in range(4):
        app.add_handler(f"hung{n}", hung())
    done = threading.Event()

    def api():
        done.set()
        return {"state": OK, "detail": "ran"}

    app.add_handler("z_api", api, HandlerOptions(timeout=PATIENCE))
    report = app.evaluate().as_dict()
    assert report["z_api"] == {"state": OK, "detail": "ran"}
    assert [report[f"hung{n}"]["state"] for n in range(4)] == [RED] * 4
    assert app.evaluator.pool._threads <= 4


def test_a_log_handler_that_raises_breaks_neither_the_report_nor_the_pool():
    class Raising(logging.Handler):
        def emit(self, record):
            raise OSError("the log sink is down")

    def broken():
        raise ValueError("db down")

    logger = logging.getLogger("lovely.ws.status")
    handler = Raising()
    logger.addHandler(handler)
    try:
        app = app_status(timeout=PATIENCE, max_workers=2)
        for n in range(6):  # more than max_workers: a dead thread would be missed
            app.add_handler(f"db{n}", broken)
            report = app.evaluate([f"db{n}"]).as_dict()
            assert report == {f"db{n}": {"state": RED, "detail": "ValueError: db down"}}
    finally:
        logger.removeHandler(handler)
    app.add_handler("ok", fixed(state=OK))
    assert app.evaluate(["ok"]).as_dict() == {"ok": {"state": OK}}


def test_the_threads_of_an_app_that_is_gone_end():
    before = set(pool_threads())
    app = app_status(timeout=PATIENCE, max_workers=3)
    app.add_handler("ok", fixed(state=OK))
    app.evaluate()
    mine = set(pool_threads()) - before
    assert mine
    del app
    gc.collect()
    wait_until(lambda: not any(t.is_alive() for t in mine), "the threads' end")


@pytest.mark.skipif(not hasattr(os, "register_at_fork"), reason="needs os.register_at_fork")
def test_a_child_starts_with_a_fresh_pool_and_lock(hung):
    app = app_status(timeout=0.2)
    blocked = hung()
    addStatusHandler("hung", blocked)
    app.evaluate()  # leaves the hung handler running, past its deadline
    assert app.evaluator.running() == ["hung"]

    def child():
        evaluator = app.evaluator
        return repr((evaluator.running(), evaluator._pool is None,
                     evaluator._lock.locked()))

    assert run_in_child(child) == repr(([], True, False))


# --- StatusEvaluator.call -------------------------------------------------------


def test_a_call_that_raises_system_exit_leaves_the_way_free():
    import sys

    from lovely.ws.status.evaluation import StatusEvaluator

    evaluator = StatusEvaluator()
    assert evaluator.call(lambda: sys.exit(3), PATIENCE) is None
    assert evaluator.call(lambda: "next", PATIENCE) == "next"


def test_calls_at_once_are_bounded():
    import threading

    from lovely.ws.status.evaluation import StatusEvaluator
    from lovely.ws.status.evaluation.calls import MAX_CALLS

    evaluator = StatusEvaluator()
    release = threading.Event()
    entered = []
    threads = []
    try:
        for _ in range(MAX_CALLS):
            thread, _result = in_thread(evaluator.call, lambda: entered.append(1)
                                        or release.wait(PATIENCE), PATIENCE)
            threads.append(thread)
        wait_until(lambda: len(entered) == MAX_CALLS, "every call running")
        # No thread more for code that may hang: the next call is refused.
        assert evaluator.call(lambda: "more", PATIENCE) is None
    finally:
        release.set()
    for thread in threads:
        thread.join(PATIENCE)
    assert evaluator.call(lambda: "again", PATIENCE) == "again"
