"""Draining on SIGTERM: the handler in this process (real signals), then real
servers (waitress, gunicorn with and without preloading) that answer 503
with the drain text during the window and exit after it."""
from __future__ import annotations

import logging
import os
import signal
import threading
import time

import pytest
from pyramid.config import Configurator
from webtest import TestApp

from lovely.ws.status import drain, probestatus, stores

from .probe_app import gunicorn, request, waitress

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def sigterm():
    """Restore SIGTERM's handler and the drain state after the test."""
    original = signal.getsignal(signal.SIGTERM)
    stores.stop_draining()
    drain._CONFIGURED[0] = None
    yield
    signal.signal(signal.SIGTERM, original)
    stores.stop_draining()
    drain._CONFIGURED[0] = None


class Recorder:
    """A previous handler that notes its calls."""

    def __init__(self):
        self.calls = []
        self.called = threading.Event()

    def __call__(self, signum, frame):
        self.calls.append(signum)
        self.called.set()


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)  # the main thread runs signal handlers between these
    return True


# --- the handler, in this process --------------------------------------------


def test_drain_then_chain_to_the_previous_handler(sigterm, caplog):
    previous = Recorder()
    signal.signal(signal.SIGTERM, previous)
    app = TestApp(Configurator().make_wsgi_app())  # noqa: F841 - a registry exists
    drainer = drain.install_sigterm_handler(0.3, "BYE")
    assert isinstance(drainer, drain.Drainer)
    assert signal.getsignal(signal.SIGTERM) is drainer
    assert drainer.previous is previous

    caplog.set_level(logging.WARNING, logger="lovely.ws.status.drain")
    os.kill(os.getpid(), signal.SIGTERM)
    assert wait_for(lambda: stores.draining_text() == "BYE")
    assert probestatus.MEMORY_STORE.get() == "BYE"
    assert previous.calls == []  # not yet: the process keeps serving
    assert wait_for(previous.called.is_set)
    assert previous.calls == [signal.SIGTERM]
    # The drain is over: the previous handler is back in charge.
    assert signal.getsignal(signal.SIGTERM) is previous
    assert "answering 'BYE' on the probe for 0.3 s" in caplog.text


def test_second_signal_ends_the_drain_at_once(sigterm):
    previous = Recorder()
    signal.signal(signal.SIGTERM, previous)
    drain.install_sigterm_handler(60, "BYE")
    os.kill(os.getpid(), signal.SIGTERM)
    assert wait_for(lambda: stores.draining_text() == "BYE")
    assert not previous.called.is_set()
    os.kill(os.getpid(), signal.SIGTERM)
    assert wait_for(previous.called.is_set)
    assert previous.calls == [signal.SIGTERM]


def test_ignored_signal_stays_ignored(sigterm, caplog):
    caplog.set_level(logging.WARNING, logger="lovely.ws.status.drain")
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    drainer = drain.install_sigterm_handler(0.05, "BYE")
    os.kill(os.getpid(), signal.SIGTERM)
    assert wait_for(lambda: stores.draining_text() == "BYE")
    assert wait_for(lambda: "drain over" in caplog.text)
    # The process was not terminated: it ignored SIGTERM before, so it still
    # does, and keeps answering the drain text.
    assert signal.getsignal(signal.SIGTERM) is drainer
    assert stores.draining_text() == "BYE"


def test_installing_twice_updates_instead_of_stacking(sigterm):
    first = drain.install_sigterm_handler(5, "A")
    second = drain.install_sigterm_handler(7, "B")
    assert first is second
    assert (second.seconds, second.text) == (7, "B")
    assert not isinstance(second.previous, drain.Drainer)


def test_not_in_the_main_thread(sigterm, caplog):
    found = []
    thread = threading.Thread(
        target=lambda: found.append(drain.install_sigterm_handler(5))
    )
    thread.start()
    thread.join()
    assert found == [None]
    assert "cannot drain on signal" in caplog.text
    assert not isinstance(signal.getsignal(signal.SIGTERM), drain.Drainer)


@pytest.mark.parametrize(
    "seconds, text", [(0, "BYE"), (-1, "BYE"), (5, "OK"), (5, "a\nb")]
)
def test_bad_arguments(sigterm, seconds, text):
    with pytest.raises(ValueError):
        drain.install_sigterm_handler(seconds, text)


def test_post_worker_init_reinstalls_the_last_configuration(sigterm):
    assert drain.post_worker_init(object()) is None  # nothing configured
    drain.install_sigterm_handler(3, "LATER")
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # what a gunicorn worker does
    drainer = drain.post_worker_init(object())
    assert signal.getsignal(signal.SIGTERM) is drainer
    assert (drainer.seconds, drainer.text) == (3, "LATER")


def test_settings_install_the_handler(sigterm):
    config = Configurator(settings={"probestatus.drain_seconds": "2.5",
                                    "probestatus.drain_text": "SHUTTING DOWN"})
    config.include("lovely.ws.status.probestatus")
    config.commit()
    drainer = signal.getsignal(signal.SIGTERM)
    assert isinstance(drainer, drain.Drainer)
    assert (drainer.seconds, drainer.text) == (2.5, "SHUTTING DOWN")


def test_no_handler_without_the_setting(sigterm):
    config = Configurator()
    config.include("lovely.ws.status.probestatus")
    config.commit()
    assert not isinstance(signal.getsignal(signal.SIGTERM), drain.Drainer)


def test_draining_overrides_every_store_but_writes_none(sigterm, tmp_path):
    path = tmp_path / "probe"
    config = Configurator(settings={"probestatus.store": f"file://{path}"})
    config.include("lovely.ws.status.probestatus")
    app = TestApp(config.make_wsgi_app())
    app.post("/probe_status?body=MAINTENANCE")
    stores.start_draining("DRAINING")
    assert app.get("/probe_status", status=503).text == "DRAINING"
    assert path.read_text() == "MAINTENANCE"  # the shared store is untouched
    # A POST still changes the store; this process keeps answering the drain.
    assert app.post("/probe_status").text == "OK"
    assert app.get("/probe_status", status=503).text == "DRAINING"
    assert probestatus.MEMORY_STORE.get() == "DRAINING"
    stores.stop_draining()
    assert app.get("/probe_status").text == "OK"


# --- real servers -----------------------------------------------------------


def drain_and_exit(server, timeout=40.0):
    """SIGTERM the server; the answers seen until it stops listening."""
    seen = []
    server.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while server.proc.poll() is None and time.monotonic() < deadline:
        try:
            seen.append(request(server.port))
        except OSError:
            pass  # between the last answer and the exit
        time.sleep(0.05)
    server.proc.wait(timeout)
    return seen


def test_waitress_process_drains_then_terminates(tmp_path):
    path = tmp_path / "probe"
    settings = {"probestatus.drain_seconds": 2, "probestatus.store": f"file://{path}"}
    with waitress(settings) as server:
        assert request(server.port).status == 200
        seen = drain_and_exit(server)
        assert (503, "DRAINING") in {(a.status, a.text) for a in seen}, server.log()
        assert server.proc.returncode == -signal.SIGTERM  # the default action, later
        assert "answering 'DRAINING' on the probe for 2" in server.log()
    assert not path.exists()  # the drain never touched the shared store


@pytest.mark.parametrize("preload", [False, True], ids=["plain", "preload+hook"])
def test_gunicorn_workers_drain_then_exit(tmp_path, preload):
    extra = []
    if preload:
        conf = tmp_path / "gunicorn.conf.py"
        conf.write_text("from lovely.ws.status.drain import post_worker_init  # noqa\n"
                        "preload_app = True\n")
        extra = ["--config", str(conf)]
    settings = {"probestatus.drain_seconds": 2, "probestatus.drain_text": "BYE"}
    with gunicorn(settings, workers=2, extra=extra) as server:
        workers = server.pids(2)
        seen = drain_and_exit(server)
        draining = [a for a in seen if (a.status, a.text) == (503, "BYE")]
        assert draining, server.log()
        assert {a.pid for a in draining} <= workers
        assert not [a for a in seen if a.status not in (200, 503)]
        assert server.proc.returncode == 0


def test_uninstall_puts_back_the_previous_handler(sigterm):
    previous = Recorder()
    signal.signal(signal.SIGTERM, previous)
    assert drain.uninstall_sigterm_handler() is False  # nothing to remove
    drain.install_sigterm_handler(5, "BYE")
    assert drain.uninstall_sigterm_handler() is True
    assert signal.getsignal(signal.SIGTERM) is previous
    assert drain.post_worker_init(object()) is None  # forgotten too
