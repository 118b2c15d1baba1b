"""The request summary tween: one MozLog ``request.summary`` record per request."""
from __future__ import annotations

import io
import json
import logging

import pytest
from pyramid.httpexceptions import HTTPFound, HTTPNotFound
from pyramid.interfaces import ITweens
from pyramid.response import Response
from webtest import TestApp

from lovely.ws.status.dockerflow import REQUEST_ID_ENVIRON_KEY, TWEEN_NAME, JsonLogFormatter

from ..helpers import make_app, make_config

DOCKERFLOW = "lovely.ws.status.dockerflow"


def strict_loads(text):
    """Parse JSON, refusing NaN and Infinity, which are not JSON."""

    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


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


def add_views(config):
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


def summary_app(enabled="true"):
    return make_app(DOCKERFLOW, settings={"dockerflow.request_summary": enabled},
                    setup=add_views)


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
        settings = {} if enabled is None else {"dockerflow.request_summary": enabled}
        config = make_config(DOCKERFLOW, settings=settings)
        app = TestApp(config.make_wsgi_app())
        response = app.get("/__lbheartbeat__")
        assert "X-Request-ID" not in response.headers
        tweens = config.registry.getUtility(ITweens)
        assert TWEEN_NAME not in [name for name, _ in tweens.implicit()]
    assert summaries() == []


def test_tween_sits_over_the_exception_view():
    config = make_config(DOCKERFLOW, settings={"dockerflow.request_summary": "yes"})
    config.commit()
    names = [name for name, _ in config.registry.getUtility(ITweens).implicit()]
    assert TWEEN_NAME in names
    assert names.index(TWEEN_NAME) < names.index("pyramid.tweens.excview_tween_factory")


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
