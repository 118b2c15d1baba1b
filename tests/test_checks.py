"""The built-in checks that need no server: disk space, HTTP (against a
loopback server of the test), the base class, and registration from the
``.ini`` settings."""

from __future__ import annotations

import base64
import http.server
import json
import os
import shutil
import threading
import urllib.parse

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from webtest import TestApp

from lovely.ws.status import OK, RED, STATUS_HANDLERS, YELLOW, addStatusHandler
from lovely.ws.status.checks import (
    Check,
    DatabaseCheck,
    DiskSpaceCheck,
    HTTPCheck,
    MigrationsCheck,
    RedisCheck,
    parse_size,
    parse_threshold,
    scrub,
)

from .servers import free_port

HUGE = 10**18  # more bytes than any test machine has free


# ------------------------------------------------------------------ base


class BoomError(Exception):
    pass


class UnprintableError(Exception):
    def __str__(self):
        raise RuntimeError("no text")


def test_a_check_turns_its_exception_into_red():
    class Failing(Check):
        secrets = ("hunter2",)

        def check(self):
            raise BoomError("cannot log in with hunter2\n  second line")

    assert Failing()() == {
        "state": RED,
        "detail": "BoomError: cannot log in with *** second line",
    }


def test_an_exception_without_text_gives_its_class_name():
    class Failing(Check):
        def check(self):
            raise UnprintableError()

    assert Failing()() == {"state": RED, "detail": "UnprintableError"}


def test_scrub_hides_url_passwords_and_quoted_secrets():
    text = "cannot reach postgresql://me:p%40ss@db/x (password p@ss)"
    assert scrub(text, ["p@ss", "p%40ss"]) == (
        "cannot reach postgresql://me:***@db/x (password ***)"
    )
    # A URL password is found even when the check was not told about it.
    assert (
        scrub("bad url redis://:topsecret@host:1/0") == "bad url redis://:***@host:1/0"
    )


def test_scrub_shortens_long_details():
    text = scrub("x" * 2000)
    assert len(text) == 500 and text.endswith("\u2026")


# ------------------------------------------------------------ disk space


@pytest.mark.parametrize(
    "value, expected",
    [
        (0.1, ("ratio", 0.1)),
        (0, ("bytes", 0)),
        (5, ("bytes", 5)),
        (1e9, ("bytes", 10**9)),
        ("10%", ("ratio", 0.1)),
        (" 2.5 % ", ("ratio", 0.025)),
        ("0.2", ("ratio", 0.2)),
        ("1048576", ("bytes", 1048576)),
        ("500MB", ("bytes", 500 * 10**6)),
        ("500 mb", ("bytes", 500 * 10**6)),
        ("2GiB", ("bytes", 2 * 2**30)),
        ("1.5 TB", ("bytes", 1_500_000_000_000)),
        ("64KiB", ("bytes", 65536)),
        ("3B", ("bytes", 3)),
    ],
)
def test_thresholds_are_fractions_or_bytes(value, expected):
    assert parse_threshold(value) == pytest.approx(expected)
    assert parse_threshold(value)[0] == expected[0]


@pytest.mark.parametrize(
    "value",
    [
        "",
        "lots",
        "10 %%",
        "100%",
        "-1%",
        "5 GB free",
        "5M",
        -1,
        -0.5,
        2.5,
        float("nan"),
        True,
        None,
        "1e9",
    ],
)
def test_bad_thresholds_are_refused(value):
    with pytest.raises(ValueError):
        parse_threshold(value)


def test_parse_size():
    assert parse_size("1kB") == 1000
    assert parse_size("1 KiB") == 1024
    assert parse_size(7) == 7
    with pytest.raises(ValueError):
        parse_size("1 KB and more")


def test_disk_space_reports_free_bytes_and_ratio_as_labels(tmp_path):
    status = DiskSpaceCheck(tmp_path, warn_below=0, fail_below=0)()
    usage = shutil.disk_usage(tmp_path)
    assert status["state"] == OK
    assert set(status["labels"]) == {"free_bytes", "free_ratio"}
    free, ratio = status["labels"]["free_bytes"], status["labels"]["free_ratio"]
    assert isinstance(free, int) and isinstance(ratio, float)
    assert 0 < free <= usage.total
    assert 0 < ratio <= 1
    assert ratio == pytest.approx(free / usage.total, abs=1e-5)
    assert "free of" in status["detail"] and "below" not in status["detail"]


def test_disk_space_yellow_and_red_by_bytes(tmp_path):
    yellow = DiskSpaceCheck(str(tmp_path), warn_below=HUGE, fail_below=0)()
    assert yellow["state"] == YELLOW
    assert yellow["detail"].endswith(", below 888.2 PiB")
    red = DiskSpaceCheck(tmp_path, warn_below=HUGE, fail_below="1000000 TB")()
    assert red["state"] == RED
    assert "below" in red["detail"]


def test_disk_space_by_fraction(tmp_path):
    # A threshold just under 100%: YELLOW exactly when the disk is not empty.
    status = DiskSpaceCheck(tmp_path, warn_below=0.999999, fail_below="0%")()
    expected = YELLOW if status["labels"]["free_ratio"] < 0.999999 else OK
    assert status["state"] == expected
    red = DiskSpaceCheck(tmp_path, warn_below=0.999999, fail_below="99.9999%")()
    assert red["state"] == (RED if red["labels"]["free_ratio"] < 0.999999 else OK)


def test_disk_space_of_a_missing_path_is_red(tmp_path):
    status = DiskSpaceCheck(tmp_path / "gone")()
    assert status["state"] == RED
    assert status["detail"].startswith("FileNotFoundError: ")
    assert "labels" not in status


def test_disk_space_refuses_fail_above_warn(tmp_path):
    with pytest.raises(
        ValueError, match="'fail_below' \\(20%\\) is above 'warn_below'"
    ):
        DiskSpaceCheck(tmp_path, warn_below="10%", fail_below=0.2)
    with pytest.raises(ValueError, match="'warn_below'"):
        DiskSpaceCheck(tmp_path, warn_below="much")
    # Different kinds cannot be compared, so both are kept.
    DiskSpaceCheck(tmp_path, warn_below="10%", fail_below="1GiB")


def test_disk_space_labels_in_prometheus_output(tmp_path):
    config = Configurator(settings={})
    config.include("lovely.ws.status.svcstatus")
    config.add_status_handler(
        "disk", DiskSpaceCheck(tmp_path, warn_below=0, fail_below=0)
    )
    app = TestApp(config.make_wsgi_app())
    lines = app.get("/svc_status.prometheus").text.splitlines()
    assert 'svc_status{name="disk"} 0' in lines
    free = [
        line for line in lines if line.startswith('svc_status{name="disk_free_bytes"}')
    ]
    ratio = [
        line for line in lines if line.startswith('svc_status{name="disk_free_ratio"}')
    ]
    assert len(free) == 1 and len(ratio) == 1
    assert int(float(free[0].split()[-1])) > 0
    assert 0 < float(ratio[0].split()[-1]) <= 1


# ------------------------------------------------------------------ HTTP


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _answer(self, code, headers=()):
        self.send_response(code)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        server = self.server
        path, _, query = self.path.partition("?")
        server.seen.append((path, self.headers.get("Authorization")))
        params = dict(urllib.parse.parse_qsl(query))
        if path == "/ok":
            self._answer(200)
        elif path == "/no-content":
            self._answer(204)
        elif path == "/fail":
            self._answer(500)
        elif path == "/hang":
            server.release.wait(30)
        elif path == "/redirect":
            self._answer(int(params.get("code", "302")), [("Location", params["to"])])
        elif path == "/auth":
            expected = "Basic " + base64.b64encode(b"me:s3cr@t pw").decode()
            self._answer(200 if self.headers.get("Authorization") == expected else 401)
        else:
            self._answer(404)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a released /hang writes to a socket the client closed long ago


@pytest.fixture
def web(monkeypatch):
    for name in (
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)
    server = _Server(("127.0.0.1", 0), _Handler)
    server.seen = []
    server.release = threading.Event()
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    server.base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_http_ok(web):
    status = HTTPCheck(web.base + "/ok")()
    assert status["state"] == OK
    assert status["detail"].startswith("HTTP 200 OK in ")
    assert status["detail"].endswith(" ms")


def test_http_500_is_red(web):
    assert HTTPCheck(web.base + "/fail")() == {
        "state": RED,
        "detail": "HTTP 500 Internal Server Error, expected 200",
    }


def test_http_other_expected_status(web):
    assert HTTPCheck(web.base + "/fail", expect_status=500)()["state"] == OK
    assert (
        HTTPCheck(web.base + "/no-content", expect_status=(200, 204))()["state"] == OK
    )
    assert HTTPCheck(web.base + "/missing", expect_status=(200, 204))() == {
        "state": RED,
        "detail": "HTTP 404 Not Found, expected 200 or 204",
    }


def test_http_hanging_server_is_red_after_the_timeout(web):
    status = HTTPCheck(web.base + "/hang", timeout=0.3)()
    assert status["state"] == RED
    assert status["detail"] in ("TimeoutError: timed out", "timeout: timed out")


def test_http_nothing_listening_is_red():
    status = HTTPCheck(f"http://127.0.0.1:{free_port()}/", timeout=2)()
    assert status == {
        "state": RED,
        "detail": "ConnectionRefusedError: [Errno 111] Connection refused",
    }


def test_http_follows_redirects_to_http(web):
    status = HTTPCheck(web.base + "/redirect?to=/ok")()
    assert status["state"] == OK
    assert [path for path, _ in web.seen] == ["/redirect", "/ok"]


@pytest.mark.parametrize(
    "target", ["ftp://127.0.0.1/file", "file:///etc/passwd", "gopher://127.0.0.1/"]
)
def test_http_never_follows_to_other_schemes(web, target):
    status = HTTPCheck(
        web.base + "/redirect?" + urllib.parse.urlencode({"to": target})
    )()
    assert status["state"] == RED
    scheme = target.split(":")[0]
    assert status["detail"] == (
        f"RedirectRefused: refused to follow a redirect (302) to a {scheme} URL;"
        " only http and https are followed"
    )
    assert [path for path, _ in web.seen] == ["/redirect"]


def test_http_without_following_redirects(web):
    url = web.base + "/redirect?to=/ok"
    assert HTTPCheck(url, follow_redirects=False)() == {
        "state": RED,
        "detail": "HTTP 302 Found, expected 200",
    }
    assert HTTPCheck(url, follow_redirects=False, expect_status=302)()["state"] == OK
    assert [path for path, _ in web.seen] == ["/redirect", "/redirect"]


def test_http_credentials_become_basic_auth_and_stay_hidden(web):
    host = web.base[len("http://") :]
    good = HTTPCheck(f"http://me:s3cr%40t%20pw@{host}/auth")
    assert good.url == web.base + "/auth"
    assert good()["state"] == OK
    bad = HTTPCheck(f"http://me:wrong-pw@{host}/auth")()
    assert bad == {"state": RED, "detail": "HTTP 401 Unauthorized, expected 200"}
    assert "wrong-pw" not in repr(HTTPCheck(f"http://me:wrong-pw@{host}/auth"))


def test_http_credentials_are_not_sent_after_a_redirect(web):
    host = web.base[len("http://") :]
    status = HTTPCheck(f"http://me:s3cr%40t%20pw@{host}/redirect?to=/ok")()
    assert status["state"] == OK
    (first, first_auth), (second, second_auth) = web.seen
    assert first == "/redirect" and first_auth is not None
    assert second == "/ok" and second_auth is None


def test_http_password_hidden_in_errors():
    port = free_port()
    status = HTTPCheck(f"http://me:pw-in-url-9@127.0.0.1:{port}/")()
    assert status["state"] == RED
    assert "pw-in-url-9" not in json.dumps(status)


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://127.0.0.1/", "http:///nohost", "127.0.0.1:80"]
)
def test_http_only_http_urls(url):
    with pytest.raises(ValueError, match="http or https URL"):
        HTTPCheck(url)


@pytest.mark.parametrize("expect", [0, 1000, "x", True, (), [200, "bad"]])
def test_http_bad_expected_status(expect):
    with pytest.raises(ValueError):
        HTTPCheck("http://127.0.0.1/", expect_status=expect)


def test_http_bad_timeout():
    with pytest.raises(ValueError, match="seconds"):
        HTTPCheck("http://127.0.0.1/", timeout=0)


# ------------------------------------------------ registration from settings


def _app(settings):
    config = Configurator(settings=settings)
    config.include("lovely.ws.status.svcstatus")
    return TestApp(config.make_wsgi_app())


def test_checks_registered_from_settings(tmp_path, web):
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
    assert isinstance(STATUS_HANDLERS["db"], DatabaseCheck)
    assert isinstance(STATUS_HANDLERS["api"], HTTPCheck)
    assert STATUS_HANDLERS["api"].timeout == 2
    assert STATUS_HANDLERS["api"].expect_status == (200, 204)
    assert STATUS_HANDLERS["broken_api"].follow_redirects is False
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
    for name in ("db", "other_db"):
        STATUS_HANDLERS[name].close()


def test_disk_path_defaults_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _app({"svcstatus.handlers": "disk = lovely.ws.status.checks.DiskSpaceCheck"})
    check = STATUS_HANDLERS["disk"]
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
            "option 'warn_below': expected a size",
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
            "option 'request_timeout': expected a positive number of seconds",
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


def test_every_check_has_from_settings():
    for cls in (DatabaseCheck, MigrationsCheck, RedisCheck, DiskSpaceCheck, HTTPCheck):
        assert "from_settings" in vars(cls), cls


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


class AlwaysYellow(Check):
    """A check of an app, built on the base class (used by dotted name below)."""

    def check(self):
        return {"state": YELLOW, "detail": "as always"}


def test_a_subclass_without_options_from_settings():
    name = f"{__name__}.AlwaysYellow"
    app = _app({"svcstatus.handlers": f"mine = {name}"})
    assert app.get("/svc_status.json").json == {
        "mine": {"state": YELLOW, "detail": "as always"}
    }
    config = Configurator(
        settings={
            "svcstatus.handlers": f"mine = {name}",
            "svcstatus.handler.mine.x": "1",
        }
    )
    config.include("lovely.ws.status.svcstatus")
    with pytest.raises(ConfigurationError, match="unknown option 'x' for AlwaysYellow"):
        config.commit()
