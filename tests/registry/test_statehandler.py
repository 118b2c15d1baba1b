"""StateHandlerMixin: objects that keep their own state."""
from __future__ import annotations

import logging
import threading

from pyramid.config import Configurator
from webtest import TestApp

from lovely.ws.status import RED, YELLOW, addStatusHandler, getStatus, isInState
from lovely.ws.status.statehandler import StateHandlerMixin

LOGGER = "tests.statehandler"


class Worker(StateHandlerMixin):
    """No __init__ of the mixin is called: the mixin must not need one."""

    def __init__(self, name):
        self.name = name


class LoggingWorker(StateHandlerMixin, threading.Thread):
    logger = logging.getLogger(LOGGER)

    def __init__(self):
        threading.Thread.__init__(self, daemon=True)


def test_importable_from_the_package():
    from lovely.ws import status

    assert status.StateHandlerMixin is StateHandlerMixin


def test_empty_before_the_first_state():
    worker = Worker("w")
    assert worker() == {}


def test_set_state_builds_the_dict():
    worker = Worker("w")
    worker.setState("OK")
    assert worker() == {"state": "OK"}
    worker.setState(RED, detail="stopped", since=3, labels={"queue": 5})
    assert worker() == {
        "state": "RED", "detail": "stopped", "since": 3, "labels": {"queue": 5}
    }


def test_keys_of_the_previous_call_do_not_survive():
    worker = Worker("w")
    worker.setState(YELLOW, detail="slow", extra=1)
    worker.setState(YELLOW)
    assert worker() == {"state": "YELLOW"}


def test_instances_do_not_share_state():
    a, b = Worker("a"), Worker("b")
    a.setState(RED)
    assert b() == {}
    assert a() == {"state": "RED"}


def test_logger_is_none_by_default(caplog):
    assert StateHandlerMixin.logger is None
    worker = Worker("w")
    with caplog.at_level(logging.DEBUG):
        worker.setState(RED, detail="x")
    assert caplog.records == []


def test_log_message_of_the_first_state(caplog):
    worker = LoggingWorker()
    with caplog.at_level(logging.INFO, logger=LOGGER):
        worker.setState("OK")
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        (LOGGER, logging.INFO, 'state change: None -> OK "None"')
    ]


def test_log_message_exact(caplog):
    worker = LoggingWorker()
    worker.setState("OK")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=LOGGER):
        worker.setState("RED", detail="stopped")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ['state change: OK -> RED "stopped"']
    assert caplog.records[0].levelname == "INFO"


def test_no_log_when_the_state_value_stays(caplog):
    worker = LoggingWorker()
    with caplog.at_level(logging.INFO, logger=LOGGER):
        worker.setState("RED", detail="stopped")
        worker.setState("RED", detail="still stopped")
        worker.setState("RED")
        worker.setState("YELLOW", detail="starting")
    assert [r.getMessage() for r in caplog.records] == [
        'state change: None -> RED "stopped"',
        'state change: RED -> YELLOW "starting"',
    ]
    assert worker() == {"state": "YELLOW", "detail": "starting"}


def test_detail_with_percent_signs_is_logged_verbatim(caplog):
    worker = LoggingWorker()
    with caplog.at_level(logging.INFO, logger=LOGGER):
        worker.setState("YELLOW", detail="disk 95% full %s")
    message = caplog.records[0].getMessage()
    assert message == 'state change: None -> YELLOW "disk 95% full %s"'


def test_logger_set_on_the_instance(caplog):
    worker = Worker("w")
    worker.logger = logging.getLogger(LOGGER + ".instance")
    with caplog.at_level(logging.INFO):
        worker.setState("OK", detail="up")
    assert [(r.name, r.getMessage()) for r in caplog.records] == [
        (LOGGER + ".instance", 'state change: None -> OK "up"')
    ]


def test_a_registered_instance_is_a_handler():
    worker = Worker("w")
    worker.setState(YELLOW, detail="warming up")
    addStatusHandler("worker", worker)
    assert getStatus("worker") == {"state": "YELLOW", "detail": "warming up"}
    assert isInState("worker", YELLOW)


def test_a_thread_reports_through_svc_status():
    ready = threading.Event()

    class Job(LoggingWorker):
        def run(self):
            self.setState("OK", detail="running")
            ready.set()

    job = Job()
    addStatusHandler("job", job)
    config = Configurator()
    config.include("lovely.ws.status.svcstatus")
    app = TestApp(config.make_wsgi_app())
    # before the thread runs: {} is not a valid status and shows as RED
    assert app.get("/svc_status").text.startswith("job\tRED\t")
    job.start()
    assert ready.wait(5)
    job.join(5)
    assert app.get("/svc_status").text == "job\tOK\trunning"
    expected = {"job": {"state": "OK", "detail": "running"}}
    assert app.get("/svc_status.json").json == expected
