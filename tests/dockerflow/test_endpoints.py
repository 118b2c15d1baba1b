"""The three Dockerflow endpoints as routes: names, prefix, methods, HEAD,
permissions, and the answers on the wire."""
from __future__ import annotations

import http.client
import json

import pytest
from pyramid.config import Configurator
from pyramid.interfaces import IRoutesMapper
from pyramid.response import Response
from pyramid.testing import DummyRequest
from webtest import TestApp

from lovely.ws.status import RED, YELLOW, addStatusHandler

from ..helpers import fixed, make_app, make_config
from ..servers import needs_pyramid2, serve_wsgi

DOCKERFLOW = "lovely.ws.status.dockerflow"

VERSION = {
    "source": "https://github.com/example/app",
    "version": "1.2.3",
    "commit": "0123456789abcdef",
    "build": "https://ci.example.com/build/42",
}


@pytest.fixture
def version_file(tmp_path):
    path = tmp_path / "version.json"
    path.write_text(json.dumps(VERSION), encoding="utf-8")
    return str(path)


def test_routes_have_names_and_dockerflow_paths():
    config = make_config(DOCKERFLOW)
    config.commit()
    mapper = config.registry.getUtility(IRoutesMapper)
    routes = {route.name: route for route in mapper.get_routes()}
    for name, path in [
        ("dockerflow.version", "/__version__"),
        ("dockerflow.heartbeat", "/__heartbeat__"),
        ("dockerflow.lbheartbeat", "/__lbheartbeat__"),
    ]:
        route = routes[name]
        assert route.match(path) is not None
        assert route.match(path + "/") is not None
        assert route.match(path + "//") is None
    request = DummyRequest()
    request.registry = config.registry
    assert request.route_path("dockerflow.version") == "/__version__"
    assert request.route_url("dockerflow.heartbeat") == "http://example.com/__heartbeat__"


def test_route_prefix_moves_the_endpoints():
    config = Configurator()
    config.include(DOCKERFLOW, route_prefix="/ops")
    app = TestApp(config.make_wsgi_app())
    app.get("/ops/__lbheartbeat__", status=200)
    app.get("/ops/__heartbeat__", status=200)
    app.get("/ops/__heartbeat__/", status=200)
    app.get("/__lbheartbeat__", status=404)


@pytest.mark.parametrize("path", ["/__version__/", "/__heartbeat__/", "/__lbheartbeat__/"])
def test_a_trailing_slash_is_the_same_endpoint(version_file, path):
    """Adapted from python-dockerflow tests/django/test_django.py::test_version_exists
    (parametrized with "/__version__" and "/__version__/")."""
    app = make_app(DOCKERFLOW, settings={"dockerflow.version_file": version_file})
    with_slash = app.get(path)
    without = app.get(path.rstrip("/"))
    assert with_slash.status_int == without.status_int == 200
    assert with_slash.json == without.json
    if path == "/__version__/":
        assert with_slash.json == VERSION


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
@pytest.mark.parametrize("path", ["/__version__", "/__heartbeat__", "/__lbheartbeat__",
                                  "/__heartbeat__/"])
def test_other_methods_get_405_with_allow(method, path):
    addStatusHandler("db", fixed(state=RED))
    app = make_app(DOCKERFLOW)
    response = app.request(path, method=method, status=405)
    assert response.headers["Allow"] == "GET, HEAD"
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json == {"error": "method not allowed"}


@needs_pyramid2
def test_405_needs_no_permission_nor_csrf_token():
    def setup(config):
        config.set_security_policy(DenyAll())
        config.set_default_permission("view")
        config.set_default_csrf_options(require_csrf=True)

    app = make_app(DOCKERFLOW, setup=setup)
    app.post("/__heartbeat__", status=405)


def test_include_twice_and_with_svcstatus_is_harmless():
    app = make_app(DOCKERFLOW, DOCKERFLOW, "lovely.ws.status.svcstatus")
    app.get("/__heartbeat__", status=200)
    app.get("/svc_status", status=200)


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
def test_endpoints_ignore_a_default_permission_and_csrf(version_file):
    def setup(config):
        config.set_security_policy(DenyAll())
        config.set_default_permission("view")
        config.set_default_csrf_options(require_csrf=True)
        config.add_route("home", "/")
        config.add_view(lambda request: Response("home"), route_name="home")

    app = make_app(DOCKERFLOW, settings={"dockerflow.version_file": version_file},
                   setup=setup)
    app.get("/", status=403)  # the policy really denies
    app.get("/__lbheartbeat__", status=200)
    app.get("/__heartbeat__", status=200)
    app.get("/__version__", status=200)
    app.head("/__heartbeat__", status=200)


def test_head_answers_like_get_without_a_body(version_file):
    addStatusHandler("db", fixed(state=RED))
    app = make_app(DOCKERFLOW, settings={"dockerflow.version_file": version_file})
    for path, status in [
        ("/__lbheartbeat__", 200),
        ("/__heartbeat__", 500),
        ("/__version__", 200),
    ]:
        response = app.head(path, status=status)
        assert response.body == b""
        assert response.headers["Content-Type"] == "application/json"
        full = app.get(path, status=status)
        assert int(response.headers["Content-Length"]) == len(full.body)


@pytest.mark.server
def test_head_and_get_on_the_wire_through_waitress(version_file):
    addStatusHandler("disk", fixed(state=YELLOW, detail="80%"))
    config = make_config(DOCKERFLOW, settings={"dockerflow.version_file": version_file})
    with serve_wsgi(config.make_wsgi_app()) as base:
        conn = http.client.HTTPConnection(base[len("http://"):], timeout=30)
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
