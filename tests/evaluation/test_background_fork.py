"""A forked child (a pre-forking server's worker) refreshes its handlers on
its own: the parent's refresher thread did not come along."""
from __future__ import annotations

import os

import pytest

from lovely.ws.status import OK
from lovely.ws.status.handlers import HandlerOptions

from ..helpers import PATIENCE, app_status, wait_until
from ..servers import run_in_child

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")


def by_pid():
    return {"state": OK, "detail": f"pid {os.getpid()}"}


def test_the_child_refreshes_on_its_own():
    app = app_status(timeout=PATIENCE)
    app.add_handler("db", by_pid, HandlerOptions(interval=0.01))
    parent = {"state": OK, "detail": f"pid {os.getpid()}"}
    assert app.evaluate().as_dict() == {"db": parent}

    def child():
        mine = {"state": OK, "detail": f"pid {os.getpid()}"}
        # Its first answer may be the parent's last result; then its own
        # refresher's.
        wait_until(lambda: app.evaluate().as_dict()["db"] == mine, "the child's own result",
                   timeout=PATIENCE / 4)
        thread = app.evaluator.refresher.thread
        return repr([thread is not None and thread.is_alive(), app.evaluate().as_dict()])

    text = run_in_child(child, timeout=PATIENCE / 2)
    assert text.startswith("[True, {'db': {'state': 'OK', 'detail': 'pid ")
    assert f"pid {os.getpid()}'" not in text
    assert app.evaluate().as_dict() == {"db": parent}
