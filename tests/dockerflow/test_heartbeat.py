"""``/__heartbeat__``: every status handler as a Dockerflow check."""
from __future__ import annotations

import json

import pytest
from pyramid import testing

from lovely.ws.status import OK, RED, YELLOW, addStatusHandler
from lovely.ws.status.dockerflow.views import heartbeat_view

from ..helpers import fixed, make_app

DOCKERFLOW = "lovely.ws.status.dockerflow"


def test_without_handlers():
    response = make_app(DOCKERFLOW).get("/__heartbeat__", status=200)
    assert response.json == {"status": "ok", "checks": {}, "details": {}}
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"


def test_all_ok():
    addStatusHandler("db", fixed(state=OK, detail="connected"))
    addStatusHandler("cache", fixed(state=OK))
    response = make_app(DOCKERFLOW).get("/__heartbeat__", status=200)
    assert response.json == {
        "status": "ok",
        "checks": {"cache": "ok", "db": "ok"},
        "details": {},
    }


def test_a_warning_passes_with_200():
    addStatusHandler("db", fixed(state=OK))
    addStatusHandler("disk", fixed(state=YELLOW, detail="85% full"))
    response = make_app(DOCKERFLOW).get("/__heartbeat__", status=200)
    assert response.json == {
        "status": "warning",
        "checks": {"db": "ok", "disk": "warning"},
        "details": {"disk": {"status": "warning", "level": 30, "detail": "85% full"}},
    }


def test_an_error_fails_with_500():
    addStatusHandler("db", fixed(state=RED, detail="connection refused"))
    addStatusHandler("disk", fixed(state=YELLOW))
    addStatusHandler("cache", fixed(state=OK))
    response = make_app(DOCKERFLOW).get("/__heartbeat__", status=500)
    assert response.json == {
        "status": "error",
        "checks": {"cache": "ok", "db": "error", "disk": "warning"},
        "details": {
            "db": {"status": "error", "level": 40, "detail": "connection refused"},
            "disk": {"status": "warning", "level": 30, "detail": None},
        },
    }
    assert response.headers["Cache-Control"] == "no-store"


def test_failed_status_setting_sets_the_code_of_an_error():
    addStatusHandler("db", fixed(state=RED))
    app = make_app(DOCKERFLOW, settings={"dockerflow.heartbeat_failed_status": "503"})
    assert app.get("/__heartbeat__", status=503).json["status"] == "error"
    addStatusHandler("db", fixed(state=YELLOW))
    assert app.get("/__heartbeat__", status=200).json["status"] == "warning"


def test_a_raising_handler_is_an_error():
    def broken():
        raise ZeroDivisionError("division by zero")

    addStatusHandler("broken", broken)
    addStatusHandler("fine", fixed(state=OK))
    response = make_app(DOCKERFLOW).get("/__heartbeat__", status=500)
    assert response.json["checks"] == {"broken": "error", "fine": "ok"}
    detail = response.json["details"]["broken"]
    assert detail["level"] == 40
    assert detail["detail"] == "ZeroDivisionError: division by zero"


def test_an_invalid_status_is_an_error():
    addStatusHandler("nonsense", lambda: {"state": "BLUE"})
    response = make_app(DOCKERFLOW).get("/__heartbeat__", status=500)
    assert response.json["checks"] == {"nonsense": "error"}


def test_a_hanging_handler_times_out_as_an_error(blocked):
    addStatusHandler("hangs", blocked)
    addStatusHandler("fine", fixed(state=OK))
    app = make_app(DOCKERFLOW, settings={"svcstatus.timeout": "0.2"})
    response = app.get("/__heartbeat__", status=500)
    assert response.json["status"] == "error"
    assert response.json["checks"] == {"fine": "ok", "hangs": "error"}
    assert "timed out" in response.json["details"]["hangs"]["detail"]


def test_checks_setting_limits_the_handlers_and_requires_each_name():
    addStatusHandler("db", fixed(state=OK))
    addStatusHandler("flaky", fixed(state=RED))
    app = make_app(DOCKERFLOW, settings={"dockerflow.checks": "db"})
    assert app.get("/__heartbeat__", status=200).json == {
        "status": "ok",
        "checks": {"db": "ok"},
        "details": {},
    }
    app = make_app(DOCKERFLOW, settings={"dockerflow.checks": "db\nqueue\ndb"})
    response = app.get("/__heartbeat__", status=500)
    assert response.json["checks"] == {"db": "ok", "queue": "error"}
    assert response.json["details"]["queue"] == {
        "status": "error",
        "level": 40,
        "detail": "no status handler is registered under this name",
    }


def test_each_app_checks_its_own_handlers():
    def one(config):
        config.add_status_handler("db", fixed(state=RED, detail="down"))

    def other(config):
        config.add_status_handler("cache", fixed(state=OK))

    addStatusHandler("shared", fixed(state=OK))
    first = make_app(DOCKERFLOW, setup=one)
    second = make_app(DOCKERFLOW, setup=other,
                      settings={"dockerflow.checks": "cache shared"})
    assert first.get("/__heartbeat__", status=500).json["checks"] == {
        "db": "error",
        "shared": "ok",
    }
    assert second.get("/__heartbeat__", status=200).json["checks"] == {
        "cache": "ok",
        "shared": "ok",
    }


def test_details_are_json_even_for_odd_values():
    addStatusHandler("odd", fixed(state=RED, detail={1, 2}))
    addStatusHandler("nan", fixed(state=YELLOW, detail=float("nan")))
    response = make_app(DOCKERFLOW).get("/__heartbeat__", status=500)
    body = json.loads(response.body, parse_constant=pytest.fail)
    assert sorted(body["details"]["odd"]["detail"]) == [1, 2]
    assert body["details"]["nan"]["detail"] == "nan"


def test_called_directly_with_a_bare_request():
    addStatusHandler("db", fixed(state=YELLOW, detail="slow"))
    response = heartbeat_view(testing.DummyRequest())
    assert response.status_code == 200
    assert json.loads(response.body)["checks"] == {"db": "warning"}
