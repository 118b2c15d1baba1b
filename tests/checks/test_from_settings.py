"""The checks registered from the ``.ini`` settings (``svcstatus.handlers``
and the options ``svcstatus.handler.<name>.<option>``), and with
``addStatusHandler``."""

from __future__ import annotations

import os

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from webtest import TestApp

from lovely.ws.status import OK, RED, STATUS_HANDLERS, YELLOW, addStatusHandler, checks
from lovely.ws.status.checks import DatabaseCheck, DiskSpaceCheck, HTTPCheck


def _app(settings):
    config = Configurator(settings=settings)
    config.include("lovely.ws.status.svcstatus")
    return TestApp(config.make_wsgi_app())


def test_checks_registered_from_settings(tmp_path, web, registered):
    db = tmp_path / "app.db"
    settings = {
        "sqlalchemy.url": f"sqlite:///{db}",
        "svcstatus.handlers": """
            db = lovely.ws.status.checks.DatabaseCheck
            other_db = lovely.ws.status.checks:DatabaseCheck
            disk = lovely.ws.status.checks.DiskSpaceCheck
            api = lovely.ws.status.checks.HTTPCheck
            broken_api = lovely.ws.status.checks.HTTPCheck
        """,
        "svcstatus.handler.other_db.url": f"sqlite:///{tmp_path}/missing/x.db",
        "svcstatus.handler.other_db.connect_timeout": "1",
        "svcstatus.handler.disk.path": str(tmp_path),
        "svcstatus.handler.disk.warn_below": "1000000 TB",
        "svcstatus.handler.disk.fail_below": "0%",
        "svcstatus.handler.api.url": web.base + "/no-content",
        "svcstatus.handler.api.expect_status": "200, 204",
        "svcstatus.handler.api.request_timeout": "2",
        "svcstatus.handler.api.timeout": "3",
        "svcstatus.handler.broken_api.url": web.base + "/fail",
        "svcstatus.handler.broken_api.follow_redirects": "false",
    }
    app = _app(settings)
    handlers = registered(app)
    assert isinstance(handlers["db"], DatabaseCheck)
    assert isinstance(handlers["api"], HTTPCheck)
    assert handlers["api"].timeout == 2
    assert handlers["api"].expect_status == (200, 204)
    assert handlers["broken_api"].follow_redirects is False
    body = app.get("/svc_status.json").json
    assert body["db"]["state"] == OK
    assert body["db"]["detail"].startswith("SELECT 1: round trip ")
    assert body["other_db"] == {
        "state": RED,
        "detail": "OperationalError: unable to open database file",
    }
    assert body["disk"]["state"] == YELLOW
    assert body["api"]["state"] == OK
    assert body["broken_api"]["state"] == RED
    for check in handlers.values():
        check.close()


def test_disk_path_defaults_to_the_working_directory(tmp_path, monkeypatch, registered):
    monkeypatch.chdir(tmp_path)
    app = _app({"svcstatus.handlers": "disk = lovely.ws.status.checks.DiskSpaceCheck"})
    check = registered(app)["disk"]
    assert check.path == str(tmp_path)
    assert check.warn_below == ("ratio", 0.1)
    assert check.fail_below == ("ratio", 0.05)


@pytest.mark.parametrize(
    "target, options, message",
    [
        (
            "DiskSpaceCheck",
            {"paht": "/"},
            "unknown option 'paht' for DiskSpaceCheck "
            "(did you mean 'path'?); valid options are: path, warn_below, fail_below",
        ),
        (
            "DiskSpaceCheck",
            {"warn_below": "lots"},
            "option 'warn_below': expected a fraction of the disk",
        ),
        (
            "DiskSpaceCheck",
            {"warn_below": "5%", "fail_below": "10%"},
            "option 'fail_below' (10%) is above 'warn_below' (5%)",
        ),
        (
            "DiskSpaceCheck",
            {"path": "/no/such/dir"},
            "option 'path': '/no/such/dir' does not exist",
        ),
        ("HTTPCheck", {}, "the option 'url' is required"),
        ("HTTPCheck", {"url": "file:///etc/passwd"}, "option 'url': expected an http"),
        (
            "HTTPCheck",
            {"url": "http://x/", "expect_status": "2000"},
            "option 'expect_status': expected HTTP status codes (100-599)",
        ),
        (
            "HTTPCheck",
            {"url": "http://x/", "request_timeout": "-1"},
            "option 'request_timeout' must be a positive number of seconds",
        ),
        (
            "HTTPCheck",
            {"url": "http://x/", "request_timeout": "1e300"},
            "option 'request_timeout' must be a positive number of seconds",
        ),
        (
            "HTTPCheck",
            {"url": "http://x/", "follow_redirects": "maybe"},
            "option 'follow_redirects': expected true or false",
        ),
        ("DatabaseCheck", {"url": "nonsense"}, "option 'url': cannot make an engine"),
        (
            "DatabaseCheck",
            {"url": "nosuchdb://me:pw-secret-1@host/db"},
            "option 'url': cannot make an engine: NoSuchModuleError",
        ),
        (
            "DatabaseCheck",
            {"engine_prefix": "db."},
            "no database URL: set the option 'url' or the setting 'db.url'",
        ),
        (
            "DatabaseCheck",
            {"url": "sqlite://", "connect_timeout": "soon"},
            "option 'connect_timeout'",
        ),
        (
            "DatabaseCheck",
            {"url": "sqlite://", "connect_timeout": "1e300"},
            "option 'connect_timeout' must be a positive number of seconds",
        ),
        (
            "MigrationsCheck",
            {"url": "sqlite://", "script_location": "/tmp", "connect_timeout": "1e300"},
            "option 'connect_timeout' must be a positive number of seconds",
        ),
        (
            "MigrationsCheck",
            {"url": "sqlite://"},
            "set the option 'alembic_ini' or 'script_location'",
        ),
        (
            "MigrationsCheck",
            {"url": "sqlite://", "script_location": "/no/such/dir"},
            "option 'script_location': CommandError",
        ),
        (
            "MigrationsCheck",
            {"url": "sqlite://", "alembic_ini": "/no/alembic.ini"},
            "option 'alembic_ini': no such file",
        ),
        (
            "RedisCheck",
            {},
            "no Redis URL: set the option 'url' or the setting 'redis.url'",
        ),
        (
            "RedisCheck",
            {"url": "mysql://me:pw-secret-2@host/"},
            "option 'url': ValueError",
        ),
        (
            "RedisCheck",
            {"url": "redis://x", "socket_timeout": "0"},
            "option 'socket_timeout'",
        ),
        (
            "RedisCheck",
            {"url": "redis://x", "socket_timeout": "1e300"},
            "option 'socket_timeout' must be a positive number of seconds",
        ),
    ],
)
def test_bad_options_fail_at_commit(target, options, message):
    settings = {"svcstatus.handlers": f"check = lovely.ws.status.checks.{target}"}
    settings.update({f"svcstatus.handler.check.{k}": v for k, v in options.items()})
    config = Configurator(settings=settings)
    config.include("lovely.ws.status.svcstatus")
    with pytest.raises(ConfigurationError) as info:
        config.commit()
    text = str(info.value)
    assert message in text
    assert "status handler 'check'" in text
    assert "pw-secret" not in text
    assert "check" not in STATUS_HANDLERS


def test_checks_work_with_add_status_handler(tmp_path):
    addStatusHandler("disk", DiskSpaceCheck(tmp_path, warn_below=0, fail_below=0))
    db = DatabaseCheck(f"sqlite:///{os.path.join(tmp_path, 'x.db')}")
    addStatusHandler("db", db)
    try:
        config = Configurator(settings={})
        config.include("lovely.ws.status.svcstatus")
        app = TestApp(config.make_wsgi_app())
        lines = app.get("/svc_status").text.split("\n")
        assert [line.split("\t")[:2] for line in lines] == [["db", OK], ["disk", OK]]
    finally:
        db.close()


@pytest.mark.parametrize(
    "cls, option",
    [
        ("DatabaseCheck", "connect_timeout"),
        ("MigrationsCheck", "connect_timeout"),
        ("RedisCheck", "socket_timeout"),
        ("HTTPCheck", "request_timeout"),
    ],
)
@pytest.mark.parametrize("value", ["1e300", "inf", "nan", "-1", "0", "soon", ["1"]])
def test_timeout_options_are_checked_before_anything_else(cls, option, value):
    # Refused at start-up, not by every call RED afterwards.
    with pytest.raises(ValueError, match=f"option '{option}' must be"):
        getattr(checks, cls).from_settings({}, {"url": "http://x/", option: value})
