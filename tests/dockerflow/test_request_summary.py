"""The request summary: one MozLog ``request.summary`` record per request,
with the attributes python-dockerflow sets."""
from __future__ import annotations

import io
import logging
import uuid

import pytest
from pyramid.httpexceptions import HTTPFound, HTTPNotFound
from pyramid.interfaces import ITweens
from pyramid.response import Response
from webtest import TestApp

from lovely.ws.status.dockerflow import REQUEST_ID_ENVIRON_KEY, TWEEN_NAME, MozlogFormatter

from ..helpers import make_app, make_config
from ..servers import needs_pyramid2
from .test_mozlog_schema import mozlog_of

DOCKERFLOW = "lovely.ws.status.dockerflow"
HEADERS = {"User-Agent": "dockerflow/tests", "Accept-Language": "tlh"}


@pytest.fixture
def summaries():
    """The ``request.summary`` logger's records, formatted as MozLog JSON and
    checked against the schema; ``summaries.records`` has the records."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(MozlogFormatter())
    with mozlog_of("request.summary", handler, stream, logging.INFO) as entries:
        yield entries


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


def summary_app(enabled="true", setup=None, **settings):
    def all_setup(config):
        add_views(config)
        if setup is not None:
            setup(config)

    settings = {"dockerflow." + key: value for key, value in settings.items()}
    settings["dockerflow.request_summary"] = enabled
    return make_app(DOCKERFLOW, settings=settings, setup=all_setup)


def test_summary_record(summaries):
    """Adapted from python-dockerflow tests/flask/test_flask.py::test_request_summary
    and tests/django/test_django.py::test_request_summary (assert_log_record)."""
    app = summary_app()
    response = app.get("/ok", headers=dict(HEADERS, **{"X-Request-ID": "abc-123"}))
    assert response.headers["X-Request-ID"] == "abc-123"
    [entry] = summaries()
    assert entry["Type"] == "request.summary"
    assert entry["Severity"] == 6
    fields = entry["Fields"]
    t = fields.pop("t")
    assert isinstance(t, int) and t >= 0
    # The message is empty, as python-dockerflow's, so there is no "msg".
    assert fields == {
        "errno": 0,
        "agent": "dockerflow/tests",
        "lang": "tlh",
        "method": "GET",
        "path": "/ok",
        "code": 200,
        "uid": "",
        "rid": "abc-123",
    }
    [record] = summaries.records
    assert record.levelno == logging.INFO
    assert record.getMessage() == ""
    assert (record.errno, record.agent, record.lang, record.method, record.path) == (
        0, "dockerflow/tests", "tlh", "GET", "/ok")
    assert record.rid == "abc-123"
    assert isinstance(record.t, int)


def test_summary_record_attributes_as_fastapi_has_them(summaries):
    """Adapted from python-dockerflow tests/fastapi/test_fastapi.py::test_mozlog_record_attrs
    and ::test_mozlog_record_formatted_as_json."""
    app = summary_app(summary_log_querystring="true")
    app.get("/__lbheartbeat__?x=%D8%B4%D9%83%D8%B1",
            headers={"User-Agent": "dockerflow/tests", "Accept-Language": "en-US"})
    [record] = summaries.records
    assert record.levelno == logging.INFO
    assert record.agent == "dockerflow/tests"
    assert record.lang == "en-US"
    assert record.method == "GET"
    assert record.code == 200
    assert record.path == "/__lbheartbeat__"
    assert record.querystring == "x=شكر"
    assert isinstance(record.t, int)
    assert summaries()[0]["Fields"]["querystring"] == "x=شكر"


def test_querystring_only_on_opt_in(summaries):
    """Adapted from python-dockerflow tests/django/test_django.py::test_request_summary_querystring
    (and the Flask and Sanic tests of the same name)."""
    summary_app().get("/ok?x=1")
    assert "querystring" not in summaries()[0]["Fields"]
    summary_app(summary_log_querystring="true").get("/ok?x=%D8%B4%D9%83%D8%B1")
    assert summaries()[1]["Fields"]["querystring"] == "x=شكر"


def test_querystring_hides_passwords_and_keeps_odd_bytes(summaries):
    app = summary_app(summary_log_querystring="true")
    app.get("/ok?user=u&password=s3cret&pwd=x&next=%2Fhome&bad=%FF",
            extra_environ={"QUERY_STRING": "user=u&password=s3cret&pwd=x&next=%2Fhome&bad=%FF"})
    assert summaries()[0]["Fields"]["querystring"] == (
        "user=u&password=***&pwd=***&next=/home&bad=%FF")


def test_summary_generates_a_dashed_uuid4(summaries):
    app = summary_app()
    first = app.get("/rid")
    second = app.get("/rid")
    rid = first.headers["X-Request-ID"]
    assert str(uuid.UUID(rid)) == rid and uuid.UUID(rid).version == 4
    assert second.headers["X-Request-ID"] != rid
    # The app sees the same id as the response and the log.
    assert first.text == rid
    assert [e["Fields"]["rid"] for e in summaries()] == [rid, second.headers["X-Request-ID"]]
    assert [e["Fields"]["agent"] for e in summaries()] == ["", ""]


@pytest.mark.parametrize("bad", ["x" * 256, "bad\x01id", "nön-ascii", ""])
def test_summary_replaces_unusable_request_ids(summaries, bad):
    app = summary_app()
    response = app.get("/ok", extra_environ={"HTTP_X_REQUEST_ID": bad})
    rid = response.headers["X-Request-ID"]
    assert rid != bad and uuid.UUID(rid).version == 4
    assert summaries()[0]["Fields"]["rid"] == rid


def test_an_exception_that_escapes_is_logged_at_error(summaries):
    """Adapted from python-dockerflow tests/django/test_django.py::test_request_summary_exception,
    tests/flask/test_flask.py::test_request_summary_exception and
    tests/sanic/test_sanic.py::test_request_summary_exception."""
    app = summary_app()
    with pytest.raises(ZeroDivisionError):
        app.get("/boom", headers=dict(HEADERS, **{"X-Request-ID": "r-1"}))
    [entry] = summaries()
    assert entry["Severity"] == 3
    fields = entry["Fields"]
    assert fields["msg"] == "division by zero"
    assert fields["errno"] == 500
    assert fields["code"] == 500
    assert fields["path"] == "/boom"
    assert fields["rid"] == "r-1"
    assert fields["error"] == "ZeroDivisionError('division by zero')"
    [record] = summaries.records
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "division by zero"
    assert (record.agent, record.lang, record.method) == ("dockerflow/tests", "tlh", "GET")
    assert isinstance(record.t, int)


def test_an_exception_without_text_has_no_msg_but_its_error(summaries):
    def setup(config):
        config.add_route("bare", "/bare")
        config.add_view(lambda request: (_ for _ in ()).throw(KeyError()), route_name="bare")

    with pytest.raises(KeyError):
        summary_app(setup=setup).get("/bare")
    fields = summaries()[0]["Fields"]
    assert "msg" not in fields
    assert fields["error"] == "KeyError()"


def test_summary_sees_the_status_of_the_exception_view(summaries):
    app = summary_app()
    app.get("/raise404", status=404)
    app.get("/missing", status=404)
    app.get("/redirect", status=302)
    app.get("/no/such/route", status=404)
    codes = [(e["Fields"]["path"], e["Fields"]["code"], e["Fields"]["errno"], e["Severity"])
             for e in summaries()]
    assert codes == [
        ("/raise404", 404, 0, 6),
        ("/missing", 404, 0, 6),
        ("/redirect", 302, 0, 6),
        ("/no/such/route", 404, 0, 6),
    ]


def test_summary_path_is_decoded(summaries):
    app = summary_app()
    app.get("/caf%C3%A9", status=404)
    assert summaries()[0]["Fields"]["path"] == "/café"


def test_summary_covers_the_dockerflow_endpoints(summaries):
    """Adapted from python-dockerflow tests/fastapi/test_fastapi.py::test_mozlog_record_attrs
    (the summary of /__lbheartbeat__)."""
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
    assert uuid.UUID(response.headers["X-Request-ID"]).version == 4
    assert summaries() == []


def test_summary_logger_at_warning_still_logs_an_exception(summaries):
    logging.getLogger("request.summary").setLevel(logging.WARNING)
    with pytest.raises(ZeroDivisionError):
        summary_app().get("/boom")
    assert [e["Severity"] for e in summaries()] == [3]


def test_no_summary_unless_enabled(summaries):
    for enabled in ("false", None):
        settings = {} if enabled is None else {"dockerflow.request_summary": enabled}
        app = make_app(DOCKERFLOW, settings=settings)
        response = app.get("/__lbheartbeat__")
        assert "X-Request-ID" in response.headers  # the id tween is still there
    assert summaries() == []


def test_no_tween_without_summary_and_request_id(summaries):
    config = make_config(DOCKERFLOW, settings={"dockerflow.request_id": "false"})
    app = TestApp(config.make_wsgi_app())
    assert "X-Request-ID" not in app.get("/__lbheartbeat__").headers
    names = [name for name, _ in config.registry.getUtility(ITweens).implicit()]
    assert TWEEN_NAME not in names
    # The summary needs the tween, and so gets ids too.
    app = summary_app(request_id="false")
    app.get("/ok", headers={"X-Request-ID": "kept"})
    assert summaries()[0]["Fields"]["rid"] == "kept"


def test_the_tween_is_over_the_exception_view_and_tweens_placed_over_it():
    # pyramid_tm, for one, places its tween over the exception view.
    config = make_config(DOCKERFLOW, settings={"dockerflow.request_summary": "yes"})
    config.add_tween("tests.dockerflow.test_request_summary.passing_tween_factory",
                     over="pyramid.tweens.excview_tween_factory")
    config.commit()
    names = [name for name, _ in config.registry.getUtility(ITweens).implicit()]
    assert names[0] == TWEEN_NAME
    assert names.index(TWEEN_NAME) < names.index("pyramid.tweens.excview_tween_factory")


def passing_tween_factory(handler, registry):
    return handler


@pytest.mark.parametrize(
    "script_name, path_info, path",
    [
        ("", "/orders", "/orders"),
        ("/shop", "/orders/7", "/shop/orders/7"),
        ("", "/caf\xc3\xa9", "/café"),  # UTF-8 bytes as WSGI hands them over
        ("", "/a b/%/?#/~!$&'()*+,;=:@", "/a b/%/?#/~!$&'()*+,;=:@"),
    ],
)
def test_summary_path_is_script_name_and_path_info_decoded(
        summaries, script_name, path_info, path):
    from webob import Request

    app = summary_app()
    environ = {"SCRIPT_NAME": script_name, "PATH_INFO": path_info}
    webob_request = Request(dict(environ, REQUEST_METHOD="GET"))
    assert webob_request.script_name + webob_request.path_info == path
    app.get("/", extra_environ=environ, status="*")
    assert summaries()[0]["Fields"]["path"] == path


def test_summary_path_that_is_not_utf8(summaries):
    # Pyramid's routing (and webob's request.path) raise on such a path; the
    # summary still logs it, with the bytes that are not UTF-8 quoted, and
    # lets the error through.
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
    entry = summaries()[0]
    assert entry["Fields"]["path"] == "/€/%FF"
    assert (entry["Fields"]["code"], entry["Fields"]["errno"], entry["Severity"]) == (500, 500, 3)


class UserPolicy:
    """A security policy whose user is the ``X-User`` header."""

    def identity(self, request):
        return request.headers.get("X-User")

    def authenticated_userid(self, request):
        return request.headers.get("X-User")

    def permits(self, request, context, permission):
        return True

    def remember(self, request, userid, **kw):
        return []

    def forget(self, request, **kw):
        return []


class BrokenPolicy(UserPolicy):
    def authenticated_userid(self, request):
        raise RuntimeError("the user database is down")


@needs_pyramid2
def test_uid_is_the_authenticated_user_id(summaries):
    """Adapted from python-dockerflow tests/flask/test_flask.py::test_request_summary_user_success
    and tests/django/test_django.py::test_request_summary_admin_user."""
    app = summary_app(setup=lambda config: config.set_security_policy(UserPolicy()))
    app.get("/ok", headers={"X-User": "100"})
    app.get("/ok")
    assert [e["Fields"]["uid"] for e in summaries()] == ["100", ""]
    assert summaries.records[0].uid == "100"


@needs_pyramid2
def test_a_broken_security_policy_gives_no_uid_but_the_record(summaries):
    """The summary must not fail where the app's policy does."""
    app = summary_app(setup=lambda config: config.set_security_policy(BrokenPolicy()))
    app.get("/ok")
    with pytest.raises(ZeroDivisionError):
        app.get("/boom")
    assert [(e["Fields"]["uid"], e["Fields"]["code"]) for e in summaries()] == [
        ("", 200), ("", 500)]


def test_uid_without_a_security_policy_is_empty(summaries):
    """Adapted from python-dockerflow tests/flask/test_flask.py::
    test_request_summary_user_flask_login_missing (no login manager: uid "")."""
    summary_app().get("/ok")
    assert summaries()[0]["Fields"]["uid"] == ""
