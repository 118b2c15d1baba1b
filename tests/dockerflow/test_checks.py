"""python-dockerflow's check model on status handlers: check functions that
return messages, ``register``, silencing, and what ``/__heartbeat__`` shows."""
from __future__ import annotations

import logging

import pytest

from lovely.ws.status import OK, RED, STATUS_HANDLERS, YELLOW, addStatusHandler
from lovely.ws.status.checks import DatabaseCheck, RedisCheck
from lovely.ws.status.dockerflow import HeartbeatFailed, HeartbeatPassed, checks
from lovely.ws.status.dockerflow.checks import CheckHandler

from ..helpers import fixed, make_app

DOCKERFLOW = "lovely.ws.status.dockerflow"
CHECKS_LOGGER = "lovely.ws.status.dockerflow.checks"


def heartbeat(status=200, settings=None, setup=None):
    app = make_app(DOCKERFLOW, settings=settings, setup=setup)
    return app.get("/__heartbeat__", status=status).json


def register_all(*pairs):
    for name, check in pairs:
        checks.register(check, name=name)


# ------------------------------------------- python-dockerflow's core tests


def test_run_checks():
    """Adapted from python-dockerflow tests/core/test_checks.py::test_run_checks."""
    register_all(("returns_error", lambda: [checks.Error("my error message", id="my.error")]))
    payload = heartbeat(500)
    assert payload["status"] == "error"
    assert payload["checks"] == {"returns_error": "error"}
    assert payload["details"] == {
        "returns_error": {
            "level": checks.ERROR,
            "messages": {"my.error": "my error message"},
            "status": "error",
        }
    }


def test_run_multiple_checks():
    """Adapted from python-dockerflow tests/core/test_checks.py::test_run_multiple_checks."""
    register_all(
        ("returns_error", lambda: [checks.Error("my error message", id="my.error")]),
        ("returns_warning", lambda: [checks.Warning("my warning message", id="my.warning")]),
    )
    payload = heartbeat(500)
    assert payload["checks"] == {"returns_error": "error", "returns_warning": "warning"}
    assert payload["details"] == {
        "returns_error": {
            "level": checks.ERROR,
            "messages": {"my.error": "my error message"},
            "status": "error",
        },
        "returns_warning": {
            "level": 30,
            "messages": {"my.warning": "my warning message"},
            "status": "warning",
        },
    }


def test_silenced_checks():
    """Adapted from python-dockerflow tests/core/test_checks.py::test_silenced_checks:
    a check whose messages are all silenced is still listed, as ok."""
    register_all(
        ("returns_error", lambda: [checks.Error("my error message", id="my.error")]),
        ("returns_warning", lambda: [checks.Warning("my warning message", id="my.warning")]),
    )
    payload = heartbeat(200, {"dockerflow.silenced_checks": "my.error"})
    assert payload["status"] == "warning"
    assert payload["checks"] == {"returns_error": "ok", "returns_warning": "warning"}
    assert payload["details"] == {
        "returns_warning": {
            "level": checks.WARNING,
            "messages": {"my.warning": "my warning message"},
            "status": "warning",
        }
    }


def test_checks_returns_multiple_messages():
    """Adapted from python-dockerflow tests/core/test_checks.py::
    test_checks_returns_multiple_messages."""
    register_all(
        ("returns_messages", lambda: [
            checks.Error("my error message", id="my.error"),
            checks.Warning("my warning message", id="my.warning"),
        ]),
        ("returns_more_messages", lambda: [
            checks.Warning("another warning message", id="another.warning"),
        ]),
    )
    payload = heartbeat(500)
    assert payload["checks"] == {
        "returns_messages": "error",
        "returns_more_messages": "warning",
    }
    assert payload["details"] == {
        "returns_messages": {
            "level": checks.ERROR,
            "messages": {"my.warning": "my warning message", "my.error": "my error message"},
            "status": "error",
        },
        "returns_more_messages": {
            "level": checks.WARNING,
            "messages": {"another.warning": "another warning message"},
            "status": "warning",
        },
    }


# --------------------------------------------- the frameworks' heartbeats


def test_heartbeat():
    """Adapted from python-dockerflow tests/flask/test_flask.py::test_heartbeat and
    tests/sanic/test_sanic.py::test_heartbeat_checks: the decorator, with and
    without parentheses, names the check after its function unless given a name."""
    assert heartbeat(200)["status"] == "ok"

    @checks.register
    def error_check():
        return [checks.Error("some error", id="tests.checks.E001")]

    @checks.register()
    def warning_check():
        return [checks.Warning("some warning", id="tests.checks.W001")]

    @checks.register(name="warning-check-two")
    async def warning_check2():
        return [checks.Warning("some other warning", id="tests.checks.W002")]

    payload = heartbeat(500)
    assert payload["status"] == "error"
    assert set(payload["details"]) == {"error_check", "warning_check", "warning-check-two"}
    # The decorator gives the function back as it was.
    assert error_check() == [checks.Error("some error", id="tests.checks.E001")]


@pytest.mark.parametrize("silenced, code, status, shown, hidden", [
    ("tests.checks.W001", 500, "error", "error_check", "warning_check"),
    ("tests.checks.E001", 200, "warning", "warning_check", "error_check"),
])
def test_heartbeat_silenced_checks(silenced, code, status, shown, hidden):
    """Adapted from python-dockerflow tests/flask/test_flask.py::test_heartbeat_silenced_checks,
    tests/sanic/test_sanic.py::test_heartbeat_silenced_checks and
    tests/django/test_django.py::test_heartbeat_silenced."""

    @checks.register
    def error_check():
        return [checks.Error("some error", id="tests.checks.E001")]

    @checks.register
    def warning_check():
        return [checks.Warning("some warning", id="tests.checks.W001")]

    payload = heartbeat(code, {"dockerflow.silenced_checks": silenced})
    assert payload["status"] == status
    assert shown in payload["details"]
    assert hidden not in payload["details"]
    assert payload["checks"][hidden] == "ok"


def test_heartbeat_logging(caplog):
    """Adapted from python-dockerflow tests/flask/test_flask.py::test_heartbeat_logging
    (and Django's and Sanic's): each message at its level, silenced ones too."""

    @checks.register
    def error_check():
        return [checks.Error("some error", id="tests.checks.E001")]

    @checks.register()
    def warning_check():
        return [checks.Warning("some warning", id="tests.checks.W001"),
                checks.Info("some info", id="tests.checks.I001")]

    with caplog.at_level(logging.INFO, logger=CHECKS_LOGGER):
        heartbeat(500, {"dockerflow.silenced_checks": "tests.checks.W001"})
    logged = [(r.levelname, r.message) for r in caplog.records if r.name == CHECKS_LOGGER]
    assert ("ERROR", "tests.checks.E001: some error") in logged
    assert ("WARNING", "tests.checks.W001: some warning") in logged
    assert ("INFO", "tests.checks.I001: some info") in logged


def test_heartbeat_debug_shows_checks_and_details():
    """Adapted from python-dockerflow tests/django/test_django.py::test_heartbeat_debug."""

    @checks.register
    def warning():
        return [checks.Warning("some warning", id="tests.checks.W001")]

    @checks.register
    def error():
        return [checks.Error("some error", id="tests.checks.E001")]

    payload = heartbeat(500)
    assert payload["status"] and payload["checks"] and payload["details"]


def test_heartbeat_get():
    """Adapted from python-dockerflow tests/fastapi/test_fastapi.py::test_heartbeat_get."""

    @checks.register
    def return_error():
        return [checks.Error("BOOM", id="foo")]

    assert heartbeat(500) == {
        "status": "error",
        "checks": {"return_error": "error"},
        "details": {"return_error": {"level": 40, "messages": {"foo": "BOOM"},
                                     "status": "error"}},
    }


def test_heartbeat_sync_async_and_mixed():
    """Adapted from python-dockerflow tests/fastapi/test_fastapi.py::test_heartbeat_sync,
    ::test_heartbeat_async and ::test_heartbeat_mixed_sync."""

    @checks.register
    def sync_ok():
        return []

    assert heartbeat() == {"status": "ok", "checks": {"sync_ok": "ok"}, "details": {}}

    @checks.register
    async def async_ok():
        return []

    assert heartbeat() == {"status": "ok", "checks": {"sync_ok": "ok", "async_ok": "ok"},
                           "details": {}}


def test_heartbeat_head():
    """Adapted from python-dockerflow tests/fastapi/test_fastapi.py::test_heartbeat_head."""

    @checks.register
    def return_sucess():
        return [checks.Info("Nice", id="foo")]

    response = make_app(DOCKERFLOW).head("/__heartbeat__", status=200)
    assert response.body == b""


def test_heartbeat_custom_name():
    """Adapted from python-dockerflow tests/fastapi/test_fastapi.py::test_heartbeat_custom_name."""

    @checks.register(name="my_check_name")
    def return_error():
        return [checks.Error("BOOM", id="foo")]

    assert heartbeat(500)["checks"]["my_check_name"]
    assert "return_error" not in STATUS_HANDLERS


def test_heartbeat_checks_legacy():
    """Adapted from python-dockerflow tests/flask/test_flask.py::test_heartbeat_checks_legacy
    (and Sanic's) with ``register`` and ``register_partial``, which replace
    the deprecated ``dockerflow.check`` and ``dockerflow.init_check``."""

    @checks.register
    def error_check():
        return [checks.Error("some error", id="tests.checks.E001")]

    def error_check_partial(obj):
        return [checks.Error(repr(obj), id="tests.checks.E001")]

    registered = checks.register_partial(error_check_partial, ("foo", "bar"))
    assert registered() == [checks.Error("('foo', 'bar')", id="tests.checks.E001")]
    payload = heartbeat(500)
    assert payload["status"] == "error"
    assert "error_check" in payload["details"]
    assert "('foo', 'bar')" in str(payload["details"]["error_check_partial"])


def test_full_db_check(tmp_path):
    """Adapted from python-dockerflow tests/flask/test_flask.py::test_full_db_check and
    ::test_full_db_check_error, with the DatabaseCheck of this package."""
    addStatusHandler("db", DatabaseCheck(f"sqlite:///{tmp_path / 'db.sqlite'}"))
    assert heartbeat(200)["status"] == "ok"
    addStatusHandler("db", DatabaseCheck(f"sqlite:///{tmp_path / 'no' / 'such' / 'db'}"))
    assert heartbeat(500)["status"] == "error"


def test_full_redis_check_error():
    """Adapted from python-dockerflow tests/flask/test_flask.py::test_full_redis_check_error
    (and Sanic's test_redis_check_error), with the RedisCheck of this package."""
    from ..servers import free_port

    addStatusHandler("redis", RedisCheck(f"redis://127.0.0.1:{free_port()}/0",
                                         socket_timeout=5))
    assert heartbeat(500)["status"] == "error"


def test_full_redis_check(redis_server):
    """Adapted from python-dockerflow tests/flask/test_flask.py::test_full_redis_check
    and tests/sanic/test_sanic.py::test_redis_check."""
    addStatusHandler("redis", RedisCheck(redis_server.url))
    assert heartbeat(200)["status"] == "ok"


def test_lbheartbeat_calls_no_check():
    """Adapted from python-dockerflow tests/flask/test_flask.py::
    test_lbheartbeat_makes_no_db_queries (and Django's)."""
    calls = []

    @checks.register
    def counted():
        calls.append(1)
        return []

    make_app(DOCKERFLOW).get("/__lbheartbeat__", status=200)
    assert calls == []


def test_check_message():
    """Adapted from python-dockerflow tests/flask/test_flask.py::test_check_message."""
    message = checks.Error("some error", level=100, id="tests.checks.E001")
    assert str(message) == "?: (tests.checks.E001) some error"
    assert message.is_serious()

    obj = "test"
    message = checks.Error("some error", level=100, id="tests.checks.E001", obj=obj)
    assert str(message) == "test: (tests.checks.E001) some error"
    assert repr(message) == (
        "<Error: level=100, msg='some error', hint=None, obj='test', id='tests.checks.E001'>")
    assert message == checks.Error("some error", level=100, id="tests.checks.E001", obj=obj)
    assert message != checks.Error("some error", level=101, id="tests.checks.E001", obj=obj)
    assert message != checks.Warning("some error", level=100, id="tests.checks.E001", obj=obj)
    assert str(checks.Info("x", hint="try y")) == "?: x\n\tHINT: try y"
    assert not checks.Warning("w").is_serious()


def test_levels_and_their_text():
    assert [checks.level_to_text(level) for level in (0, 10, 20, 30, 40, 50, 35)] == [
        "ok", "debug", "info", "warning", "error", "critical", "unknown"]
    assert [cls.level for cls in (checks.Debug, checks.Info, checks.Warning,
                                  checks.Error, checks.Critical)] == [10, 20, 30, 40, 50]


# ------------------------------------------------------ this package's rules


@pytest.mark.parametrize("message, code, status, state", [
    (checks.Debug("d", id="x.D1"), 200, "debug", OK),
    (checks.Info("i", id="x.I1"), 200, "info", OK),
    (checks.Critical("c", id="x.C1"), 500, "critical", RED),
    (checks.Error("custom", level=100, id="x.E100"), 500, "unknown", RED),
    (checks.CheckMessage("between", level=35, id="x.35"), 200, "unknown", YELLOW),
])
def test_every_level_reaches_status(message, code, status, state):
    checks.register(lambda: [message], name="leveled")
    payload = heartbeat(code)
    assert payload["status"] == status
    assert payload["checks"] == {"leveled": status}
    assert payload["details"]["leveled"] == {
        "status": status, "level": message.level, "messages": {message.id: message.msg}}
    assert STATUS_HANDLERS["leveled"]()["state"] == state


def test_heartbeat_events_carry_the_level():
    events = []

    def setup(config):
        config.add_subscriber(events.append, HeartbeatPassed)
        config.add_subscriber(events.append, HeartbeatFailed)

    checks.register(lambda: [checks.Info("i", id="x.I1")], name="info")
    app = make_app(DOCKERFLOW, setup=setup)
    app.get("/__heartbeat__", status=200)
    checks.register(lambda: [checks.Critical("c", id="x.C1")], name="info")
    app.get("/__heartbeat__", status=500)
    assert [(type(e), e.level) for e in events] == [(HeartbeatPassed, 20), (HeartbeatFailed, 50)]


def test_plain_handlers_keep_their_payload_next_to_checks():
    addStatusHandler("disk", fixed(state=YELLOW, detail="85% full", messages=["not a check"]))
    addStatusHandler("db", fixed(state=OK))
    checks.register(lambda: [checks.Error("down", id="q.E1")], name="queue")
    payload = heartbeat(500)
    assert payload == {
        "status": "error",
        "checks": {"db": "ok", "disk": "warning", "queue": "error"},
        "details": {
            "disk": {"status": "warning", "level": 30, "detail": "85% full"},
            "queue": {"status": "error", "level": 40, "messages": {"q.E1": "down"}},
        },
    }


def test_a_check_is_a_status_handler_everywhere():
    checks.register(lambda: [checks.Warning("slow", id="db.W1", hint="add an index")],
                    name="db")
    app = make_app(DOCKERFLOW, "lovely.ws.status.svcstatus")
    assert app.get("/svc_status.json").json == {"db": {
        "state": YELLOW,
        "level": 30,
        "messages": [{"id": "db.W1", "level": 30, "msg": "slow", "hint": "add an index"}],
        "detail": "db.W1: slow",
    }}
    assert app.get("/svc_status").text == "db\tYELLOW\tdb.W1: slow"


def test_a_check_for_one_app_only():
    def setup(config):
        config.add_status_handler("mine", CheckHandler(lambda: [checks.Error("e", id="m.E1")]))

    assert heartbeat(500, setup=setup)["checks"] == {"mine": "error"}
    assert heartbeat(200)["checks"] == {}
    assert "mine" not in STATUS_HANDLERS


def test_check_handler_with_arguments_and_a_name():
    def check_redis(client, db):
        return [checks.Info(f"{client} {db}", id="r.I1")]

    handler = CheckHandler(check_redis, "client", 3)
    assert handler.name == "check_redis"
    assert repr(handler) == "<CheckHandler check_redis>"
    assert handler()["messages"] == [{"id": "r.I1", "level": 20, "msg": "client 3"}]
    assert CheckHandler(check_redis, "c", 0, name="redis").name == "redis"


def test_python_dockerflows_own_messages_work_as_they_are():
    upstream = pytest.importorskip("dockerflow.checks")

    @checks.register
    def upstream_style():
        return [upstream.Error("some error", id="tests.checks.E001"),
                upstream.Info("some info", id="tests.checks.I001")]

    assert heartbeat(500)["details"]["upstream_style"] == {
        "status": "error", "level": 40,
        "messages": {"tests.checks.E001": "some error", "tests.checks.I001": "some info"}}


@pytest.mark.parametrize("result, detail", [
    (None, "invalid status: a check returns a list of messages, not None"),
    ("text", "invalid status: a check returns a list of messages, not 'text'"),
    ({"state": "OK"}, "invalid status: a check returns a list of messages, not {'state': 'OK'}"),
    ([object], "invalid status: not a check message: <class 'object'>"),
])
def test_a_result_that_is_no_list_of_messages_is_red(result, detail):
    checks.register(lambda: result, name="odd")
    payload = heartbeat(500)
    assert payload["details"]["odd"] == {"status": "error", "level": 40, "detail": detail}


def test_a_message_with_a_bad_level_is_red():
    class Odd:
        level, msg, id = "high", "m", "o.1"

    checks.register(lambda: [Odd()], name="odd")
    assert heartbeat(500)["details"]["odd"]["detail"] == (
        "invalid status: message 'o.1' has the level 'high'")


def test_a_check_that_raises_is_red_like_any_handler():
    @checks.register
    def broken():
        raise ConnectionError("refused")

    assert heartbeat(500)["details"]["broken"] == {
        "status": "error", "level": 40, "detail": "ConnectionError: refused"}


def test_messages_are_one_line_without_passwords():
    checks.register(lambda: [checks.Error(
        "cannot connect to postgresql://shop:s3cret@db/shop\nretrying", id="db.E1")],
        name="db")
    assert heartbeat(500)["details"]["db"]["messages"] == {
        "db.E1": "cannot connect to postgresql://shop:***@db/shop retrying"}


def test_a_message_without_an_id():
    checks.register(lambda: [checks.Warning("anonymous")], name="anon")
    payload = heartbeat(200)
    assert payload["details"]["anon"]["messages"] == {"null": "anonymous"}
    assert STATUS_HANDLERS["anon"]()["detail"] == "anonymous"


def test_register_by_name_as_the_first_argument():
    @checks.register("named")
    def check():
        return []

    assert heartbeat()["checks"] == {"named": "ok"}


def test_a_later_registration_replaces_the_earlier():
    checks.register(lambda: [checks.Error("e", id="a")], name="same")
    checks.register(lambda: [], name="same")
    assert heartbeat(200)["checks"] == {"same": "ok"}


def test_check_handler_needs_a_callable():
    with pytest.raises(TypeError):
        CheckHandler("not callable")
