"""The events notified after every ``/__heartbeat__``."""
from __future__ import annotations

from lovely.ws.status import OK, RED, YELLOW, addStatusHandler
from lovely.ws.status.dockerflow import HeartbeatFailed, HeartbeatPassed, IHeartbeatEvent

from ..helpers import fixed, make_app

DOCKERFLOW = "lovely.ws.status.dockerflow"


def collecting_app(settings=None):
    """An app whose heartbeat events are appended to the list returned with it."""
    events = []

    def setup(config):
        config.add_subscriber(events.append, IHeartbeatEvent)

    return make_app(DOCKERFLOW, settings=settings, setup=setup), events


def test_passed_event():
    addStatusHandler("db", fixed(state=OK))
    app, events = collecting_app()
    app.get("/__heartbeat__", status=200)
    [event] = events
    assert type(event) is HeartbeatPassed
    assert event.level == 0
    assert event.checks == {"db": "ok"}
    assert event.request.path == "/__heartbeat__"
    assert event.status_code == 200


def test_a_warning_still_passes():
    addStatusHandler("db", fixed(state=OK))
    addStatusHandler("disk", fixed(state=YELLOW, detail="getting full"))
    app, events = collecting_app()
    app.get("/__heartbeat__", status=200)
    [event] = events
    assert isinstance(event, HeartbeatPassed)
    assert event.level == 30
    assert event.checks == {"db": "ok", "disk": "warning"}
    assert event.details["disk"]["detail"] == "getting full"


def test_failed_event_has_the_status_code_sent():
    addStatusHandler("db", fixed(state=RED, detail="down"))
    addStatusHandler("disk", fixed(state=YELLOW))
    app, events = collecting_app({"dockerflow.heartbeat_failed_status": 503})
    app.get("/__heartbeat__", status=503)
    [event] = events
    assert isinstance(event, HeartbeatFailed)
    assert event.level == 40
    assert event.checks == {"db": "error", "disk": "warning"}
    assert event.status_code == 503


def test_subscribers_by_event_class():
    passed, failed = [], []

    def setup(config):
        config.add_subscriber(passed.append, HeartbeatPassed)
        config.add_subscriber(failed.append, HeartbeatFailed)

    app = make_app(DOCKERFLOW, setup=setup)
    app.get("/__heartbeat__", status=200)
    addStatusHandler("db", fixed(state=RED))
    app.get("/__heartbeat__", status=500)
    app.head("/__heartbeat__", status=500)
    assert [e.level for e in passed] == [0]
    assert [e.level for e in failed] == [40, 40]


def test_lbheartbeat_and_version_notify_nothing():
    app, events = collecting_app()
    app.get("/__lbheartbeat__")
    app.get("/__version__", expect_errors=True)
    assert events == []
