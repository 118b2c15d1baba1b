"""The ``health.*`` settings: paths, who sees details, a permission; checked
at commit as every prefix of the package is."""
from __future__ import annotations

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from webtest import TestApp

from lovely.ws.status import OK, RED
from lovely.ws.status.appstatus import get_app_status
from lovely.ws.status.health import HEALTH_SETTINGS

from ..helpers import UserPolicy, fixed, make_app
from ..servers import needs_pyramid2

HEALTH = "lovely.ws.status.health"


def commit(settings):
    config = Configurator(settings=settings)
    config.include(HEALTH)
    config.commit()
    return config


def failing_app(settings=None, policy=False):
    def setup(config):
        if policy:
            config.set_security_policy(UserPolicy())
        config.add_status_handler("db", fixed(state=RED, detail="connection refused"))
        config.add_status_handler("ping", fixed(state=OK), groups=["liveness"])

    return make_app(HEALTH, settings=settings, setup=setup)


def test_defaults():
    config = commit({})
    settings = get_app_status(config.registry).settings
    assert {key: settings[key] for key in settings if key.startswith("health.")} == {
        "health.livez_path": "/livez",
        "health.readyz_path": "/readyz",
        "health.startupz_path": "/startupz",
        "health.show_details": "never",
        "health.details_permission": None,
        "health.permission": None,
    }


@pytest.mark.parametrize("key, value, message", [
    ("health.show_detail", "always",
     "unknown setting 'health.show_detail' (did you mean 'health.show_details'?)"),
    ("health.show_details", "sometimes",
     "bad value for setting 'health.show_details': expected one of always, never, "
     "when_authorized, got 'sometimes'"),
    ("health.readyz_path", "ready",
     "bad value for setting 'health.readyz_path': expected a path starting with '/'"),
    ("health.livez_path", "/live?x", "bad value for setting 'health.livez_path'"),
])
def test_bad_settings_stop_the_app_at_commit(key, value, message):
    with pytest.raises(ConfigurationError) as info:
        commit({key: value})
    assert message in str(info.value)


def test_two_endpoints_on_one_path_are_refused():
    with pytest.raises(ConfigurationError) as info:
        commit({"health.readyz_path": "/health", "health.startupz_path": "/health"})
    assert "three different paths" in str(info.value)


def test_show_details_takes_any_case_and_dashes():
    config = commit({"health.show_details": " When-Authorized "})
    assert get_app_status(config.registry).settings["health.show_details"] == "when_authorized"


def test_paths_can_be_moved():
    app = failing_app({"health.livez_path": "/healthz/live",
                       "health.readyz_path": "/healthz/ready/"})
    assert app.get("/healthz/live").body == b"ok"
    assert app.get("/healthz/live/ping").body == b"ok"
    assert app.get("/healthz/ready", status=503).text.endswith("readyz check failed\n")
    assert app.get("/healthz/ready/db", status=503).status_int == 503
    assert app.get("/startupz", status=503).status_int == 503
    app.get("/livez", status=404)
    app.get("/readyz", status=404)


def test_route_names():
    config = Configurator()
    config.include(HEALTH)
    config.commit()
    request = __import__("pyramid.testing", fromlist=["DummyRequest"]).DummyRequest()
    request.registry = config.registry
    assert request.route_path("health.readyz") == "/readyz"
    assert request.route_path("health.readyz.check", name="db") == "/readyz/db"
    assert request.route_path("health.livez") == "/livez"
    assert request.route_path("health.startupz.check", name="x") == "/startupz/x"


def test_reasons_are_withheld_by_default():
    assert failing_app().get("/readyz", status=503).text == (
        "[-]db failed: reason withheld\nreadyz check failed\n")


def test_always_shows_reasons():
    app = failing_app({"health.show_details": "always"})
    assert app.get("/readyz", status=503).text == (
        "[-]db failed: connection refused\nreadyz check failed\n")


def test_never_withholds_even_from_the_authorized():
    app = failing_app({"health.show_details": "never"})
    assert "withheld" in app.get("/readyz", headers={"X-User": "ops"}, status=503).text


@needs_pyramid2
def test_when_authorized_with_a_permission():
    app = failing_app({"health.show_details": "when_authorized",
                       "health.details_permission": "status-details"}, policy=True)
    withheld = "[-]db failed: reason withheld\nreadyz check failed\n"
    shown = "[-]db failed: connection refused\nreadyz check failed\n"
    assert app.get("/readyz", status=503).text == withheld
    assert app.get("/readyz", headers={"X-User": "guest"}, status=503).text == withheld
    assert app.get("/readyz", headers={"X-User": "ops"}, status=503).text == shown
    assert app.get("/readyz/db", headers={"X-User": "ops"}, status=503).text == (
        "internal server error: connection refused\n")


@needs_pyramid2
def test_when_authorized_without_a_permission_means_any_authenticated_user():
    app = failing_app({"health.show_details": "when_authorized"}, policy=True)
    assert "withheld" in app.get("/readyz", status=503).text
    assert "connection refused" in app.get(
        "/readyz", headers={"X-User": "guest"}, status=503).text


def test_when_authorized_without_a_security_policy_authorizes_nobody():
    # Pyramid grants every permission without a policy: that must not
    # show the reasons to everybody.
    app = failing_app({"health.show_details": "when_authorized",
                       "health.details_permission": "status-details"})
    assert "withheld" in app.get("/readyz", headers={"X-User": "ops"}, status=503).text


@needs_pyramid2
def test_a_permission_for_the_endpoints():
    app = failing_app({"health.permission": "view-status"}, policy=True)
    app.get("/livez", status=403)
    app.get("/livez/ping", status=403)
    assert app.get("/livez", headers={"X-User": "ops"}).body == b"ok"


def test_every_setting_is_in_the_docs():
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2] / "docs"
    text = (docs / "configuration.rst").read_text(encoding="utf-8")
    assert ".. settings-table:: lovely.ws.status.health.HEALTH_SETTINGS" in text
    kubernetes = (docs / "kubernetes.rst").read_text(encoding="utf-8")
    for spec in HEALTH_SETTINGS:
        assert f"``{spec.key}``" in kubernetes, spec.key


def test_an_app_without_the_include_has_no_endpoints():
    app = TestApp(Configurator().make_wsgi_app())
    app.get("/readyz", status=404)
