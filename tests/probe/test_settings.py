"""The ``probestatus.*`` settings: typed values kept by the app, a
configuration error naming the key for a bad one, and the route's path."""
from __future__ import annotations

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from lovely.ws.status.appstatus import get_app_status

from ..helpers import make_app, make_config

PROBE = "lovely.ws.status.probestatus"


def test_settings_are_typed_in_the_app_and_left_alone_in_the_registry():
    config = make_config(PROBE, settings={"probestatus.drain_text": " BYE "})
    config.commit()
    typed = get_app_status(config.registry).settings
    assert typed["probestatus.store"] == "memory"
    assert typed["probestatus.permission"] is None
    assert typed["probestatus.allow_from"] == ()
    assert typed["probestatus.path"] == "/probe_status"
    assert typed["probestatus.drain_seconds"] == 0.0
    assert typed["probestatus.drain_text"] == "BYE"
    assert typed["probestatus.refuse_cross_site"] is True
    assert typed["probestatus.allowed_hosts"] == ()
    assert typed["probestatus.strict_requests"] is True
    assert config.registry.settings["probestatus.drain_text"] == " BYE "
    app = get_app_status(config.registry)
    assert (app.store, app.drainer) == (None, None)
    guard = app.guard
    assert (guard.permission, guard.networks) == (None, ())
    assert (guard.refuse_cross_site, guard.allowed_hosts, guard.strict) == (True, (), True)


@pytest.mark.parametrize(
    "key, value, words",
    [
        ("probestatus.stor", "memory", "did you mean 'probestatus.store'"),
        ("probestatus.store", "ftp://example/x", "not a probe store"),
        ("probestatus.store", "/var/run/probe", "file:///var/run/probe"),
        ("probestatus.store", "file://relative/probe", "three slashes"),
        ("probestatus.store", "file:///no/such/directory/probe", "does not exist"),
        ("probestatus.store", "file:///tmp", "is a directory"),
        ("probestatus.store", "redis://127.0.0.1:notaport/0", "port"),
        ("probestatus.store", "redis://127.0.0.1:6379/zero", "database"),
        ("probestatus.store", "redis://127.0.0.1:6379/0?bogus=1", "unknown parameter"),
        ("probestatus.store", "redis://127.0.0.1:6379/0?timeout=-1", "timeout"),
        ("probestatus.allow_from", "10.0.0.0/8 not-a-network", "not-a-network"),
        ("probestatus.allow_from", "10.0.0.0/33", "10.0.0.0/33"),
        ("probestatus.path", "health", "starting with '/'"),
        ("probestatus.path", "/he alth", "plain path"),
        ("probestatus.drain_seconds", "-1", "zero or a positive"),
        ("probestatus.drain_seconds", "soon", "number"),
        ("probestatus.drain_text", "OK", "not be empty or 'OK'"),
        ("probestatus.drain_text", "x" * 1025, "1025 characters"),
        ("probestatus.refuse_cross_site", "sometimes", "true or false"),
        ("probestatus.strict_requests", "2", "true or false"),
        ("probestatus.allowed_hosts", "https://ops.example.com", "without scheme"),
        ("probestatus.allowed_hosts", "ops.example.com:6543", "not a host name"),
        ("probestatus.allowed_hosts", "*.example.com", ".example.com stands for"),
    ],
)
def test_bad_setting_is_a_configuration_error_naming_the_key(key, value, words):
    config = Configurator(settings={key: value})
    config.include(PROBE)
    with pytest.raises(ConfigurationError) as info:
        config.commit()
    message = str(info.value)
    assert repr(key) in message
    assert words in message


def test_path_setting_moves_the_route():
    app = make_app(PROBE, settings={"probestatus.path": "/health"})
    assert app.get("/health").text == "OK"
    app.get("/probe_status", status=404)
    assert app.post("/health?body=OFF").text == "OFF"
    assert app.get("/health", status=503).text == "OFF"


def test_route_prefix_applies():
    def include_under_ops(config):
        with config.route_prefix_context("/ops"):
            config.include(PROBE)

    app = make_app("lovely.ws.status", setup=include_under_ops)
    assert app.get("/ops/probe_status").text == "OK"
    app.get("/probe_status", status=404)
