"""The Dockerflow endpoints, events and settings through real Pyramid apps."""
from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import threading
from pathlib import Path

import pytest
from pyramid import testing
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from pyramid.interfaces import IRoutesMapper
from pyramid.response import Response
from webtest import TestApp

from lovely.ws.status import OK, RED, YELLOW, addStatusHandler, dockerflow
from lovely.ws.status.dockerflow import (
    DOCKERFLOW_SETTINGS,
    HeartbeatFailed,
    HeartbeatPassed,
    IHeartbeatEvent,
    heartbeat_view,
    lbheartbeat_view,
)

from .servers import needs_pyramid2, wait_for_port

VERSION = {
    "source": "https://github.com/example/app",
    "version": "1.2.3",
    "commit": "0123456789abcdef",
    "build": "https://ci.example.com/build/42",
}


def make_app(settings=None, setup=None, **include):
    config = Configurator(settings=dict(settings or {}))
    config.include("lovely.ws.status.dockerflow", **include)
    if setup is not None:
        setup(config)
    return TestApp(config.make_wsgi_app())


def commit(settings):
    config = Configurator(settings=settings)
    config.include("lovely.ws.status.dockerflow")
    config.commit()
    return config


def handler(state, detail=None):
    def status():
        result = {"state": state}
        if detail is not None:
            result["detail"] = detail
        return result

    return status


# Used through dotted names in the settings.
def version_callback(request):
    return dict(VERSION, host=request.host)


def version_callback_none(request):
    return None


def version_callback_raises(request):
    raise RuntimeError("no git here")


def version_callback_list(request):
    return ["1.2.3"]


NOT_CALLABLE = "just text"


# ----------------------------------------------------------------- routes


def test_routes_and_names():
    config = commit({})
    mapper = config.registry.getUtility(IRoutesMapper)
    patterns = {route.name: route.pattern for route in mapper.get_routes()}
    assert patterns["dockerflow.version"] == "/__version__"
    assert patterns["dockerflow.heartbeat"] == "/__heartbeat__"
    assert patterns["dockerflow.lbheartbeat"] == "/__lbheartbeat__"


def test_route_prefix_moves_the_endpoints():
    app = make_app(route_prefix="/ops")
    app.get("/ops/__lbheartbeat__", status=200)
    app.get("/ops/__heartbeat__", status=200)
    app.get("/__lbheartbeat__", status=404)


def test_other_methods_are_not_served():
    app = make_app()
    app.post("/__heartbeat__", status=404)
    app.put("/__lbheartbeat__", status=404)
    app.delete("/__version__", status=404)


# ----------------------------------------------------------- lbheartbeat


def test_lbheartbeat_ok_without_calling_handlers():
    calls = []
    addStatusHandler("counted", lambda: calls.append(1) or {"state": OK})
    app = make_app()
    response = app.get("/__lbheartbeat__", status=200)
    assert response.json == {"status": "ok"}
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert calls == []


def test_lbheartbeat_503_while_decommissioned():
    def setup(config):
        config.include("lovely.ws.status.probestatus")

    app = make_app(setup=setup)
    app.post("/probe_status?body=draining", status=200)
    response = app.get("/__lbheartbeat__", status=503)
    assert response.json == {"status": "error", "detail": "draining"}
    assert response.headers["Cache-Control"] == "no-store"
    # /__heartbeat__ is about the backends, not the probe.
    app.get("/__heartbeat__", status=200)
    app.post("/probe_status", status=200)
    assert app.get("/__lbheartbeat__", status=200).json == {"status": "ok"}


def test_lbheartbeat_follows_a_shared_file_store(tmp_path):
    """Two apps (as two worker processes would) share one drain switch."""
    settings = {"probestatus.store": f"file://{tmp_path}/probe"}

    def setup(config):
        config.include("lovely.ws.status.probestatus")

    worker_a = make_app(settings, setup)
    worker_b = make_app(settings, setup)
    worker_a.post("/probe_status?body=maintenance", status=200)
    assert worker_b.get("/__lbheartbeat__", status=503).json == {
        "status": "error",
        "detail": "maintenance",
    }
    worker_b.post("/probe_status", status=200)
    worker_a.get("/__lbheartbeat__", status=200)


def test_lbheartbeat_503_when_the_redis_store_is_down(redis_server, caplog):
    settings = {"probestatus.store": redis_server.url + "?timeout=0.5"}

    def setup(config):
        config.include("lovely.ws.status.probestatus")

    app = make_app(settings, setup)
    app.get("/__lbheartbeat__", status=200)
    app.post("/probe_status?body=draining", status=200)
    assert app.get("/__lbheartbeat__", status=503).json["detail"] == "draining"
    app.post("/probe_status", status=200)
    redis_server.stop()
    with caplog.at_level(logging.WARNING, "lovely.ws.status.dockerflow"):
        first = app.get("/__lbheartbeat__", status=503)
        app.get("/__lbheartbeat__", status=503)
    assert first.json == {"status": "error", "detail": "the probe store is unavailable"}
    warnings = [r for r in caplog.records if r.name == "lovely.ws.status.dockerflow"]
    # Said once, not on every poll of the load balancer.
    assert len(warnings) == 1
    assert "unavailable" in warnings[0].getMessage()
    redis_server.start()
    with caplog.at_level(logging.INFO, "lovely.ws.status.dockerflow"):
        app.get("/__lbheartbeat__", status=200)
    assert "reachable again" in caplog.records[-1].getMessage()


def test_lbheartbeat_called_directly():
    request = testing.DummyRequest()
    response = lbheartbeat_view(request)
    assert response.status_code == 200
    assert json.loads(response.body) == {"status": "ok"}


# ------------------------------------------------------------- heartbeat


def test_heartbeat_without_handlers():
    response = make_app().get("/__heartbeat__", status=200)
    assert response.json == {"status": "ok", "checks": {}, "details": {}}
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"


def test_heartbeat_all_ok():
    addStatusHandler("db", handler(OK, "connected"))
    addStatusHandler("cache", handler(OK))
    response = make_app().get("/__heartbeat__", status=200)
    assert response.json == {
        "status": "ok",
        "checks": {"cache": "ok", "db": "ok"},
        "details": {},
    }


def test_heartbeat_warning_passes_with_200():
    addStatusHandler("db", handler(OK))
    addStatusHandler("disk", handler(YELLOW, "85% full"))
    response = make_app().get("/__heartbeat__", status=200)
    assert response.json == {
        "status": "warning",
        "checks": {"db": "ok", "disk": "warning"},
        "details": {"disk": {"status": "warning", "level": 30, "detail": "85% full"}},
    }


def test_heartbeat_error_fails_with_500():
    addStatusHandler("db", handler(RED, "connection refused"))
    addStatusHandler("disk", handler(YELLOW))
    addStatusHandler("cache", handler(OK))
    response = make_app().get("/__heartbeat__", status=500)
    assert response.json == {
        "status": "error",
        "checks": {"cache": "ok", "db": "error", "disk": "warning"},
        "details": {
            "db": {"status": "error", "level": 40, "detail": "connection refused"},
            "disk": {"status": "warning", "level": 30, "detail": None},
        },
    }
    assert response.headers["Cache-Control"] == "no-store"


def test_heartbeat_failed_status_setting():
    addStatusHandler("db", handler(RED))
    app = make_app({"dockerflow.heartbeat_failed_status": "503"})
    assert app.get("/__heartbeat__", status=503).json["status"] == "error"
    addStatusHandler("db", handler(YELLOW))
    assert app.get("/__heartbeat__", status=200).json["status"] == "warning"


def test_heartbeat_reports_a_raising_handler_as_error():
    def broken():
        raise ZeroDivisionError("division by zero")

    addStatusHandler("broken", broken)
    addStatusHandler("fine", handler(OK))
    response = make_app().get("/__heartbeat__", status=500)
    assert response.json["checks"] == {"broken": "error", "fine": "ok"}
    detail = response.json["details"]["broken"]
    assert detail["level"] == 40
    assert detail["detail"] == "ZeroDivisionError: division by zero"


def test_heartbeat_reports_an_invalid_status_as_error():
    addStatusHandler("nonsense", lambda: {"state": "BLUE"})
    response = make_app().get("/__heartbeat__", status=500)
    assert response.json["checks"] == {"nonsense": "error"}


def test_heartbeat_reports_a_hanging_handler_as_timed_out():
    release = threading.Event()

    def hangs():
        release.wait(30)
        return {"state": OK}

    addStatusHandler("hangs", hangs)
    addStatusHandler("fine", handler(OK))
    app = make_app({"svcstatus.timeout": "0.2"})
    try:
        response = app.get("/__heartbeat__", status=500)
    finally:
        release.set()
    assert response.json["status"] == "error"
    assert response.json["checks"] == {"fine": "ok", "hangs": "error"}
    assert "timed out" in response.json["details"]["hangs"]["detail"]


def test_heartbeat_checks_setting_limits_and_requires_names():
    addStatusHandler("db", handler(OK))
    addStatusHandler("flaky", handler(RED))
    app = make_app({"dockerflow.checks": "db"})
    assert app.get("/__heartbeat__", status=200).json == {
        "status": "ok",
        "checks": {"db": "ok"},
        "details": {},
    }
    app = make_app({"dockerflow.checks": "db\nqueue\ndb"})
    response = app.get("/__heartbeat__", status=500)
    assert response.json["checks"] == {"db": "ok", "queue": "error"}
    assert response.json["details"]["queue"] == {
        "status": "error",
        "level": 40,
        "detail": "no status handler is registered under this name",
    }


def test_heartbeat_details_are_json_even_for_odd_values():
    addStatusHandler("odd", handler(RED, {1, 2}))
    addStatusHandler("nan", handler(YELLOW, float("nan")))
    response = make_app().get("/__heartbeat__", status=500)
    body = json.loads(response.body, parse_constant=pytest.fail)
    assert sorted(body["details"]["odd"]["detail"]) == [1, 2]
    assert body["details"]["nan"]["detail"] == "nan"


def test_heartbeat_called_directly():
    addStatusHandler("db", handler(YELLOW, "slow"))
    response = heartbeat_view(testing.DummyRequest())
    assert response.status_code == 200
    assert json.loads(response.body)["checks"] == {"db": "warning"}


# ----------------------------------------------------------------- events


def _collecting_app(settings=None):
    events = []

    def setup(config):
        config.add_subscriber(events.append, IHeartbeatEvent)

    return make_app(settings, setup), events


def test_heartbeat_passed_event():
    addStatusHandler("db", handler(OK))
    app, events = _collecting_app()
    app.get("/__heartbeat__", status=200)
    [event] = events
    assert type(event) is HeartbeatPassed
    assert event.level == 0
    assert event.checks == {"db": "ok"}
    assert event.request.path == "/__heartbeat__"
    assert event.status_code == 200


def test_warning_still_passes():
    addStatusHandler("db", handler(OK))
    addStatusHandler("disk", handler(YELLOW, "getting full"))
    app, events = _collecting_app()
    app.get("/__heartbeat__", status=200)
    [event] = events
    assert isinstance(event, HeartbeatPassed)
    assert event.level == 30
    assert event.checks == {"db": "ok", "disk": "warning"}
    assert event.details["disk"]["detail"] == "getting full"


def test_heartbeat_failed_event():
    addStatusHandler("db", handler(RED, "down"))
    addStatusHandler("disk", handler(YELLOW))
    app, events = _collecting_app({"dockerflow.heartbeat_failed_status": 503})
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

    app = make_app(setup=setup)
    app.get("/__heartbeat__", status=200)
    addStatusHandler("db", handler(RED))
    app.get("/__heartbeat__", status=500)
    app.head("/__heartbeat__", status=500)
    assert [e.level for e in passed] == [0]
    assert [e.level for e in failed] == [40, 40]


def test_lbheartbeat_and_version_notify_nothing():
    app, events = _collecting_app()
    app.get("/__lbheartbeat__")
    app.get("/__version__", expect_errors=True)
    assert events == []


# ------------------------------------------------------------ __version__


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def test_version_from_file(tmp_path):
    path = tmp_path / "version.json"
    _write(path, json.dumps(VERSION, indent=2))
    app = make_app({"dockerflow.version_file": str(path)})
    response = app.get("/__version__", status=200)
    assert response.json == VERSION
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"


def test_version_file_is_read_again_when_it_changes(tmp_path):
    path = tmp_path / "version.json"
    _write(path, json.dumps(VERSION))
    app = make_app({"dockerflow.version_file": str(path)})
    assert app.get("/__version__").json["version"] == "1.2.3"
    _write(path, json.dumps(dict(VERSION, version="1.2.4-rc1")))
    stat = path.stat()
    # A different mtime even on file systems with coarse timestamps.
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
    assert app.get("/__version__").json["version"] == "1.2.4-rc1"
    path.unlink()
    app.get("/__version__", status=404)


def test_version_file_missing(tmp_path):
    app = make_app({"dockerflow.version_file": str(tmp_path / "nope.json")})
    response = app.get("/__version__", status=404)
    assert response.headers["Content-Type"] == "application/json"
    assert response.json == {"error": "no version information"}


@pytest.mark.parametrize(
    "content, reason",
    [
        ('{"version": "1.2.3",', "is not valid JSON"),
        (b"\xff\xfe\x00garbage", "is not valid JSON"),
        ('["1.2.3"]', "holds a JSON list, not an object"),
    ],
)
def test_version_file_invalid(tmp_path, caplog, content, reason):
    path = tmp_path / "version.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        _write(path, content)
    app = make_app({"dockerflow.version_file": str(path)})
    with caplog.at_level(logging.ERROR, "lovely.ws.status.dockerflow"):
        response = app.get("/__version__", status=500)
    assert response.headers["Content-Type"] == "application/json"
    assert set(response.json) == {"error"}
    assert "Traceback" not in response.text
    assert str(path) not in response.text
    [record] = [r for r in caplog.records if r.name == "lovely.ws.status.dockerflow"]
    assert record.levelno == logging.ERROR
    assert str(path) in record.getMessage()
    assert reason in record.getMessage()


def test_version_file_unreadable(tmp_path, caplog):
    path = tmp_path / "version.json"
    path.mkdir()  # exists, but cannot be read as a file (even by root)
    app = make_app({"dockerflow.version_file": str(path)})
    with caplog.at_level(logging.ERROR, "lovely.ws.status.dockerflow"):
        response = app.get("/__version__", status=500)
    assert "Traceback" not in response.text
    assert "cannot read the version file" in caplog.text


def test_version_file_without_dockerflow_keys_is_served_with_a_warning(
    tmp_path, caplog
):
    path = tmp_path / "version.json"
    _write(path, '{"version": "1.2.3"}')
    app = make_app({"dockerflow.version_file": str(path)})
    with caplog.at_level(logging.WARNING, "lovely.ws.status.dockerflow"):
        assert app.get("/__version__").json == {"version": "1.2.3"}
        app.get("/__version__")
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "source, commit, build" in record.getMessage()


def test_version_file_default_from_app_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("APP_DIR", str(tmp_path))
    _write(tmp_path / "version.json", json.dumps(VERSION))
    assert make_app().get("/__version__").json == VERSION
    assert dockerflow.default_version_path() == str(tmp_path / "version.json")
    monkeypatch.delenv("APP_DIR")
    assert dockerflow.default_version_path() == "/app/version.json"


def test_version_file_as_asset_spec(tmp_path, monkeypatch):
    package = tmp_path / "dockerflow_asset_pkg"
    package.mkdir()
    _write(package / "__init__.py", "")
    _write(package / "version.json", json.dumps(VERSION))
    monkeypatch.syspath_prepend(str(tmp_path))
    app = make_app({"dockerflow.version_file": "dockerflow_asset_pkg:version.json"})
    assert app.get("/__version__").json == VERSION


def test_version_file_relative_to_the_working_directory(tmp_path, monkeypatch):
    _write(tmp_path / "v.json", json.dumps(VERSION))
    monkeypatch.chdir(tmp_path)
    app = make_app({"dockerflow.version_file": "v.json"})
    monkeypatch.chdir("/")
    assert app.get("/__version__").json == VERSION


def test_version_callback_gets_the_request():
    app = make_app(
        {"dockerflow.version_callback": "tests.test_dockerflow:version_callback"}
    )
    response = app.get("/__version__", status=200, extra_environ={"HTTP_HOST": "h:1"})
    assert response.json == dict(VERSION, host="h:1")


def test_version_callback_none_is_404():
    app = make_app(
        {"dockerflow.version_callback": "tests.test_dockerflow.version_callback_none"}
    )
    response = app.get("/__version__", status=404)
    assert response.json == {"error": "no version information"}


def test_version_callback_raising_is_500_and_logged(caplog):
    app = make_app(
        {"dockerflow.version_callback": "tests.test_dockerflow:version_callback_raises"}
    )
    with caplog.at_level(logging.ERROR, "lovely.ws.status.dockerflow"):
        response = app.get("/__version__", status=500)
    assert "no git here" not in response.text
    [record] = caplog.records
    assert "version_callback_raises" in record.getMessage()
    assert record.exc_info[0] is RuntimeError


def test_version_callback_returning_a_list_is_500(caplog):
    app = make_app(
        {"dockerflow.version_callback": "tests.test_dockerflow:version_callback_list"}
    )
    with caplog.at_level(logging.ERROR, "lovely.ws.status.dockerflow"):
        app.get("/__version__", status=500)
    assert "returned a list, not a dict" in caplog.text


# ---------------------------------------------------------------- settings


@pytest.mark.parametrize(
    "settings, key",
    [
        ({"dockerflow.heartbeat_failed_statu": "503"}, "heartbeat_failed_statu"),
        ({"dockerflow.versionfile": "/x"}, "dockerflow.versionfile"),
        ({"dockerflow.heartbeat_failed_status": "42"}, "heartbeat_failed_status"),
        ({"dockerflow.heartbeat_failed_status": "x"}, "heartbeat_failed_status"),
        ({"dockerflow.request_summary": "maybe"}, "dockerflow.request_summary"),
        (
            {"dockerflow.version_callback": "tests.no_such_module:f"},
            "dockerflow.version_callback",
        ),
        (
            {"dockerflow.version_callback": "tests.test_dockerflow:no_such_name"},
            "dockerflow.version_callback",
        ),
        (
            {"dockerflow.version_callback": "tests.test_dockerflow:NOT_CALLABLE"},
            "dockerflow.version_callback",
        ),
        (
            {
                "dockerflow.version_callback": "tests.test_dockerflow:version_callback",
                "dockerflow.version_file": "/app/version.json",
            },
            "dockerflow.version_file",
        ),
        ({"dockerflow.version_file": "no_such_package_here:version.json"},
         "dockerflow.version_file"),
    ],
)
def test_bad_settings_fail_at_commit(settings, key):
    config = Configurator(settings=settings)
    config.include("lovely.ws.status.dockerflow")  # nothing raised yet
    with pytest.raises(ConfigurationError) as info:
        config.commit()
    assert key in str(info.value)


def test_typo_error_suggests_the_right_key():
    with pytest.raises(ConfigurationError) as info:
        commit({"dockerflow.heartbeat_failed_statu": "503"})
    assert "did you mean 'dockerflow.heartbeat_failed_status'" in str(info.value)


def test_typed_settings_are_written_back():
    config = commit(
        {
            "dockerflow.heartbeat_failed_status": " 503 ",
            "dockerflow.request_summary": "off",
            "dockerflow.checks": "db\ncache",
        }
    )
    settings = config.registry.settings
    assert settings["dockerflow.heartbeat_failed_status"] == 503
    assert settings["dockerflow.request_summary"] is False
    assert settings["dockerflow.checks"] == ["db", "cache"]
    assert settings["dockerflow.version_file"] is None


def test_svcstatus_settings_are_checked_too():
    with pytest.raises(ConfigurationError) as info:
        commit({"svcstatus.timeuot": "1"})
    assert "svcstatus.timeuot" in str(info.value)


def test_include_twice_is_harmless():
    config = Configurator()
    config.include("lovely.ws.status.dockerflow")
    config.include("lovely.ws.status.dockerflow")
    config.include("lovely.ws.status.svcstatus")
    app = TestApp(config.make_wsgi_app())
    app.get("/__heartbeat__", status=200)
    app.get("/svc_status", status=200)


def test_docs_list_every_setting():
    page = Path(__file__).parent.parent / "docs" / "dockerflow.rst"
    text = page.read_text(encoding="utf-8")
    for spec in DOCKERFLOW_SETTINGS:
        assert f"``{spec.key}``" in text, spec.key


# ------------------------------------------------ permissions, HEAD, HTTP


@contextlib.contextmanager
def _serve(app):
    """Serve ``app`` with waitress on a free loopback port."""
    from waitress.server import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        port = int(server.effective_port)  # waitress gives a str
        wait_for_port(port)
        yield port
    finally:
        server.close()
        thread.join(5)


class DenyAll:
    """A security policy under which nobody may do anything."""

    def identity(self, request):
        return None

    def authenticated_userid(self, request):
        return None

    def permits(self, request, context, permission):
        return False

    def remember(self, request, userid, **kw):
        return []

    def forget(self, request, **kw):
        return []


@needs_pyramid2
def test_endpoints_ignore_a_default_permission(tmp_path):
    _write(tmp_path / "version.json", json.dumps(VERSION))

    def setup(config):
        config.set_security_policy(DenyAll())
        config.set_default_permission("view")
        config.set_default_csrf_options(require_csrf=True)
        config.add_route("home", "/")
        config.add_view(lambda request: Response("home"), route_name="home")

    app = make_app({"dockerflow.version_file": str(tmp_path / "version.json")}, setup)
    app.get("/", status=403)  # the policy really denies
    app.get("/__lbheartbeat__", status=200)
    app.get("/__heartbeat__", status=200)
    app.get("/__version__", status=200)
    app.head("/__heartbeat__", status=200)


def test_head_answers_without_a_body(tmp_path):
    _write(tmp_path / "version.json", json.dumps(VERSION))
    addStatusHandler("db", handler(RED))
    app = make_app({"dockerflow.version_file": str(tmp_path / "version.json")})
    for path, status in [
        ("/__lbheartbeat__", 200),
        ("/__heartbeat__", 500),
        ("/__version__", 200),
    ]:
        response = app.head(path, status=status)
        assert response.body == b""
        assert response.headers["Content-Type"] == "application/json"
        assert int(response.headers["Content-Length"]) == len(app.get(
            path, status=status
        ).body)


def test_over_real_http_with_waitress(tmp_path):
    """HEAD and GET on the wire, through waitress."""
    _write(tmp_path / "version.json", json.dumps(VERSION))
    addStatusHandler("disk", handler(YELLOW, "80%"))
    settings = {"dockerflow.version_file": str(tmp_path / "version.json")}
    config = Configurator(settings=settings)
    config.include("lovely.ws.status.dockerflow")
    with _serve(config.make_wsgi_app()) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("HEAD", "/__heartbeat__")
            response = conn.getresponse()
            assert response.status == 200
            assert response.read() == b""
            conn.request("GET", "/__heartbeat__")
            response = conn.getresponse()
            assert json.loads(response.read())["status"] == "warning"
            conn.request("GET", "/__version__")
            response = conn.getresponse()
            assert json.loads(response.read()) == VERSION
            assert response.getheader("Cache-Control") == "no-store"
        finally:
            conn.close()
