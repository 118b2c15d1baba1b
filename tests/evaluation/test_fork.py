"""A forked child (a pre-forking server's worker) evaluates on its own: the
parent's threads and runs in flight did not come along."""
from __future__ import annotations

import os

import pytest

from lovely.ws.status import OK, YELLOW, addStatusHandler

from ..helpers import PATIENCE, app_status, fixed, in_thread
from ..servers import run_in_child

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")


def test_works_in_a_forked_child():
    app = app_status(timeout=PATIENCE)
    addStatusHandler("x", fixed(state=OK, detail="parent"))
    assert app.evaluate().as_dict() == {"x": {"state": OK, "detail": "parent"}}

    def child():
        addStatusHandler("x", fixed(state=YELLOW, detail="child"))
        return repr([app.evaluate().as_dict() for _ in range(2)])

    text = run_in_child(child)
    assert text == repr([{"x": {"state": YELLOW, "detail": "child"}}] * 2)
    assert app.evaluate().as_dict() == {"x": {"state": OK, "detail": "parent"}}


def test_a_child_forked_during_a_request_does_not_wait_for_the_parents_run(blocked):
    # The walker inside the handler stays behind in the parent: the child
    # must run the handler itself, not wait for (or report) the parent's
    # run, which never ends there.
    app = app_status(timeout=PATIENCE)
    addStatusHandler("hung", blocked)
    request, _ = in_thread(app.evaluate)
    assert blocked.entered.wait(PATIENCE)

    def child():
        blocked.release.set()  # the child's copy of the handler returns at once
        return repr([app.evaluate().as_dict()["hung"] for _ in range(2)])

    try:
        text = run_in_child(child, timeout=PATIENCE / 2)
    finally:
        blocked.release.set()
        request.join(PATIENCE)
    released = {"state": OK, "detail": "released"}
    assert text == repr([released, released])
    assert blocked.calls == 1  # in the parent
