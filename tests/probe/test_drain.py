"""Draining on SIGTERM: the handler in this process (real signals), what the
app answers meanwhile, and a real waitress process that answers 503 with the
drain text during the window and exits after it. (gunicorn: test_gunicorn.)"""
from __future__ import annotations

import logging
import os
import signal
import threading

import pytest

from lovely.ws.status.appstatus import get_app_status
from lovely.ws.status.probe import drain

from ..helpers import PATIENCE, make_app, wait_until
from ..servers import request
from .app import drain_and_exit, waitress

PROBE = "lovely.ws.status.probestatus"


def draining_app(seconds, text="BYE", **settings):
    """A probe app with ``probestatus.drain_seconds``; ``.drainer`` is its drainer."""
    settings.update({"probestatus.drain_seconds": str(seconds),
                     "probestatus.drain_text": text})
    app = make_app(PROBE, settings=settings)
    app.drainer = get_app_status(app.app.registry).drainer
    return app


def sigterm_self():
    os.kill(os.getpid(), signal.SIGTERM)


# --- the handler, in this process ----------------------------------------------


def test_the_app_answers_the_drain_text_until_the_signal_takes_its_course(recorder):
    app = draining_app(PATIENCE)
    drainer = app.drainer
    assert isinstance(drainer, drain.Drainer)
    assert signal.getsignal(signal.SIGTERM) is drainer
    assert drainer.previous is recorder
    assert app.get("/probe_status").text == "OK"

    sigterm_self()
    wait_until(lambda: drainer.draining, "the drain")
    response = app.get("/probe_status", status=503)
    assert response.text == "BYE"
    assert app.head("/probe_status", status=503).headers["Cache-Control"] == "no-store"
    assert recorder.calls == []  # the process keeps serving

    # A second signal ends the drain at once: the previous handler runs and
    # is back in charge.
    sigterm_self()
    wait_until(recorder.called.is_set, "the previous handler")
    assert recorder.calls == [signal.SIGTERM]
    assert signal.getsignal(signal.SIGTERM) is recorder


def test_the_drain_ends_by_itself_and_chains_to_the_previous_handler(recorder, caplog):
    caplog.set_level(logging.WARNING, logger="lovely.ws.status.drain")
    drainer = drain.install_sigterm_handler(0.05, "BYE")
    sigterm_self()
    wait_until(recorder.called.is_set, "the previous handler")
    assert drainer.draining
    assert recorder.calls == [signal.SIGTERM]
    assert signal.getsignal(signal.SIGTERM) is recorder
    assert "answering 'BYE' on the probe for 0.05 s" in caplog.text
    assert "drain over" in caplog.text


def test_ignored_signal_stays_ignored(sigterm, caplog):
    caplog.set_level(logging.WARNING, logger="lovely.ws.status.drain")
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    app = draining_app(0.05)
    sigterm_self()
    wait_until(lambda: "drain over" in caplog.text, "the end of the drain")
    # The process was not terminated: it ignored SIGTERM before, so it still
    # does, and keeps answering the drain text.
    assert signal.getsignal(signal.SIGTERM) is app.drainer
    assert app.get("/probe_status", status=503).text == "BYE"


def test_installing_twice_updates_instead_of_stacking(sigterm):
    first = drain.install_sigterm_handler(5, "A")
    second = drain.install_sigterm_handler(7, "B")
    assert first is second
    assert (second.seconds, second.text) == (7, "B")
    assert not isinstance(second.previous, drain.Drainer)


def test_apps_of_one_process_share_its_drainer(sigterm):
    first = draining_app(5, "A")
    second = draining_app(7, "B")
    assert first.drainer is second.drainer
    assert (first.drainer.seconds, first.drainer.text) == (7, "B")


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
    "seconds, text",
    [(0, "BYE"), (-1, "BYE"), (5, "OK"), (5, "a\nb")],
)
def test_bad_arguments(sigterm, seconds, text):
    with pytest.raises(ValueError):
        drain.install_sigterm_handler(seconds, text)
    assert not isinstance(signal.getsignal(signal.SIGTERM), drain.Drainer)


def test_seconds_too_long_for_the_timer_are_refused(sigterm):
    # Longer than a thread's timer can wait: the SIGTERM would raise
    # OverflowError instead of draining.
    with pytest.raises(ValueError, match="seconds"):
        drain.install_sigterm_handler(1e10)


def test_settings_install_the_handler(sigterm):
    app = draining_app(2.5, "SHUTTING DOWN")
    drainer = signal.getsignal(signal.SIGTERM)
    assert drainer is app.drainer
    assert (drainer.seconds, drainer.text) == (2.5, "SHUTTING DOWN")


def test_no_handler_without_the_setting(sigterm):
    app = make_app(PROBE)
    assert get_app_status(app.app.registry).drainer is None
    assert not isinstance(signal.getsignal(signal.SIGTERM), drain.Drainer)


def test_draining_overrides_the_store_but_writes_nothing(sigterm, tmp_path):
    path = tmp_path / "probe"
    app = draining_app(5, "DRAINING", **{"probestatus.store": f"file://{path}"})
    app.post("/probe_status?body=MAINTENANCE")
    app.drainer.draining = True
    assert app.get("/probe_status", status=503).text == "DRAINING"
    assert path.read_text() == "MAINTENANCE"  # the shared store is untouched
    # A POST still changes the store; this process keeps answering the drain.
    assert app.post("/probe_status").text == "OK"
    assert path.read_text() == "OK"
    assert app.get("/probe_status", status=503).text == "DRAINING"


def test_uninstall_puts_back_the_previous_handler(recorder):
    assert drain.uninstall_sigterm_handler() is False  # nothing to remove
    drain.install_sigterm_handler(5, "BYE")
    assert drain.uninstall_sigterm_handler() is True
    assert signal.getsignal(signal.SIGTERM) is recorder


def test_uninstall_leaves_a_drain_in_progress_alone(recorder):
    drainer = drain.install_sigterm_handler(PATIENCE, "BYE")
    sigterm_self()
    wait_until(lambda: drainer.draining, "the drain")
    assert drain.uninstall_sigterm_handler() is False
    assert signal.getsignal(signal.SIGTERM) is drainer
    sigterm_self()  # end it
    wait_until(recorder.called.is_set, "the previous handler")


# --- a real server ----------------------------------------------------------------


@pytest.mark.server
@pytest.mark.timeout(180)
def test_waitress_process_drains_then_terminates(tmp_path):
    path = tmp_path / "probe"
    settings = {"probestatus.drain_seconds": 3, "probestatus.store": f"file://{path}"}
    with waitress(settings) as server:
        assert request(server.port).status == 200
        seen = drain_and_exit(server)
        assert (503, "DRAINING") in {(a.status, a.text) for a in seen}, server.log()
        assert server.proc.returncode == -signal.SIGTERM  # the default action, later
        assert "answering 'DRAINING' on the probe for 3" in server.log()
    assert not path.exists()  # the drain never touched the shared store
