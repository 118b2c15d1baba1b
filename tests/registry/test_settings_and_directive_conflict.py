"""A name in ``svcstatus.handlers`` and in ``config.add_status_handler``
conflicts at commit, wherever the directive is called."""
from __future__ import annotations

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationConflictError, ConfigurationError

from lovely.ws.status import OK
from lovely.ws.status.appstatus import get_app_status

HERE = "tests.registry.test_settings_and_directive_conflict"
SETTINGS = {"svcstatus.handlers": f"db = {HERE}:from_settings"}


def from_settings():
    return {"state": OK, "detail": "from the settings"}


def from_directive():
    return {"state": OK, "detail": "from the directive"}


def _include_db(config):
    config.add_status_handler("db", from_directive)


def _include_svcstatus_and_db(config):
    config.include("lovely.ws.status.svcstatus")
    config.add_status_handler("db", from_directive)


def _in_the_app_factory(config):
    config.include("lovely.ws.status.svcstatus")
    config.add_status_handler("db", from_directive)


def _in_an_include(config):
    config.include("lovely.ws.status.svcstatus")
    config.include(_include_db)


def _in_an_include_before_svcstatus(config):
    config.include(_include_db_later)


def _include_db_later(config):
    config.include("lovely.ws.status")
    config.add_status_handler("db", from_directive)
    config.include("lovely.ws.status.svcstatus")


def _in_an_include_that_includes_svcstatus(config):
    config.include(_include_svcstatus_and_db)


@pytest.mark.parametrize("setup", [
    _in_the_app_factory,
    _in_an_include,
    _in_an_include_before_svcstatus,
    _in_an_include_that_includes_svcstatus,
])
def test_a_name_in_the_settings_and_the_directive_conflicts(setup):
    config = Configurator(settings=SETTINGS)
    setup(config)
    with pytest.raises(ConfigurationError) as info:
        config.commit()
    message = str(getattr(info.value, "evalue", info.value))
    assert message == (
        "status handler 'db' is registered twice: in 'svcstatus.handlers' "
        f"({HERE}:from_settings) and by config.add_status_handler("
        f"{from_directive!r}); remove one or give it another name"
    )
    assert get_app_status(config.registry).handlers.get("db") is not from_directive


def test_the_conflict_names_a_dotted_name_as_given():
    config = Configurator(settings=SETTINGS)
    config.include("lovely.ws.status.svcstatus")
    config.add_status_handler("db", f"{HERE}:from_directive")
    with pytest.raises(ConfigurationError) as info:
        config.commit()
    assert f"config.add_status_handler('{HERE}:from_directive')" in str(info.value.evalue)


def test_an_autocommitting_configurator_refuses_at_once():
    config = Configurator(settings=SETTINGS, autocommit=True)
    config.include("lovely.ws.status.svcstatus")
    with pytest.raises(ConfigurationError, match="registered twice"):
        config.add_status_handler("db", from_directive)
    assert get_app_status(config.registry).handlers["db"] is from_settings


def test_other_names_live_side_by_side():
    config = Configurator(settings=SETTINGS)
    config.include("lovely.ws.status.svcstatus")
    config.add_status_handler("cache", from_directive)
    config.commit()
    handlers = get_app_status(config.registry).handlers
    assert handlers == {"db": from_settings, "cache": from_directive}


def test_two_directives_still_conflict_as_pyramid_actions():
    config = Configurator()
    config.include("lovely.ws.status.svcstatus")
    config.include(_include_db)
    config.include(_include_db_twice)
    with pytest.raises(ConfigurationConflictError):
        config.commit()


def _include_db_twice(config):
    config.add_status_handler("db", from_settings)


def test_a_settings_handler_is_introspectable_with_its_source():
    config = Configurator(settings=SETTINGS)
    config.include("lovely.ws.status.svcstatus")
    config.commit()
    intr = config.registry.introspector.get("status handlers", "db")
    assert intr["source"] == f"{HERE}:from_settings"
    assert intr["handler"] is from_settings


def test_the_conflict_is_reported_before_any_handler_is_imported():
    config = Configurator(settings={"svcstatus.handlers": "db = no.such.module:handler"})
    config.include("lovely.ws.status.svcstatus")
    config.add_status_handler("db", "no.other.module:handler")
    with pytest.raises(ConfigurationError) as info:
        config.commit()
    assert str(info.value.evalue).startswith(
        "status handler 'db' is registered twice: in 'svcstatus.handlers' "
        "(no.such.module:handler) and by config.add_status_handler('no.other.module:handler')"
    )
