"""Each app has its own handlers; 1.0's process-wide ones are seen by all."""
from __future__ import annotations

import pytest
from pyramid.config import Configurator
from webtest import TestApp

from lovely.ws.status import OK, RED, STATUS_HANDLERS, YELLOW, addStatusHandler
from lovely.ws.status.appstatus import AppStatus, get_app_status

from ..helpers import fixed, make_app

HERE = "tests.registry.test_apps_apart"

db_a = fixed(state=OK, detail="database of app A")
db_b = fixed(state=RED, detail="database of app B")
cache_a = fixed(state=YELLOW, detail="cache of app A")


def app_with(handler_name, handler, settings=None):
    def setup(config):
        config.add_status_handler(handler_name, handler)

    return make_app(settings=settings, setup=setup)


def test_two_apps_each_see_only_their_own_handlers():
    a = app_with("db", db_a, {"svcstatus.handlers": f"cache = {HERE}:cache_a"})
    b = app_with("db", db_b)
    third = make_app()
    assert a.get("/svc_status").text == "cache\tYELLOW\tcache of app A\ndb\tOK\tdatabase of app A"
    assert b.get("/svc_status").text == "db\tRED\tdatabase of app B"
    assert third.get("/svc_status").text == ""
    assert STATUS_HANDLERS == {}


def test_every_app_sees_the_process_wide_handlers_and_its_own_win():
    a = app_with("db", db_a)
    b = make_app()
    addStatusHandler("db", fixed(state=RED, detail="registered for the process"))
    addStatusHandler("queue", fixed(state=OK))
    assert a.get("/svc_status").text == "db\tOK\tdatabase of app A\nqueue\tOK\t"
    assert b.get("/svc_status").text == "db\tRED\tregistered for the process\nqueue\tOK\t"


def test_settings_of_one_app_do_not_reach_another():
    slow = make_app(settings={"svcstatus.timeout": "0.5", "svcstatus.max_workers": "2"})
    default = make_app()
    assert get_app_status(slow.app.registry).evaluator.timeout == 0.5
    assert get_app_status(default.app.registry).evaluator.timeout == 5.0
    assert get_app_status(slow.app.registry) is not get_app_status(default.app.registry)


def test_the_same_name_in_two_apps_is_no_conflict():
    apps = [app_with("db", handler) for handler in (db_a, db_b)]
    assert [app.get("/svc_status.json").json for app in apps] == [
        {"db": {"state": OK, "detail": "database of app A"}},
        {"db": {"state": RED, "detail": "database of app B"}},
    ]


def test_handler_options_belong_to_the_app():
    a = make_app(setup=lambda c: c.add_status_handler("db", db_a, timeout=1, ttl=5))
    status = get_app_status(a.app.registry)
    assert status.options_of("db", db_a)[:2] == (1.0, 5.0)
    assert AppStatus().options_of("db", db_a)[:2] == (None, None)


def test_the_app_status_is_made_once_per_registry():
    config = Configurator()
    first = get_app_status(config.registry)
    assert get_app_status(config.registry) is first
    assert get_app_status(Configurator().registry) is not first


@pytest.mark.parametrize("registry", [None, object()])
def test_without_a_registry_the_current_one_is_used(registry):
    from pyramid.threadlocal import get_current_registry

    assert get_app_status(registry) is get_app_status(get_current_registry())


def test_an_apps_handlers_are_reported_by_every_one_of_its_views():
    app = make_app("lovely.ws.status.svcstatus", "lovely.ws.status.dockerflow",
                   setup=lambda c: c.add_status_handler("db", db_b))
    assert app.get("/svc_status").text == "db\tRED\tdatabase of app B"
    assert app.get("/__heartbeat__", status=500).json["checks"] == {"db": "error"}
    assert TestApp(make_app().app).get("/svc_status").text == ""
