"""python-dockerflow's tests of ``/__version__``, ``/__lbheartbeat__`` and
the include itself (Flask, Django, FastAPI, Sanic and core, release
2026.3.4), against this package; each names the test it comes from.

Where the answer differs on purpose (the body of a missing version file,
of ``/__lbheartbeat__``), docs/dockerflow-migration.rst says why.
"""
from __future__ import annotations

import json

import pytest
from pyramid.config import Configurator
from pyramid.interfaces import IRoutesMapper

from ..helpers import make_app

DOCKERFLOW = "lovely.ws.status.dockerflow"

VERSION_CONTENT = {
    "source": "https://github.com/mozilla-services/python-dockerflow",
    "version": "release tag or string for humans",
    "commit": "<git hash>",
    "build": "uri to CI build job",
}


@pytest.fixture
def version_dir(tmp_path):
    (tmp_path / "version.json").write_text(json.dumps(VERSION_CONTENT), encoding="utf-8")
    return tmp_path


def version_callback(request):
    return {"version": "1.0"}


def no_version(request):
    return None


def test_instantiating():
    """From tests/flask/test_flask.py::test_instantiating and
    tests/sanic/test_sanic.py::test_instantiating."""
    config = Configurator()
    config.commit()
    assert config.registry.queryUtility(IRoutesMapper) is None
    config.include(DOCKERFLOW)
    config.commit()
    names = [r.name for r in config.registry.getUtility(IRoutesMapper).get_routes()]
    assert "dockerflow.heartbeat" in names


@pytest.mark.parametrize("path", ["/__version__", "/__version__/"])
def test_version_exists(version_dir, path):
    """From tests/flask/test_flask.py::test_version_exists,
    tests/django/test_django.py::test_version_exists (with and without the
    slash), tests/sanic/test_sanic.py::test_version_exists and
    tests/core/test_version.py::test_get_version."""
    app = make_app(DOCKERFLOW, settings={
        "dockerflow.version_file": str(version_dir / "version.json")})
    response = app.get(path, status=200)
    assert response.json == VERSION_CONTENT


def test_version_path(version_dir):
    """From tests/flask/test_flask.py::test_version_path and
    tests/sanic/test_sanic.py::test_version_path (``version_path``):
    ``dockerflow.version_file`` names the file itself."""
    app = make_app(DOCKERFLOW, settings={
        "dockerflow.version_file": str(version_dir / "version.json")})
    assert app.get("/__version__").json == VERSION_CONTENT


def test_version_missing(tmp_path):
    """From tests/flask/test_flask.py::test_version_missing,
    tests/django/test_django.py::test_version_missing,
    tests/sanic/test_sanic.py::test_version_missing and
    tests/core/test_version.py::test_no_version_json."""
    app = make_app(DOCKERFLOW, settings={
        "dockerflow.version_file": str(tmp_path / "version.json")})
    assert app.get("/__version__", status=404).json == {"error": "no version information"}
    app = make_app(DOCKERFLOW, settings={
        "dockerflow.version_callback": "tests.dockerflow.test_upstream_endpoints:no_version"})
    app.get("/__version__", status=404)


def test_version_callback():
    """From tests/flask/test_flask.py::test_version_callback and
    tests/sanic/test_sanic.py::test_version_callback; Django's
    ``DOCKERFLOW_VERSION_CALLBACK`` too."""
    app = make_app(DOCKERFLOW, settings={
        "dockerflow.version_callback":
            "tests.dockerflow.test_upstream_endpoints:version_callback"})
    response = app.get("/__version__", status=200)
    assert response.json == {"version": "1.0"}


def test_version_env_var(version_dir, monkeypatch):
    """From tests/fastapi/test_fastapi.py::test_version_env_var (and
    ::test_version_app_state, whose ``app.state.APP_DIR`` is the
    ``dockerflow.version_file`` setting here)."""
    monkeypatch.setenv("APP_DIR", str(version_dir))
    assert make_app(DOCKERFLOW).get("/__version__").json == VERSION_CONTENT


def test_version_default(monkeypatch):
    """From tests/fastapi/test_fastapi.py::test_version_default: without
    ``APP_DIR`` the file is ``/app/version.json``."""
    monkeypatch.delenv("APP_DIR", raising=False)
    config = Configurator()
    config.include(DOCKERFLOW)
    config.commit()
    from lovely.ws.status.appstatus import get_app_status

    assert get_app_status(config.registry).version.path == "/app/version.json"


def test_lbheartbeat_get():
    """From tests/fastapi/test_fastapi.py::test_lbheartbeat_get (the Flask,
    Django and Sanic helpers answer an empty body instead)."""
    response = make_app(DOCKERFLOW).get("/__lbheartbeat__", status=200)
    assert response.json == {"status": "ok"}


def test_lbheartbeat_head():
    """From tests/fastapi/test_fastapi.py::test_lbheartbeat_head."""
    response = make_app(DOCKERFLOW).head("/__lbheartbeat__", status=200)
    assert response.body == b""


def test_heartbeat_without_checks():
    """From tests/sanic/test_sanic.py::test_heartbeat and the first request
    of tests/django/test_django.py::test_heartbeat."""
    response = make_app(DOCKERFLOW).get("/__heartbeat__", status=200)
    assert response.json == {"status": "ok", "checks": {}, "details": {}}


def broken_version(request):
    raise ValueError("crash")


def test_mozlog_failure(caplog):
    """From tests/fastapi/test_fastapi.py::test_mozlog_failure: the summary
    of a ``/__version__`` that failed says 500 (here the view answers 500
    itself instead of letting the exception through)."""
    app = make_app(DOCKERFLOW, settings={
        "dockerflow.request_summary": "true",
        "dockerflow.version_callback": "tests.dockerflow.test_upstream_endpoints:broken_version",
    })
    with caplog.at_level("INFO", logger="request.summary"):
        app.get("/__version__", status=500)
    [record] = [r for r in caplog.records if r.name == "request.summary"]
    assert record.code == 500
