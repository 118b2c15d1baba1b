"""``/__error__``: logs an error and raises, when a setting switches it on."""
from __future__ import annotations

import http.client
import logging

import pytest
from pyramid.response import Response
from webtest import TestApp

from ..helpers import make_app, make_config
from ..servers import serve_wsgi

DOCKERFLOW = "lovely.ws.status.dockerflow"
ON = {"dockerflow.error_endpoint": "true"}


def test_off_by_default():
    app = make_app(DOCKERFLOW)
    app.get("/__error__", status=404)


@pytest.mark.parametrize("path", ["/__error__", "/__error__/"])
def test_error_returns_500_and_logs_error(caplog, path):
    """Adapted from python-dockerflow tests/django/test_django.py::
    test_error_returns_500_and_logs_error, and the tests of the same name for
    Flask, FastAPI and Sanic: the view logs the error and raises (Pyramid
    has no exception view for it, so the server answers 500)."""
    app = make_app(DOCKERFLOW, settings=ON)
    with caplog.at_level(logging.INFO, logger="lovely.ws.status.dockerflow"):
        with pytest.raises(Exception, match="__error__ endpoint"):
            app.get(path)
    records = [r for r in caplog.records if r.name == "lovely.ws.status.dockerflow"]
    assert len(records) == 1
    assert records[0].getMessage() == "The __error__ endpoint was called"
    assert records[0].levelno == logging.ERROR


def test_an_exception_view_of_the_app_sees_it():
    def setup(config):
        config.add_view(lambda exc, request: Response(f"caught: {exc}", status=500),
                        context=Exception)

    app = make_app(DOCKERFLOW, settings=ON, setup=setup)
    response = app.get("/__error__", status=500)
    assert response.text == "caught: This is a test exception from the /__error__ endpoint."


def test_other_methods_get_405():
    app = make_app(DOCKERFLOW, settings=ON)
    response = app.post("/__error__", status=405)
    assert response.headers["Allow"] == "GET, HEAD"


@pytest.mark.server
def test_a_real_server_answers_500():
    """Adapted from python-dockerflow tests/fastapi/test_fastapi.py::
    test_error_returns_500_and_logs_error (``raise_server_exceptions=False``)."""
    config = make_config(DOCKERFLOW, settings=ON)
    with serve_wsgi(config.make_wsgi_app()) as base:
        conn = http.client.HTTPConnection(base[len("http://"):], timeout=30)
        try:
            conn.request("GET", "/__error__")
            assert conn.getresponse().status == 500
        finally:
            conn.close()


def test_the_summary_logs_it_at_error(caplog):
    config = make_config(DOCKERFLOW, settings=dict(ON, **{"dockerflow.request_summary": "1"}))
    app = TestApp(config.make_wsgi_app())
    with caplog.at_level(logging.INFO, logger="request.summary"):
        with pytest.raises(Exception, match="__error__ endpoint"):
            app.get("/__error__")
    [record] = [r for r in caplog.records if r.name == "request.summary"]
    assert record.levelno == logging.ERROR
    assert record.errno == 500
    assert record.getMessage() == "This is a test exception from the /__error__ endpoint."
