"""``/__heartbeat__``: ``?group=NAME`` and ``dockerflow.heartbeat_group``,
non-critical handlers, and the details rule of ``svcstatus.show_details``."""
from __future__ import annotations

import pytest
from pyramid.exceptions import ConfigurationError

from lovely.ws.status import OK, RED, YELLOW, addStatusHandler
from lovely.ws.status.appstatus import get_app_status
from lovely.ws.status.dockerflow import HeartbeatPassed, IHeartbeatEvent, checks

from ..helpers import UserPolicy, fixed, make_app
from ..servers import needs_pyramid2

DOCKERFLOW = "lovely.ws.status.dockerflow"


def handlers():
    addStatusHandler("db", fixed(state=RED, detail="refused"))
    addStatusHandler("ping", fixed(state=OK), groups=["liveness"])
    addStatusHandler("mail", fixed(state=RED, detail="smtp down"), critical=False,
                     groups=["liveness", "readiness"])


def test_group_from_the_query():
    handlers()
    app = make_app(DOCKERFLOW)
    assert app.get("/__heartbeat__?group=liveness", status=200).json == {
        "status": "warning",
        "checks": {"mail": "error", "ping": "ok"},
        "details": {"mail": {"status": "error", "level": 40, "detail": "smtp down",
                             "critical": False}},
    }
    assert app.get("/__heartbeat__?group=readiness", status=500).json["checks"] == {
        "db": "error", "mail": "error"}
    assert app.get("/__heartbeat__", status=500).json["status"] == "error"


def test_a_group_that_does_not_exist_is_404():
    handlers()
    response = make_app(DOCKERFLOW).get("/__heartbeat__?group=nothing", status=404)
    assert response.json == {"error": "no status handler group 'nothing'"}
    assert response.headers["Cache-Control"] == "no-store"


def test_group_from_the_settings_and_the_query_wins():
    handlers()
    app = make_app(DOCKERFLOW, settings={"dockerflow.heartbeat_group": "liveness"})
    assert app.get("/__heartbeat__", status=200).json["checks"] == {"mail": "error",
                                                                   "ping": "ok"}
    assert app.get("/__heartbeat__?group=startup", status=500).json["checks"] == {
        "db": "error"}


def test_a_settings_group_without_members_passes():
    handlers()
    app = make_app(DOCKERFLOW, settings={"dockerflow.heartbeat_group": "nobody"})
    assert app.get("/__heartbeat__").json == {"status": "ok", "checks": {}, "details": {}}


@pytest.mark.parametrize("value", ["two words", "a/b"])
def test_a_bad_group_setting_stops_the_app(value):
    with pytest.raises(ConfigurationError) as info:
        make_app(DOCKERFLOW, settings={"dockerflow.heartbeat_group": value})
    assert "bad value for setting 'dockerflow.heartbeat_group'" in str(info.value)


def test_the_group_setting_is_typed():
    app = make_app(DOCKERFLOW, settings={"dockerflow.heartbeat_group": " readiness "})
    settings = get_app_status(app.app.registry).settings
    assert settings["dockerflow.heartbeat_group"] == "readiness"
    app = make_app(DOCKERFLOW)
    assert get_app_status(app.app.registry).settings["dockerflow.heartbeat_group"] is None


def test_checks_and_group_together():
    handlers()
    app = make_app(DOCKERFLOW, settings={"dockerflow.checks": "db ping missing"})
    # Of the names listed, those in the group; a name without a handler is
    # an error whatever the group.
    assert app.get("/__heartbeat__?group=liveness", status=500).json == {
        "status": "error",
        "checks": {"ping": "ok", "missing": "error"},
        "details": {"missing": {"status": "error", "level": 40,
                                "detail": "no status handler is registered under this name"}},
    }


def test_a_non_critical_check_function_is_a_warning():
    checks.register(lambda: [checks.Error("index stale", id="search.E001")], name="search")
    addStatusHandler("db", fixed(state=OK))
    app = make_app(DOCKERFLOW)
    app.get("/__heartbeat__", status=500)
    handler = get_app_status(app.app.registry).all_handlers()["search"]
    addStatusHandler("search", handler, critical=False)
    assert app.get("/__heartbeat__", status=200).json == {
        "status": "warning",
        "checks": {"db": "ok", "search": "error"},
        "details": {"search": {"status": "error", "level": 40,
                               "messages": {"search.E001": "index stale"},
                               "critical": False}},
    }


def test_the_events_carry_the_group_s_checks():
    handlers()
    events = []
    app = make_app(DOCKERFLOW, setup=lambda config: config.add_subscriber(
        events.append, IHeartbeatEvent))
    app.get("/__heartbeat__?group=liveness")
    [event] = events
    assert isinstance(event, HeartbeatPassed)
    assert event.checks == {"mail": "error", "ping": "ok"}


# --- details -------------------------------------------------------------------


def test_never_keeps_status_and_level():
    handlers()
    addStatusHandler("disk", fixed(state=YELLOW, detail="91%"))
    checks.register(lambda: [checks.Warning("stale", id="W1")], name="index")
    app = make_app(DOCKERFLOW, settings={"svcstatus.show_details": "never"})
    assert app.get("/__heartbeat__", status=500).json == {
        "status": "error",
        "checks": {"db": "error", "disk": "warning", "index": "warning", "mail": "error",
                   "ping": "ok"},
        "details": {
            "db": {"status": "error", "level": 40},
            "disk": {"status": "warning", "level": 30},
            "index": {"status": "warning", "level": 30},
            "mail": {"status": "error", "level": 40, "critical": False},
        },
    }


@needs_pyramid2
@pytest.mark.parametrize("user, shown", [(None, False), ("guest", False), ("ops", True)])
def test_when_authorized(user, shown):
    handlers()

    def setup(config):
        config.set_security_policy(UserPolicy())

    app = make_app(DOCKERFLOW, settings={"svcstatus.show_details": "when_authorized",
                                         "svcstatus.details_permission": "status-details"},
                   setup=setup)
    headers = {"X-User": user} if user else {}
    details = app.get("/__heartbeat__", headers=headers, status=500).json["details"]
    assert ("detail" in details["db"]) is shown
