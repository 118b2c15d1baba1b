"""Concurrent requests share the runs in flight: a handler that one request
is running, or is about to run, is joined by the others instead of being
started again."""
from __future__ import annotations

import threading

import pytest

from lovely.ws.status import OK, RED, YELLOW
from lovely.ws.status.evaluation.job import NOT_RUN
from lovely.ws.status.handlers import HandlerOptions

from ..helpers import PATIENCE, app_status, fixed, in_thread, wait_until

#: How long a hook that provokes a race gives the other request to go
#: wrong. A correct evaluator makes that request wait; on a slow machine
#: the window may be too short to catch a broken one, never too short for
#: a correct one.
RACE_WINDOW = 0.3


def markers(app, n):
    """Handlers ``mark0`` .. : each sets its event when it runs, which is
    after the plan of the request that runs it (what it shares is known)."""
    events = [threading.Event() for _ in range(n)]
    for k, event in enumerate(events):
        app.add_handler(f"mark{k}", lambda event=event: event.set() or {"state": OK})
    return events


def test_concurrent_requests_share_a_slow_run(blocked):
    blocked.status = {"state": YELLOW, "detail": "slow but fine"}
    app = app_status(timeout=PATIENCE)
    app.add_handler("slow", blocked)
    planned = markers(app, 3)
    first, out = in_thread(app.evaluate, ["slow"])
    assert blocked.entered.wait(PATIENCE)
    others = [in_thread(app.evaluate, ["slow", f"mark{k}"]) for k in range(3)]
    for event in planned:
        assert event.wait(PATIENCE)
    blocked.release.set()
    for thread, _ in [(first, out)] + others:
        thread.join(PATIENCE)
    reports = [out[0]] + [o[0] for _, o in others]
    assert [r.statuses[0] for r in reports] == [blocked.status] * 4
    assert all(r.statuses[0] is blocked.status for r in reports)
    assert len({r.durations[0] for r in reports}) == 1  # the one run's
    assert blocked.calls == 1


def test_simultaneous_first_requests_share_one_run(blocked):
    app = app_status(timeout=0.2)
    app.add_handler("hung", blocked)
    app.add_handler("ok", fixed(state=OK))
    for _ in range(3):
        barrier = threading.Barrier(8)
        reports = []

        def client(barrier=barrier, reports=reports):
            barrier.wait(PATIENCE)
            reports.append(app.evaluate())

        threads = [threading.Thread(target=client) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(PATIENCE)
        assert [r.as_dict()["ok"] for r in reports] == [{"state": OK}] * 8
        assert {r.as_dict()["hung"]["state"] for r in reports} == {RED}
    assert blocked.calls == 1


def test_requests_arriving_while_one_waits_share_its_run(blocked):
    app = app_status(timeout=0.5)
    app.add_handler("hung", blocked)
    app.add_handler("ok", fixed(state=OK))
    first, _ = in_thread(app.evaluate)
    assert blocked.entered.wait(PATIENCE)
    others = [in_thread(app.evaluate) for _ in range(10)]
    for thread, _ in others + [(first, None)]:
        thread.join(PATIENCE)
    reports = [out[0].as_dict() for _, out in others]
    assert [r["hung"]["state"] for r in reports] == [RED] * 10
    assert [r["ok"] for r in reports] == [{"state": OK}] * 10
    assert blocked.calls == 1


def _provoke_in_plan(evaluator, second):
    """Run ``second()`` while ``evaluator`` plans: when it first walks the
    names (which it does while it plans, with options)."""
    class Names(list):
        provoked = False

        def __iter__(self):
            if not Names.provoked:
                Names.provoked = True
                second()
            return list.__iter__(self)

    return Names


def _provoke_in_start(evaluator, second, monkeypatch):
    """Run ``second()`` when ``evaluator`` hands its first walker to the pool."""
    pool = evaluator.pool
    original = pool.submit
    provoked = []

    def submit(task, force=False):
        if not provoked:
            provoked.append(True)
            second()
        return original(task, force)

    monkeypatch.setattr(pool, "submit", submit)


@pytest.mark.parametrize("moment", ["plan", "start"])
def test_a_request_arriving_while_another_plans_or_starts_shares_its_run(
        blocked, monkeypatch, moment):
    # Between a request's look at the runs in flight and its first walker
    # (starting a pool thread lets other threads run), another request
    # must not decide on its own: it would start the same handler again.
    evaluator = app_status(timeout=PATIENCE).evaluator
    planned = threading.Event()
    options = [HandlerOptions(timeout=PATIENCE)] * 2
    seconds = []

    def second():
        names = ["hung", "mark"]
        handlers = [blocked, lambda: planned.set() or {"state": OK}]
        seconds.append(in_thread(evaluator.evaluate, names, handlers, options))
        seconds[0][0].join(RACE_WINDOW)  # it decides now, or waits for us

    names = ["hung"]
    if moment == "plan":
        names = _provoke_in_plan(evaluator, second)(names)
    else:
        _provoke_in_start(evaluator, second, monkeypatch)
    first, out = in_thread(evaluator.evaluate, names, [blocked], options[:1])
    assert blocked.entered.wait(PATIENCE)
    assert planned.wait(PATIENCE)
    blocked.release.set()
    first.join(PATIENCE)
    seconds[0][0].join(PATIENCE)
    released = {"state": OK, "detail": "released"}
    assert out[0].as_dict() == {"hung": released}
    assert seconds[0][1][0].as_dict() == {"hung": released, "mark": {"state": OK}}
    assert blocked.calls == 1


def test_a_handler_given_up_on_before_it_started_is_not_shared(hung):
    # The first request gives up on "next" while both threads hang in the
    # others: it was never started, so it is not "still running", and the
    # next request runs it.
    calls = []

    def next_handler():
        calls.append(1)
        return {"state": OK}

    handlers = [hung(), hung()]
    app = app_status(timeout=0.2, max_workers=2)
    app.add_handler("hung0", handlers[0])
    app.add_handler("hung1", handlers[1])
    app.add_handler("next", next_handler)
    first = app.evaluate().as_dict()
    assert first["next"] == {"state": RED, "detail": NOT_RUN["detail"]}
    assert calls == []
    assert "next" not in app.evaluator.in_flight()
    app.add_handler("next", next_handler, HandlerOptions(timeout=PATIENCE))
    assert app.evaluate().as_dict()["next"] == {"state": OK}
    assert calls == [1]
    report = app.evaluate().as_dict()
    assert report["next"] == {"state": OK}
    assert [h.calls for h in handlers] == [1, 1]
    assert {s["state"] for name, s in report.items() if name != "next"} == {RED}


def test_the_run_of_a_replaced_handler_does_not_hide_the_run_of_its_successor(hung):
    old = hung({"state": OK, "detail": "old"})
    new = hung({"state": OK, "detail": "new"})
    app = app_status(timeout=PATIENCE)
    planned = markers(app, 1)
    app.add_handler("x", old)
    first, _ = in_thread(app.evaluate, ["x"])
    assert old.entered.wait(PATIENCE)
    app.add_handler("x", new)
    second, _ = in_thread(app.evaluate, ["x"])
    assert new.entered.wait(PATIENCE)
    # A third request sees both runs in flight; it must share the new one.
    third, out = in_thread(app.evaluate, ["x", "mark0"])
    assert planned[0].wait(PATIENCE)
    new.release.set()
    old.release.set()
    for thread in (first, second, third):
        thread.join(PATIENCE)
    assert out[0].as_dict()["x"] == {"state": OK, "detail": "new"}
    assert (old.calls, new.calls) == (1, 1)


def test_sharing_a_run_does_not_stretch_a_requests_own_deadline(blocked):
    # The run was started under a longer timeout; the request that shares
    # it still answers at its own deadline, while the first one waits on.
    app = app_status()
    app.add_handler("x", blocked, HandlerOptions(timeout=PATIENCE))
    first, out = in_thread(app.evaluate)
    wait_until(lambda: app.evaluator.in_flight() == ["x"])
    app.add_handler("x", blocked, HandlerOptions(timeout=0.1))
    report = app.evaluate().as_dict()
    assert first.is_alive()
    assert out == []
    assert report == {"x": {"state": RED, "detail": "timed out after 0.1 seconds"}}
    assert blocked.calls == 1
    blocked.release.set()
    first.join(PATIENCE)
    assert out[0].as_dict() == {"x": {"state": OK, "detail": "released"}}
