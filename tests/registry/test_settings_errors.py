"""Settings and handlers that cannot work fail at commit, naming what is wrong."""
from __future__ import annotations

import threading
import time

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from webtest import TestApp

HERE = "tests.registry.test_settings_errors"


def slow_handler():
    time.sleep(0.05)
    return {"state": "OK"}


@pytest.mark.parametrize(
    "key", ["svcstatus.timeout", "probestatus.drain_seconds", "svcstatus.handler.slow.timeout",
            "svcstatus.handler.slow.ttl"],
)
def test_seconds_too_long_for_a_thread_wait_are_a_configuration_error(key):
    # Longer than threading.TIMEOUT_MAX, a wait raises OverflowError: the
    # first /svc_status with a slow handler would be a 500.
    config = Configurator(settings={"svcstatus.handlers": f"slow = {HERE}:slow_handler",
                                    key: "1e10"})
    config.include("lovely.ws.status.svcstatus")
    config.include("lovely.ws.status.probestatus")
    with pytest.raises(ConfigurationError) as info:
        config.commit()
    message = str(info.value)
    assert key in message or "'slow'" in message
    assert "up to" in message


def test_the_longest_accepted_timeout_serves_svc_status():
    config = Configurator(settings={"svcstatus.timeout": str(threading.TIMEOUT_MAX)})
    config.include("lovely.ws.status.svcstatus")
    config.add_status_handler("slow", slow_handler)
    app = TestApp(config.make_wsgi_app())
    assert app.get("/svc_status").text == "slow\tOK\t"


class NeedsArguments:
    """A handler class that cannot be made without arguments."""

    def __init__(self, url):
        self.url = url

    def __call__(self):
        return {"state": "OK"}


class BrokenFromSettings:
    @classmethod
    def from_settings(cls, settings, options):
        raise RuntimeError("cannot reach the vault")

    def __call__(self):
        return {"state": "OK"}


@pytest.mark.parametrize(
    "target, words",
    [
        (f"{HERE}:NeedsArguments", "url"),
        (f"{HERE}:BrokenFromSettings", "vault"),
        ("lws_raises_on_import:handler", "boom at import"),
        ("lws_bad_syntax:handler", "SyntaxError"),
    ],
)
def test_a_handler_from_settings_that_fails_names_the_handler(tmp_path, monkeypatch,
                                                             target, words):
    (tmp_path / "lws_raises_on_import.py").write_text("raise RuntimeError('boom at import')\n")
    (tmp_path / "lws_bad_syntax.py").write_text("def (:\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    config = Configurator(settings={"svcstatus.handlers": f"mine = {target}"})
    config.include("lovely.ws.status.svcstatus")
    with pytest.raises(ConfigurationError) as info:
        config.commit()
    message = str(info.value)
    assert "'mine'" in message
    assert words in message
