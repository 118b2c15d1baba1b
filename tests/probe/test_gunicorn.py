"""The probe under gunicorn: the file store switches every worker (even one
started later), the memory store, as in 1.0, only the worker that got the
POST; workers drain on SIGTERM, with ``preload_app`` thanks to
:func:`lovely.ws.status.gunicorn.post_worker_init`."""
from __future__ import annotations

import gc
import os
import signal
import time

import pytest

from lovely.ws.status.appstatus import get_app_status
from lovely.ws.status.gunicorn import post_worker_init
from lovely.ws.status.probe import drain

from ..helpers import PATIENCE, make_app, wait_until
from ..servers import many, request
from .app import drain_and_exit, gunicorn

PROBE = "lovely.ws.status.probestatus"


# --- post_worker_init, in this process ----------------------------------------


def test_post_worker_init_reinstalls_the_drain_of_the_apps(recorder):
    # Apps of earlier tests that are garbage but not yet collected would
    # count as apps of this process.
    gc.collect()
    app = make_app(PROBE, settings={"probestatus.drain_seconds": "3",
                                    "probestatus.drain_text": "LATER"})
    other = make_app(PROBE)
    drainer = get_app_status(app.app.registry).drainer
    # What a gunicorn worker does after the fork: its own SIGTERM handler.
    worker_exit = recorder
    signal.signal(signal.SIGTERM, worker_exit)

    assert post_worker_init(object()) == [drainer]
    assert signal.getsignal(signal.SIGTERM) is drainer
    assert (drainer.seconds, drainer.text) == (3, "LATER")
    assert drainer.previous is worker_exit  # called when the drain is over
    assert get_app_status(other.app.registry).drainer is None

    # Harmless when the drain is in place already (no preloading).
    assert post_worker_init(object()) == [drainer]
    assert drainer.previous is worker_exit


def test_post_worker_init_gives_every_app_the_one_drainer_of_the_process(recorder):
    gc.collect()
    first = make_app(PROBE, settings={"probestatus.drain_seconds": "3"})
    drain.uninstall_sigterm_handler()
    # A drain configured anew: a second drainer, while the first app keeps
    # its own.
    second = make_app(PROBE, settings={"probestatus.drain_seconds": str(PATIENCE),
                                       "probestatus.drain_text": "BYE"})
    worker_exit = recorder  # the worker's own handler, as above
    signal.signal(signal.SIGTERM, worker_exit)

    [drainer] = post_worker_init(object())
    assert drainer is get_app_status(second.app.registry).drainer  # the newest
    assert get_app_status(first.app.registry).drainer is drainer
    assert drainer.previous is worker_exit  # not the other drainer

    os.kill(os.getpid(), signal.SIGTERM)
    wait_until(lambda: drainer.draining, "the drain")
    assert first.get("/probe_status", status=503).text == "BYE"
    assert second.get("/probe_status", status=503).text == "BYE"
    os.kill(os.getpid(), signal.SIGTERM)  # the end of the one drain
    wait_until(worker_exit.called.is_set, "the worker's handler")
    assert worker_exit.calls == [signal.SIGTERM]


def test_post_worker_init_without_a_drain_does_nothing(sigterm):
    gc.collect()
    make_app(PROBE)
    before = signal.getsignal(signal.SIGTERM)
    assert post_worker_init(object()) == []
    assert signal.getsignal(signal.SIGTERM) is before


# --- real gunicorn ------------------------------------------------------------

def newcomers(server, known):
    """Answers of workers not in ``known``, once there are any."""
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        found = [a for a in many(server.port, 40) if a.pid not in known]
        if found:
            return found
    raise AssertionError(f"no worker besides {known} answered\n{server.log()}")


@pytest.mark.server
@pytest.mark.timeout(240)
def test_file_store_switches_every_worker(tmp_path):
    path = tmp_path / "probe"
    with gunicorn({"probestatus.store": f"file://{path}"}, workers=4) as server:
        workers = server.workers

        answer = request(server.port, "POST", "/probe_status?body=OFF")
        assert (answer.status, answer.text) == (200, "OFF")
        answers = many(server.port, 200)
        assert {(a.status, a.text) for a in answers} == {(503, "OFF")}
        assert len({a.pid for a in answers}) >= 2, "one worker answered everything"
        assert {a.pid for a in answers} <= workers

        # A worker started now reads the same file.
        os.kill(server.proc.pid, signal.SIGTTIN)
        assert {(a.status, a.text) for a in newcomers(server, workers)} == {(503, "OFF")}

        answer = request(server.port, "POST")
        assert (answer.status, answer.text) == (200, "OK")
        answers = many(server.port, 200)
        assert {(a.status, a.text) for a in answers} == {(200, "OK")}
        assert len({a.pid for a in answers}) >= 2


@pytest.mark.server
@pytest.mark.timeout(240)
def test_memory_store_switches_only_one_worker():
    """1.0's behaviour, kept as the default: each worker has its own text."""
    with gunicorn({}, workers=4) as server:
        answer = request(server.port, "POST", "/probe_status?body=OFF")
        assert answer.status == 200
        switched = answer.pid

        answers = many(server.port, 200)
        others = [a for a in answers if a.pid != switched]
        assert others, "only the switched worker answered"
        assert {(a.status, a.text) for a in others} == {(200, "OK")}
        mine = [a for a in answers if a.pid == switched]
        deadline = time.monotonic() + PATIENCE
        while not mine and time.monotonic() < deadline:
            mine = [a for a in many(server.port, 40) if a.pid == switched]
        assert mine, "the switched worker never answered"
        assert {(a.status, a.text) for a in mine} == {(503, "OFF")}


@pytest.mark.server
@pytest.mark.timeout(240)
@pytest.mark.parametrize("preload", [False, True], ids=["plain", "preload+hook"])
def test_workers_drain_then_exit(tmp_path, preload):
    extra = []
    if preload:
        conf = tmp_path / "gunicorn.conf.py"
        conf.write_text("from lovely.ws.status.gunicorn import post_worker_init  # noqa\n"
                        "preload_app = True\n")
        extra = ["--config", str(conf)]
    settings = {"probestatus.drain_seconds": 3, "probestatus.drain_text": "BYE"}
    with gunicorn(settings, workers=2, extra=extra) as server:
        seen = drain_and_exit(server)
        draining = [a for a in seen if (a.status, a.text) == (503, "BYE")]
        assert draining, server.log()
        assert {a.pid for a in draining} <= server.workers
        assert not [a for a in seen if a.status not in (200, 503)]
        assert server.proc.returncode == 0
