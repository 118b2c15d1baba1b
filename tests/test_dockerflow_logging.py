"""MozLog JSON formatting and the request summary tween."""
from __future__ import annotations

import io
import json
import logging
import logging.config
import os
import socket
import subprocess
import sys
import time

import pytest
from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPFound, HTTPNotFound
from pyramid.interfaces import ITweens
from pyramid.response import Response
from webtest import TestApp

from lovely.ws.status.dockerflow import (
    REQUEST_ID_ENVIRON_KEY,
    TWEEN_NAME,
    JsonLogFormatter,
    syslog_severity,
)


class MyAppFormatter(JsonLogFormatter):
    """How an ``.ini`` file picks the ``Logger`` name: a one-line subclass."""

    logger_name = "myapp"


def strict_loads(text):
    """Parse JSON, refusing NaN and Infinity, which are not JSON."""

    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def capture():
    """A logger whose records are formatted by a JsonLogFormatter into a list."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLogFormatter(logger_name="myapp"))
    # A logger outside the hierarchy: nothing else (pytest's capture
    # included) sees its records, and level 1 lets everything through.
    logger = logging.Logger("dockerflow.test.app", level=1)
    logger.addHandler(handler)

    def lines():
        return [strict_loads(line) for line in stream.getvalue().splitlines()]

    yield logger, lines


# -------------------------------------------------------------- formatter


def test_record_field_by_field(capture):
    logger, lines = capture
    before = time.time_ns()
    logger.info("hello %s", "world", extra={"user": "u-1", "items": [1, 2]})
    after = time.time_ns()
    [entry] = lines()
    assert set(entry) == {
        "Timestamp",
        "Type",
        "Logger",
        "Hostname",
        "EnvVersion",
        "Severity",
        "Pid",
        "Fields",
    }
    assert isinstance(entry["Timestamp"], int)
    # record.created is a float: allow for its rounding.
    assert before - 1000 <= entry["Timestamp"] <= after + 1000
    assert entry["Type"] == "dockerflow.test.app"
    assert entry["Logger"] == "myapp"
    assert entry["Hostname"] == socket.gethostname()
    assert entry["EnvVersion"] == "2.0"
    assert entry["Severity"] == 6
    assert entry["Pid"] == os.getpid()
    assert entry["Fields"] == {"msg": "hello world", "user": "u-1", "items": [1, 2]}


def test_one_line_per_record(capture):
    logger, lines = capture
    logger.warning("first\nsecond")
    logger.warning("third")
    assert [e["Fields"]["msg"] for e in lines()] == ["first\nsecond", "third"]


@pytest.mark.parametrize(
    "level, severity",
    [
        (logging.CRITICAL, 2),
        (logging.ERROR, 3),
        (logging.WARNING, 4),
        (logging.INFO, 6),
        (logging.DEBUG, 7),
        (5, 7),
        (25, 6),
        (45, 3),
    ],
)
def test_severity_is_the_syslog_level(capture, level, severity):
    logger, lines = capture
    logger.log(level, "x")
    assert lines()[0]["Severity"] == severity
    assert syslog_severity(level) == severity


def test_exception_record(capture):
    logger, lines = capture
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("while working on %s", "job-7", extra={"job": 7})
    [entry] = lines()
    assert entry["Severity"] == 3
    fields = entry["Fields"]
    assert fields["msg"] == "while working on job-7"
    assert fields["job"] == 7
    assert fields["error"] == "ValueError('boom')"
    assert fields["traceback"].startswith("Traceback (most recent call last):")
    assert fields["traceback"].rstrip().endswith("ValueError: boom")
    assert "test_exception_record" in fields["traceback"]


def test_exception_outside_an_except_block(capture):
    logger, lines = capture
    logger.error("no exception here", exc_info=True)
    fields = lines()[0]["Fields"]
    assert fields["msg"] == "no exception here"
    assert "error" not in fields


def test_stack_info(capture):
    logger, lines = capture
    logger.info("where am I", stack_info=True)
    assert "test_stack_info" in lines()[0]["Fields"]["stack"]


class Unprintable:
    def __repr__(self):
        raise RuntimeError("no repr")

    __str__ = __repr__


def test_fields_are_always_json(capture):
    logger, lines = capture
    cycle = {}
    cycle["self"] = cycle
    logger.info(
        "odd values",
        extra={
            "obj": object(),
            "tags": {"a"},
            "raw": b"\xffbytes",
            "nan": float("nan"),
            "keys": {1: "one", (2, 3): "tuple"},
            "cycle": cycle,
            "unprintable": Unprintable(),
        },
    )
    [entry] = lines()
    fields = entry["Fields"]
    assert fields["obj"].startswith("<object object at")
    assert fields["tags"] == ["a"]
    assert fields["raw"].endswith("bytes")
    assert fields["nan"] == "nan"
    assert fields["keys"] == {"1": "one", "(2, 3)": "tuple"}
    assert fields["cycle"] == {"self": "<recursion>"}
    assert fields["unprintable"] == "<unprintable Unprintable>"


def test_message_with_wrong_arguments_is_kept(capture):
    logger, lines = capture
    logger.info("needs two: %s %s", "only one")
    fields = lines()[0]["Fields"]
    assert fields["msg"] == "needs two: %s %s"
    assert fields["args"] == "('only one',)"


def test_type_name_and_default_logger_name():
    formatter = JsonLogFormatter(type_name="app.log")
    record = logging.LogRecord("some.logger", logging.INFO, __file__, 1, "m", (), None)
    entry = strict_loads(formatter.format(record))
    assert entry["Type"] == "app.log"
    assert entry["Logger"] == "Dockerflow"
    assert strict_loads(MyAppFormatter().format(record))["Logger"] == "myapp"


INI = """\
[loggers]
keys = root, app

[handlers]
keys = file

[formatters]
keys = json

[logger_root]
level = WARNING
handlers =

[logger_app]
level = INFO
handlers = file
qualname = dockerflow.ini.app
propagate = 0

[handler_file]
class = FileHandler
args = ("%(logfile)s", "w")
formatter = json

[formatter_json]
class = {formatter}
format = %(message)s
"""


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        app = logging.getLogger("dockerflow.ini.app")
        for handler in app.handlers[:]:
            app.removeHandler(handler)
            handler.close()
        app.propagate = True
        app.setLevel(logging.NOTSET)
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.mark.parametrize(
    "formatter, logger_name",
    [
        ("lovely.ws.status.dockerflow.JsonLogFormatter", "Dockerflow"),
        ("tests.test_dockerflow_logging.MyAppFormatter", "myapp"),
    ],
)
def test_usable_from_a_logging_ini_file(
    tmp_path, restore_logging, formatter, logger_name
):
    ini = tmp_path / "logging.ini"
    logfile = tmp_path / "app.log"
    ini.write_text(INI.format(formatter=formatter), encoding="utf-8")
    logging.config.fileConfig(
        str(ini), defaults={"logfile": str(logfile)}, disable_existing_loggers=False
    )
    logger = logging.getLogger("dockerflow.ini.app")
    logger.info("configured from %s", "ini", extra={"port": 6543})
    logger.debug("below the level")
    for handler in logger.handlers:
        handler.flush()
    [line] = logfile.read_text(encoding="utf-8").splitlines()
    entry = strict_loads(line)
    assert entry["Logger"] == logger_name
    assert entry["Type"] == "dockerflow.ini.app"
    assert entry["Fields"] == {"msg": "configured from ini", "port": 6543}


def test_usable_from_dict_config_with_a_logger_name(restore_logging):
    stream = io.StringIO()
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "json": {
                    "()": "lovely.ws.status.dockerflow.JsonLogFormatter",
                    "logger_name": "shop",
                }
            },
            "handlers": {
                "out": {
                    "class": "logging.StreamHandler",
                    "stream": stream,
                    "formatter": "json",
                }
            },
            "loggers": {
                "dockerflow.ini.app": {
                    "handlers": ["out"],
                    "level": "INFO",
                    "propagate": False,
                }
            },
        }
    )
    logging.getLogger("dockerflow.ini.app").info("hi")
    assert strict_loads(stream.getvalue())["Logger"] == "shop"


# ------------------------------------------------------------------ tween


@pytest.fixture
def summaries():
    """Records of the ``request.summary`` logger, formatted as MozLog JSON."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLogFormatter())
    logger = logging.getLogger("request.summary")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield lambda: [strict_loads(line) for line in stream.getvalue().splitlines()]
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
        logger.propagate = True


def boom_view(request):
    raise ZeroDivisionError("division by zero")


def summary_app(enabled="true"):
    config = Configurator(settings={"dockerflow.request_summary": enabled})
    config.include("lovely.ws.status.dockerflow")
    for name, view in [
        ("ok", lambda request: Response("fine")),
        ("boom", boom_view),
        ("missing", lambda request: HTTPNotFound()),
        ("raise404", lambda request: (_ for _ in ()).throw(HTTPNotFound())),
        ("redirect", lambda request: HTTPFound("/ok")),
        ("rid", lambda request: Response(request.environ[REQUEST_ID_ENVIRON_KEY])),
    ]:
        config.add_route(name, "/" + name)
        config.add_view(view, route_name=name)
    return TestApp(config.make_wsgi_app())


def test_summary_record(summaries):
    app = summary_app()
    response = app.get(
        "/ok",
        headers={
            "User-Agent": "curl/8.0",
            "Accept-Language": "de-CH",
            "X-Request-ID": "abc-123",
        },
    )
    assert response.headers["X-Request-ID"] == "abc-123"
    [entry] = summaries()
    assert entry["Type"] == "request.summary"
    assert entry["Severity"] == 6
    fields = entry["Fields"]
    t = fields.pop("t")
    assert isinstance(t, int) and t >= 0
    assert fields.pop("msg") == f"GET /ok 200 {t}ms"
    assert fields == {
        "method": "GET",
        "path": "/ok",
        "code": 200,
        "agent": "curl/8.0",
        "lang": "de-CH",
        "rid": "abc-123",
        "errno": 0,
    }


def test_summary_generates_a_request_id(summaries):
    app = summary_app()
    first = app.get("/rid")
    second = app.get("/rid")
    rid = first.headers["X-Request-ID"]
    assert len(rid) == 32 and int(rid, 16) >= 0
    assert second.headers["X-Request-ID"] != rid
    # The app sees the same id as the response and the log.
    assert first.text == rid
    assert [e["Fields"]["rid"] for e in summaries()] == [
        rid,
        second.headers["X-Request-ID"],
    ]
    assert [e["Fields"]["agent"] for e in summaries()] == ["", ""]


@pytest.mark.parametrize("bad", ["x" * 256, "bad\x01id", "nön-ascii"])
def test_summary_replaces_unusable_request_ids(summaries, bad):
    app = summary_app()
    response = app.get("/ok", extra_environ={"HTTP_X_REQUEST_ID": bad})
    rid = response.headers["X-Request-ID"]
    assert rid != bad and len(rid) == 32
    assert summaries()[0]["Fields"]["rid"] == rid


def test_summary_of_a_request_that_raised(summaries):
    app = summary_app()
    with pytest.raises(ZeroDivisionError):
        app.get("/boom", headers={"X-Request-ID": "r-1"})
    [entry] = summaries()
    fields = entry["Fields"]
    assert fields["code"] == 500
    assert fields["errno"] == 500
    assert fields["path"] == "/boom"
    assert fields["rid"] == "r-1"
    assert fields["error"] == "ZeroDivisionError('division by zero')"
    assert entry["Severity"] == 6


def test_summary_sees_the_status_of_the_exception_view(summaries):
    app = summary_app()
    app.get("/raise404", status=404)
    app.get("/missing", status=404)
    app.get("/redirect", status=302)
    app.get("/no/such/route", status=404)
    codes = [(e["Fields"]["path"], e["Fields"]["code"], e["Fields"]["errno"])
             for e in summaries()]
    assert codes == [
        ("/raise404", 404, 0),
        ("/missing", 404, 0),
        ("/redirect", 302, 0),
        ("/no/such/route", 404, 0),
    ]


def test_summary_path_is_quoted(summaries):
    app = summary_app()
    app.get("/caf%C3%A9", status=404)
    assert summaries()[0]["Fields"]["path"] == "/caf%C3%A9"


def test_summary_covers_the_dockerflow_endpoints(summaries):
    app = summary_app()
    app.get("/__lbheartbeat__")
    app.head("/__heartbeat__")
    assert [(e["Fields"]["method"], e["Fields"]["path"]) for e in summaries()] == [
        ("GET", "/__lbheartbeat__"),
        ("HEAD", "/__heartbeat__"),
    ]


def test_summary_logger_below_info_logs_nothing_but_sets_the_id(summaries):
    logging.getLogger("request.summary").setLevel(logging.WARNING)
    response = summary_app().get("/ok")
    assert len(response.headers["X-Request-ID"]) == 32
    assert summaries() == []


def test_no_tween_unless_enabled(summaries):
    for enabled in ("false", None):
        config = Configurator(
            settings={} if enabled is None else {"dockerflow.request_summary": enabled}
        )
        config.include("lovely.ws.status.dockerflow")
        app = TestApp(config.make_wsgi_app())
        response = app.get("/__lbheartbeat__")
        assert "X-Request-ID" not in response.headers
        tweens = config.registry.getUtility(ITweens)
        assert TWEEN_NAME not in [name for name, _ in tweens.implicit()]
    assert summaries() == []


def test_tween_sits_over_the_exception_view():
    config = Configurator(settings={"dockerflow.request_summary": "yes"})
    config.include("lovely.ws.status.dockerflow")
    config.commit()
    names = [name for name, _ in config.registry.getUtility(ITweens).implicit()]
    assert TWEEN_NAME in names
    assert names.index(TWEEN_NAME) < names.index("pyramid.tweens.excview_tween_factory")


def test_formatter_module_imports_without_pyramid_configured():
    # A logging config may import the formatter long before any app exists.
    code = (
        "import logging, lovely.ws.status.dockerflow as d;"
        "print(d.JsonLogFormatter().format("
        "logging.LogRecord('x', 20, 'f', 1, 'm', (), None)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert strict_loads(out)["Fields"] == {"msg": "m"}


@pytest.mark.parametrize(
    "script_name, path_info",
    [
        ("", "/orders"),
        ("/shop", "/orders/7"),
        ("", "/caf\xc3\xa9"),  # UTF-8 bytes as WSGI hands them over
        ("", "/a b/%/?#/~!$&'()*+,;=:@"),
    ],
)
def test_summary_path_is_webobs_request_path(summaries, script_name, path_info):
    from webob import Request

    app = summary_app()
    environ = {"SCRIPT_NAME": script_name, "PATH_INFO": path_info}
    expected = Request(dict(environ, REQUEST_METHOD="GET")).path
    app.get("/", extra_environ=environ, status="*")
    assert summaries()[0]["Fields"]["path"] == expected


def test_summary_path_that_is_not_utf8(summaries):
    # Pyramid's routing (and webob's request.path) raise on such a path; the
    # summary still logs it, quoted, and lets the error through.
    wsgi_app = summary_app().app  # WebTest itself would refuse such a path
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "/\xe2\x82\xac",
        "PATH_INFO": "/\xff",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
    }
    with pytest.raises(UnicodeDecodeError):
        wsgi_app(environ, lambda status, headers, exc_info=None: None)
    fields = summaries()[0]["Fields"]
    assert fields["path"] == "/%E2%82%AC/%FF"
    assert (fields["code"], fields["errno"]) == (500, 500)
