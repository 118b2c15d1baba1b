"""The add_status_handler directive and the svcstatus.* settings."""
from __future__ import annotations

import pytest
from pyramid import testing
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationConflictError, ConfigurationError
from webtest import TestApp

from lovely.ws.status import (
    OK,
    RED,
    STATUS_HANDLERS,
    YELLOW,
    addStatusHandler,
    removeStatusHandler,
)
from lovely.ws.status.appstatus import get_app_status
from lovely.ws.status.handlers import NO_OPTIONS, global_options

from ..servers import needs_pyramid2

HERE = "tests.registry.test_directive_and_settings"


def ok_handler():
    return {"state": OK, "detail": "from a dotted name"}


def yellow_handler():
    return {"state": YELLOW}


class ClassHandler:
    def __call__(self):
        return {"state": OK, "detail": "instance of a class"}


class Configurable:
    """A handler class with from_settings, like the built-in checks."""

    def __init__(self, word):
        self.word = word

    @classmethod
    def from_settings(cls, settings, options):
        unknown = set(options) - {"word"}
        if unknown:
            raise ValueError(f"unknown option(s): {', '.join(sorted(unknown))}")
        return cls(options.get("word", settings.get("default_word", "none")))

    def __call__(self):
        return {"state": OK, "detail": self.word}


instance_handler = ClassHandler()


@pytest.fixture
def config():
    config = testing.setUp(autocommit=False)
    yield config
    testing.tearDown()


def make_config(**settings):
    return Configurator(settings=settings)


def handlers(config):
    """The app's own handlers."""
    return get_app_status(config.registry).handlers


def options(config, name):
    return get_app_status(config.registry).options.get(name, NO_OPTIONS)


# ------------------------------------------------------------ the directive


def test_directive_registers_at_commit(config):
    config.include("lovely.ws.status")
    config.add_status_handler("db", ok_handler)
    assert "db" not in handlers(config)  # not before commit
    config.commit()
    assert handlers(config)["db"] is ok_handler
    assert STATUS_HANDLERS == {}  # the app's own, not the process-wide registry


@pytest.mark.parametrize(
    "dotted",
    [f"{HERE}:ok_handler", f"{HERE}.ok_handler",
     ".registry.test_directive_and_settings.ok_handler"],
)
def test_directive_resolves_dotted_names(dotted):
    config = Configurator(package="tests")
    config.include("lovely.ws.status")
    config.add_status_handler("db", dotted)
    config.commit()
    assert handlers(config)["db"] is ok_handler


def test_directive_with_instance_and_options(config):
    config.include("lovely.ws.status")
    config.add_status_handler("svc", instance_handler, timeout=2, ttl=30)
    config.commit()
    assert handlers(config)["svc"] is instance_handler
    assert options(config, "svc")[:2] == (2.0, 30.0)


def test_same_name_twice_conflicts_at_commit(config):
    config.include("lovely.ws.status")
    config.add_status_handler("db", ok_handler)
    config.add_status_handler("db", yellow_handler)
    with pytest.raises(ConfigurationConflictError) as info:
        config.commit()
    assert "lovely.ws.status.handler" in str(info.value)
    assert handlers(config) == {}


def _include_db(config):
    config.add_status_handler("db", yellow_handler)


def test_including_app_overrides_an_include(config):
    config.include("lovely.ws.status")
    config.include(_include_db)
    config.add_status_handler("db", ok_handler)
    config.commit()
    assert handlers(config)["db"] is ok_handler


def test_handlers_are_introspectable(config):
    config.include("lovely.ws.status")
    config.add_status_handler("db", f"{HERE}:ok_handler", timeout=3)
    config.commit()
    intr = config.registry.introspector.get("status handlers", "db")
    assert intr.title == "db"
    assert intr.type_name == "status handler"
    assert intr["handler"] is ok_handler
    assert intr["source"] == "tests.registry.test_directive_and_settings:ok_handler"
    assert intr["timeout"] == 3.0
    assert intr["ttl"] is None
    category = config.registry.introspector.get_category("status handlers")
    names = [i["introspectable"].title for i in category]
    assert names == ["db"]


@pytest.mark.parametrize(
    "handler, kwargs, message",
    [
        ("tests.registry.test_directive_and_settings:does_not_exist", {}, "cannot import"),
        ("no.such.module:thing", {}, "cannot import"),
        (42, {}, "is not callable"),
        (ok_handler, {"timeout": -1}, "timeout must be a positive number"),
        (ok_handler, {"timeout": "soon"}, "timeout must be a number"),
        (ok_handler, {"timeout": 1e300}, "timeout must be a positive number of seconds up to"),
        (ok_handler, {"ttl": -5}, "ttl must be zero or a positive number"),
    ],
)
def test_directive_errors_surface_at_commit(config, handler, kwargs, message):
    config.include("lovely.ws.status")
    config.add_status_handler("broken", handler, **kwargs)  # no error yet
    with pytest.raises(ConfigurationError, match=message):
        config.commit()
    assert "broken" not in handlers(config)


def test_bad_name_is_rejected(config):
    config.include("lovely.ws.status")
    with pytest.raises(ConfigurationError, match="non-empty string"):
        config.add_status_handler("", ok_handler)


def test_directive_handlers_appear_in_every_view():
    config = make_config()
    config.include("lovely.ws.status.svcstatus")
    config.add_status_handler("dotted", "tests.registry.test_directive_and_settings:ok_handler")
    addStatusHandler("global", yellow_handler)
    app = TestApp(config.make_wsgi_app())
    assert app.get("/svc_status").text == "dotted\tOK\tfrom a dotted name\nglobal\tYELLOW\t"


# ------------------------------------------------------------ the global API


def test_remove_status_handler():
    addStatusHandler("a", ok_handler, timeout=1)
    removeStatusHandler("a")
    assert "a" not in STATUS_HANDLERS
    assert global_options("a", ok_handler)[:2] == (None, None)
    with pytest.raises(KeyError):
        removeStatusHandler("a")


def test_add_status_handler_validates_arguments():
    with pytest.raises(TypeError):
        addStatusHandler("x", "not callable")
    with pytest.raises(ValueError):
        addStatusHandler("x", ok_handler, timeout=0)
    with pytest.raises(TypeError):
        addStatusHandler("x", ok_handler, ttl="1")
    with pytest.raises(ValueError, match="timeout must be a positive number of seconds up to"):
        addStatusHandler("x", ok_handler, timeout=1e300)
    assert STATUS_HANDLERS == {}


def test_options_do_not_outlive_their_handler():
    addStatusHandler("a", ok_handler, timeout=1)
    STATUS_HANDLERS.clear()
    STATUS_HANDLERS["a"] = yellow_handler  # what a 1.0 test suite might do
    assert global_options("a", yellow_handler)[:2] == (None, None)


# ------------------------------------------------------------ settings


def test_typed_defaults_are_kept_by_the_app_not_in_its_settings():
    config = make_config()
    config.include("lovely.ws.status")
    config.commit()
    assert "svcstatus.timeout" not in config.registry.settings
    settings = get_app_status(config.registry).settings
    assert settings["svcstatus.timeout"] == 5.0
    assert settings["svcstatus.max_workers"] == 32
    assert settings["svcstatus.handlers"] == []
    assert settings["svcstatus.permission"] is None


def test_settings_configure_the_evaluator():
    config = make_config(**{"svcstatus.timeout": "2.5", "svcstatus.max_workers": "3"})
    config.include("lovely.ws.status")
    config.commit()
    evaluator = get_app_status(config.registry).evaluator
    assert (evaluator.timeout, evaluator.max_workers) == (2.5, 3)
    assert config.registry.settings["svcstatus.timeout"] == "2.5"  # as the app gave it


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("svcstatus.timeout", "-1", "'svcstatus.timeout'.*positive"),
        ("svcstatus.timeout", "abc", "'svcstatus.timeout'.*number"),
        ("svcstatus.timeout", "nan", "'svcstatus.timeout'.*positive number"),
        ("svcstatus.timeout", "1e300", "'svcstatus.timeout'.*up to"),
        ("svcstatus.max_workers", "0", "'svcstatus.max_workers'.*at least 1"),
        ("svcstatus.max_workers", "2.5", "'svcstatus.max_workers'.*whole number"),
        ("svcstatus.handlers", "db myapp:db", "'svcstatus.handlers'.*name = dotted.name"),
        ("svcstatus.handlers", "a = x:y\na = x:z", "'svcstatus.handlers'.*twice"),
        ("svcstatus.timout", "1",
         "unknown setting 'svcstatus.timout' \\(did you mean 'svcstatus.timeout'\\?\\)"),
    ],
)
def test_bad_settings_raise_at_commit(key, value, message):
    config = make_config(**{key: value})
    config.include("lovely.ws.status")  # no error yet
    with pytest.raises(ConfigurationError, match=message):
        config.commit()


def test_unknown_key_lists_valid_ones():
    config = make_config(**{"svcstatus.colour": "blue"})
    config.include("lovely.ws.status")
    with pytest.raises(ConfigurationError) as info:
        config.commit()
    text = str(info.value)
    for key in ("svcstatus.timeout", "svcstatus.max_workers", "svcstatus.handlers",
                "svcstatus.permission", "svcstatus.handler.*"):
        assert key in text


def test_settings_of_other_prefixes_are_left_alone():
    config = make_config(**{"svcstatusx": "1", "sqlalchemy.url": "sqlite://"})
    config.include("lovely.ws.status")
    config.commit()


def test_handlers_from_settings():
    config = make_config(
        **{
            "svcstatus.handlers": """
                dotted = tests.registry.test_directive_and_settings:ok_handler
                # comments and blank lines are fine

                instance = tests.registry.test_directive_and_settings.instance_handler
                klass = tests.registry.test_directive_and_settings:ClassHandler
                words = tests.registry.test_directive_and_settings:Configurable
            """,
            "svcstatus.handler.words.word": "hello",
            "svcstatus.handler.words.timeout": "0.5",
            "svcstatus.handler.dotted.ttl": "10",
        }
    )
    config.include("lovely.ws.status.svcstatus")
    app = TestApp(config.make_wsgi_app())
    assert app.get("/svc_status").text == (
        "dotted\tOK\tfrom a dotted name\n"
        "instance\tOK\tinstance of a class\n"
        "klass\tOK\tinstance of a class\n"
        "words\tOK\thello"
    )
    assert isinstance(handlers(config)["klass"], ClassHandler)
    assert options(config, "words")[:2] == (0.5, None)
    assert options(config, "dotted")[:2] == (None, 10.0)
    intr = config.registry.introspector.get("status handlers", "words")
    assert intr["source"] == "tests.registry.test_directive_and_settings:Configurable"


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"svcstatus.handlers": "w = tests.registry.test_directive_and_settings:Configurable",
          "svcstatus.handler.w.colour": "red"}, "unknown option"),
        ({"svcstatus.handlers": "d = tests.registry.test_directive_and_settings:ok_handler",
          "svcstatus.handler.d.word": "x"}, "takes no options"),
        ({"svcstatus.handlers": "d = tests.registry.test_directive_and_settings:ClassHandler",
          "svcstatus.handler.d.word": "x"}, "takes no options"),
        ({"svcstatus.handler.ghost.word": "x"}, "names no handler"),
        ({"svcstatus.handlers": "d = tests.registry.test_directive_and_settings:ok_handler",
          "svcstatus.handler.d.timeout": "-3"}, "timeout must be a positive number"),
        ({"svcstatus.handlers": "d = tests.registry.test_directive_and_settings:ok_handler",
          "svcstatus.handler.d.timeout": "1e300"}, "up to"),
        ({"svcstatus.handlers": "d = tests.nowhere:thing"}, "cannot import"),
    ],
)
def test_bad_handler_settings_raise_at_commit(settings, message):
    config = make_config(**settings)
    config.include("lovely.ws.status")
    with pytest.raises(ConfigurationError, match=message):
        config.commit()


def test_settings_handler_conflicts_with_directive():
    config = make_config(**{"svcstatus.handlers": f"db = {HERE}:ok_handler"})
    config.include("lovely.ws.status")
    config.include(_include_db)
    with pytest.raises(ConfigurationError, match="registered twice"):
        config.commit()


@needs_pyramid2
def test_svcstatus_permission_setting_protects_the_view():
    class Policy:
        def identity(self, request):
            return request.headers.get("X-User")

        def authenticated_userid(self, request):
            return self.identity(request)

        def permits(self, request, context, permission):
            return bool(self.identity(request)) and permission == "view-status"

        def remember(self, request, userid, **kw):
            return []

        def forget(self, request, **kw):
            return []

    config = make_config(**{"svcstatus.permission": "view-status"})
    config.set_security_policy(Policy())
    config.include("lovely.ws.status.svcstatus")
    addStatusHandler("a", ok_handler)
    app = TestApp(config.make_wsgi_app())
    app.get("/svc_status", status=403)
    assert app.get("/svc_status", headers={"X-User": "ops"}).text.startswith("a\tOK")


def test_open_by_default_in_an_app_with_a_default_permission():
    config = make_config()
    config.set_default_permission("admin")
    config.set_default_csrf_options(require_csrf=True)
    config.include("lovely.ws.status.svcstatus")
    addStatusHandler("a", ok_handler)
    app = TestApp(config.make_wsgi_app())
    assert app.get("/svc_status.json").json == {"a": {"state": OK, "detail": "from a dotted name"}}
    # 1.0 answered any method; a POST is not a state change here, so no CSRF.
    assert app.post("/svc_status").status_int == 200


def test_route_prefix_moves_the_views():
    config = make_config()
    config.include("lovely.ws.status.svcstatus", route_prefix="/ops")
    config.include("lovely.ws.status.probestatus", route_prefix="/ops")
    addStatusHandler("a", lambda: {"state": RED})
    app = TestApp(config.make_wsgi_app())
    assert app.get("/ops/svc_status").text == "a\tRED\t"
    assert app.get("/ops/probe_status").text == "OK"
    app.get("/svc_status", status=404)
