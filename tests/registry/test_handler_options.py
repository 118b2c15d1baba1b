"""The options a registration gives, checked the same way from Python,
the directive and the .ini file."""
from __future__ import annotations

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from lovely.ws.status import OK, addStatusHandler
from lovely.ws.status.appstatus import get_app_status
from lovely.ws.status.handlers import (
    DEFAULT_GROUPS,
    NO_OPTIONS,
    global_options,
    groups_of,
    handler_options,
)

from ..helpers import fixed

HERE = "tests.registry.test_handler_options"
ok = fixed(state=OK)


def test_defaults():
    assert NO_OPTIONS.critical is True
    assert groups_of(NO_OPTIONS) == DEFAULT_GROUPS == {"readiness", "startup"}
    assert "liveness" not in DEFAULT_GROUPS


def test_every_option_from_python():
    addStatusHandler("db", ok, timeout=2, ttl=30, failure_ttl=5, interval=10,
                     failure_threshold=3, groups=["readiness", "db"], critical=False)
    options = global_options("db", ok)
    assert options == handler_options(2, 30, 5, 10, 3, ["db", "readiness"], False)
    assert groups_of(options) == {"readiness", "db"}


@pytest.mark.parametrize("kwargs, error", [
    ({"interval": 0}, ValueError),
    ({"interval": 1e300}, ValueError),
    ({"failure_ttl": -1}, ValueError),
    ({"failure_threshold": 0}, ValueError),
    ({"failure_threshold": 1.5}, TypeError),
    ({"failure_threshold": True}, TypeError),
    ({"groups": "readiness"}, TypeError),  # a str is not a list of names
    ({"groups": ["two words"]}, ValueError),
    ({"groups": [""]}, ValueError),
    ({"critical": "no"}, TypeError),
])
def test_bad_options_from_python_raise_at_once(kwargs, error):
    with pytest.raises(error):
        addStatusHandler("db", ok, **kwargs)


def test_every_option_from_the_ini_file():
    config = Configurator(settings={
        "svcstatus.handlers": f"db = {HERE}:ok",
        "svcstatus.handler.db.interval": "10",
        "svcstatus.handler.db.failure_ttl": "0",
        "svcstatus.handler.db.failure_threshold": "3",
        "svcstatus.handler.db.groups": "readiness, db\n startup",
        "svcstatus.handler.db.critical": "false",
    })
    config.include("lovely.ws.status")
    config.commit()
    options = get_app_status(config.registry).options["db"]
    assert options == handler_options(None, None, 0, 10, 3, ["readiness", "db", "startup"],
                                      False)
    intr = config.registry.introspector.get("status handlers", "db")
    assert intr["critical"] is False and intr["groups"] == {"readiness", "db", "startup"}


def test_every_option_from_the_directive():
    config = Configurator()
    config.include("lovely.ws.status")
    config.add_status_handler("db", ok, interval=5, groups=["liveness"], critical=False)
    config.commit()
    options = get_app_status(config.registry).options["db"]
    assert (options.interval, options.groups, options.critical) == (5.0, {"liveness"}, False)


@pytest.mark.parametrize("key, value, words", [
    ("svcstatus.handler.db.failure_threshold", "two", "failure_threshold"),
    ("svcstatus.handler.db.critical", "maybe", "true or false"),
    ("svcstatus.handler.db.interval", "-1", "interval"),
    ("svcstatus.handler.db.groups", "a/b", "group name"),
])
def test_bad_options_from_the_ini_file_fail_at_commit(key, value, words):
    config = Configurator(settings={"svcstatus.handlers": f"db = {HERE}:ok", key: value})
    config.include("lovely.ws.status")
    with pytest.raises(ConfigurationError, match=words) as info:
        config.commit()
    assert "'db'" in str(info.value)


def test_an_unknown_keyword_of_the_directive_is_an_error():
    config = Configurator()
    config.include("lovely.ws.status")
    with pytest.raises(ConfigurationError, match="unknown option.*colour"):
        config.add_status_handler("db", ok, colour="red")
