"""Request ids on every log record of a request: the tween, the context
variable, :class:`RequestIdLogFilter`, and python-dockerflow's variable."""
from __future__ import annotations

import contextvars
import importlib
import io
import logging
import threading
import uuid

import pytest
from pyramid.events import NewRequest, NewResponse
from pyramid.response import Response

from lovely.ws.status import OK
from lovely.ws.status.dockerflow import (
    MozlogFormatter,
    MozlogHandler,
    RequestIdLogFilter,
    request_id_context,
)
from lovely.ws.status.dockerflow import requestid as requestid_module

from ..helpers import make_app
from .test_mozlog_schema import assert_mozlog, mozlog_of

DOCKERFLOW = "lovely.ws.status.dockerflow"


@pytest.fixture
def app_log():
    """Records of the logger ``tests.app`` (and its children) as MozLog
    JSON through a :class:`MozlogHandler`; ``app_log.records`` has the
    records."""
    stream = io.StringIO()
    with mozlog_of("tests.app", MozlogHandler(stream, name="tests"), stream,
                   logging.DEBUG) as entries:
        yield entries


def logging_view(request):
    logging.getLogger("tests.app.view").info("returning pong")
    return Response("pong")


def ping_app(settings=None, setup=None):
    def all_setup(config):
        config.add_route("ping", "/ping")
        config.add_view(logging_view, route_name="ping")
        if setup is not None:
            setup(config)

    return make_app(DOCKERFLOW, settings=settings, setup=all_setup)


def test_request_id_passed_to_all_log_messages(app_log):
    """Adapted from python-dockerflow tests/fastapi/test_fastapi.py::
    test_request_id_passed_to_all_log_messages."""
    response = ping_app().get("/ping")
    [entry] = app_log()
    rid = response.headers["X-Request-ID"]
    assert entry["Fields"] == {"rid": rid, "msg": "returning pong"}
    assert uuid.UUID(rid).version == 4


def test_the_request_id_comes_from_the_header(app_log):
    """Adapted from python-dockerflow tests/fastapi/test_fastapi.py::test_mozlog_request_id."""
    ping_app().get("/ping", headers={"X-Request-ID": "tracked-value"})
    assert app_log()[0]["Fields"]["rid"] == "tracked-value"


def test_the_header_name_is_a_setting(app_log):
    app = ping_app({"dockerflow.request_id_header_name": "X-Cloud-Trace-Context"})
    response = app.get("/ping", headers={"X-Cloud-Trace-Context": "105445aa7843bc8bf206b1/1;o=1",
                                         "X-Request-ID": "not this one"})
    assert app_log()[0]["Fields"]["rid"] == "105445aa7843bc8bf206b1/1;o=1"
    assert response.headers["X-Cloud-Trace-Context"] == "105445aa7843bc8bf206b1/1;o=1"
    assert "X-Request-ID" not in response.headers


def test_status_handlers_on_worker_threads_log_with_the_request_id(app_log):
    threads = []

    def handler():
        threads.append(threading.current_thread())
        logging.getLogger("tests.app.handler").warning("checking")
        return {"state": OK}

    app = make_app(DOCKERFLOW, setup=lambda config: config.add_status_handler("h", handler))
    app.get("/__heartbeat__", headers={"X-Request-ID": "hb-1"})
    assert threads and threads[0] is not threading.current_thread()
    assert [e["Fields"]["rid"] for e in app_log()] == ["hb-1"]


def test_every_stage_of_the_request_sees_the_id_and_none_after(app_log):
    seen = {}

    def setup(config):
        def new_request(event):
            seen["NewRequest"] = request_id_context.get()
            event.request.add_response_callback(
                lambda request, response: seen.__setitem__("response callback",
                                                            request_id_context.get()))
            event.request.add_finished_callback(
                lambda request: seen.__setitem__("finished callback", request_id_context.get()))

        config.add_subscriber(new_request, NewRequest)
        config.add_subscriber(
            lambda event: seen.__setitem__("NewResponse", request_id_context.get()), NewResponse)

    ping_app(setup=setup).get("/ping", headers={"X-Request-ID": "r-9"})
    assert seen == {"NewRequest": "r-9", "response callback": "r-9",
                    "NewResponse": "r-9", "finished callback": "r-9"}
    assert request_id_context.get() is None


def test_the_id_is_reset_after_a_request_that_raised():
    def setup(config):
        config.add_route("boom", "/boom")
        config.add_view(lambda request: 1 / 0, route_name="boom")

    app = ping_app(setup=setup)
    with pytest.raises(ZeroDivisionError):
        app.get("/boom", headers={"X-Request-ID": "gone"})
    assert request_id_context.get() is None


def test_a_subrequest_keeps_the_id_of_its_request():
    from pyramid.request import Request

    seen = []

    def outer(request):
        seen.append(request_id_context.get())
        request.invoke_subrequest(Request.blank("/inner"), use_tweens=True)
        seen.append(request_id_context.get())
        return Response("outer")

    def inner(request):
        seen.append(request_id_context.get())
        return Response("inner")

    def setup(config):
        for name, view in [("outer", outer), ("inner", inner)]:
            config.add_route(name, "/" + name)
            config.add_view(view, route_name=name)

    ping_app(setup=setup).get("/outer", headers={"X-Request-ID": "parent"})
    assert seen == ["parent", "parent", "parent"]


def test_without_a_request_there_is_no_rid(app_log):
    """Adapted from python-dockerflow tests/fastapi/test_fastapi.py::
    test_mozlog_without_correlation_id_middleware: outside a request the
    filter sets ``rid`` to ``None``, and MozLog output leaves it out."""
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
    assert RequestIdLogFilter().filter(record) is True
    assert record.rid is None
    entry = assert_mozlog(MozlogFormatter().format(record))
    assert "rid" not in entry["Fields"]
    logging.getLogger("tests.app").info("outside")
    assert "rid" not in app_log()[0]["Fields"]


def test_the_filter_puts_rid_on_records_for_any_formatter():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(rid)s %(message)s"))
    handler.addFilter(RequestIdLogFilter())
    logger = logging.Logger("tests.plain", level=logging.INFO)
    logger.addHandler(handler)

    def view(request):
        logger.info("inside")
        return Response("ok")

    def setup(config):
        config.add_route("plain", "/plain")
        config.add_view(view, route_name="plain")

    ping_app(setup=setup).get("/plain", headers={"X-Request-ID": "r-7"})
    logger.info("outside")
    assert stream.getvalue().splitlines() == ["r-7 inside", "None outside"]


def test_the_variable_is_python_dockerflows():
    """With python-dockerflow installed its ``request_id_context`` and its
    filter see the ids of this package."""
    upstream = pytest.importorskip("dockerflow.logging")
    assert request_id_context is upstream.request_id_context
    records = []

    def view(request):
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
        upstream.RequestIdLogFilter().filter(record)
        records.append(record)
        return Response("ok")

    def setup(config):
        config.add_route("up", "/up")
        config.add_view(view, route_name="up")

    ping_app(setup=setup).get("/up", headers={"X-Request-ID": "shared"})
    assert records[0].rid == "shared"


def test_an_id_set_by_python_dockerflow_code_is_seen_here():
    upstream = pytest.importorskip("dockerflow.logging")

    def run():
        upstream.request_id_context.set("from-upstream")
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
        return assert_mozlog(MozlogFormatter().format(record))["Fields"]["rid"]

    assert contextvars.copy_context().run(run) == "from-upstream"


def test_without_python_dockerflow_the_variable_is_its_own(monkeypatch):
    def no_dockerflow(name, *args):
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr(importlib, "import_module", no_dockerflow)
    variable = requestid_module._variable()
    assert isinstance(variable, contextvars.ContextVar)
    assert variable is not request_id_context
    assert variable.get() is None
