"""The base class of the checks: its contract, and a subclass of an app
registered from the ``.ini`` settings."""

from __future__ import annotations

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from webtest import TestApp

from lovely.ws.status import RED, YELLOW
from lovely.ws.status.checks import (
    Check,
    DatabaseCheck,
    DiskSpaceCheck,
    HTTPCheck,
    MigrationsCheck,
    RedisCheck,
)
from lovely.ws.status.text import secret_forms


class BoomError(Exception):
    pass


class UnprintableError(Exception):
    def __str__(self):
        raise RuntimeError("no text")


def _failing(exc, secrets=()):
    class Failing(Check):
        def check(self):
            raise exc

    check = Failing()
    check.secrets = tuple(secrets)
    return check


def test_a_check_turns_its_exception_into_red():
    check = _failing(BoomError("cannot log in with hunter2\n  second line"), ["hunter2"])
    assert check() == {"state": RED, "detail": "BoomError: cannot log in with *** second line"}


def test_an_exception_without_text_gives_its_class_name():
    assert _failing(BoomError())() == {"state": RED, "detail": "BoomError"}


def test_an_exception_with_a_broken_str_still_gives_a_detail():
    # Worded as the status views word a handler that raises it.
    assert _failing(UnprintableError())() == {
        "state": RED,
        "detail": "UnprintableError: <unprintable>",
    }


def test_a_broken_describe_error_falls_back_to_the_exception():
    class Odd(Check):
        def check(self):
            raise BoomError("down")

        def describe_error(self, exc):
            raise KeyError("oops")

    assert Odd()() == {"state": RED, "detail": "BoomError: down"}


def test_url_passwords_and_secrets_are_hidden_in_details():
    text = "cannot reach postgresql://me:p%40ss@db/x (password p@ss)"
    assert _failing(BoomError(text), secret_forms("p@ss"))() == {
        "state": RED,
        "detail": "BoomError: cannot reach postgresql://me:***@db/x (password ***)",
    }
    # A URL password is found even when the check was not told about it.
    assert _failing(BoomError("bad url redis://:topsecret@host:1/0"))() == {
        "state": RED,
        "detail": "BoomError: bad url redis://:***@host:1/0",
    }


def test_secrets_are_hidden_in_the_details_of_good_states_too():
    class Chatty(Check):
        secrets = ("s3cret",)

        def check(self):
            return {"state": YELLOW, "detail": "logged in as me/s3cret", "labels": {"n": 1}}

    assert Chatty()() == {"state": YELLOW, "detail": "logged in as me/***", "labels": {"n": 1}}


def test_long_details_are_shortened():
    detail = _failing(BoomError("x" * 2000))()["detail"]
    assert len(detail) == 500 and detail.endswith("\u2026")


def test_a_check_without_check_is_red():
    assert Check()() == {"state": RED, "detail": "NotImplementedError"}


def test_close_is_always_there():
    assert Check().close() is None


def test_every_check_has_from_settings():
    for cls in (DatabaseCheck, MigrationsCheck, RedisCheck, DiskSpaceCheck, HTTPCheck):
        assert "from_settings" in vars(cls), cls


class AlwaysYellow(Check):
    """A check of an app, built on the base class (used by dotted name below)."""

    def check(self):
        return {"state": YELLOW, "detail": "as always"}


def test_a_subclass_without_options_from_settings():
    name = f"{__name__}.AlwaysYellow"
    config = Configurator(settings={"svcstatus.handlers": f"mine = {name}"})
    config.include("lovely.ws.status.svcstatus")
    app = TestApp(config.make_wsgi_app())
    assert app.get("/svc_status.json").json == {"mine": {"state": YELLOW, "detail": "as always"}}
    config = Configurator(
        settings={"svcstatus.handlers": f"mine = {name}", "svcstatus.handler.mine.x": "1"}
    )
    config.include("lovely.ws.status.svcstatus")
    with pytest.raises(ConfigurationError, match="unknown option 'x' for AlwaysYellow"):
        config.commit()
