"""The ``dockerflow.*`` settings: checked at commit, typed in the app's status."""
from __future__ import annotations

from pathlib import Path

import pytest
from pyramid.exceptions import ConfigurationError

from lovely.ws.status.appstatus import get_app_status
from lovely.ws.status.dockerflow import DOCKERFLOW_SETTINGS
from lovely.ws.status.dockerflow.views import VersionCallback, VersionFile

from ..helpers import make_config

DOCKERFLOW = "lovely.ws.status.dockerflow"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "dockerflow.rst"


# Used through dotted names in the settings.
def version_callback(request):
    return {"version": "1"}


NOT_CALLABLE = "just text"


def commit(settings):
    config = make_config(DOCKERFLOW, settings=settings)
    config.commit()
    return config


@pytest.mark.parametrize(
    "settings, key",
    [
        ({"dockerflow.heartbeat_failed_statu": "503"}, "heartbeat_failed_statu"),
        ({"dockerflow.versionfile": "/x"}, "dockerflow.versionfile"),
        ({"dockerflow.heartbeat_failed_status": "42"}, "heartbeat_failed_status"),
        ({"dockerflow.heartbeat_failed_status": "x"}, "heartbeat_failed_status"),
        ({"dockerflow.request_summary": "maybe"}, "dockerflow.request_summary"),
        ({"dockerflow.error_endpoint": "maybe"}, "dockerflow.error_endpoint"),
        ({"dockerflow.request_id": "maybe"}, "dockerflow.request_id"),
        ({"dockerflow.request_id_header_name": "X Request"},
         "dockerflow.request_id_header_name"),
        ({"dockerflow.request_id_header_name": ""}, "dockerflow.request_id_header_name"),
        ({"dockerflow.summary_log_querystring": "2"}, "dockerflow.summary_log_querystring"),
        (
            {"dockerflow.version_callback": "tests.no_such_module:f"},
            "dockerflow.version_callback",
        ),
        (
            {"dockerflow.version_callback": "tests.dockerflow.test_settings:no_such_name"},
            "dockerflow.version_callback",
        ),
        (
            {"dockerflow.version_callback": "tests.dockerflow.test_settings:NOT_CALLABLE"},
            "dockerflow.version_callback",
        ),
        (
            {
                "dockerflow.version_callback":
                    "tests.dockerflow.test_settings:version_callback",
                "dockerflow.version_file": "/app/version.json",
            },
            "dockerflow.version_file",
        ),
        ({"dockerflow.version_file": "no_such_package_here:version.json"},
         "dockerflow.version_file"),
    ],
)
def test_bad_settings_fail_at_commit(settings, key):
    config = make_config(DOCKERFLOW, settings=settings)  # nothing raised yet
    with pytest.raises(ConfigurationError) as info:
        config.commit()
    assert key in str(info.value)


def test_a_typo_names_the_right_key():
    with pytest.raises(ConfigurationError) as info:
        commit({"dockerflow.heartbeat_failed_statu": "503"})
    assert "did you mean 'dockerflow.heartbeat_failed_status'" in str(info.value)


def test_typed_values_are_in_the_app_status_not_in_the_settings():
    raw = {
        "dockerflow.heartbeat_failed_status": " 503 ",
        "dockerflow.request_summary": "off",
        "dockerflow.checks": "db\ncache\ndb",
    }
    config = commit(dict(raw))
    app = get_app_status(config.registry)
    assert app.settings["dockerflow.heartbeat_failed_status"] == 503
    assert app.settings["dockerflow.request_summary"] is False
    # In their first order, each once.
    assert app.settings["dockerflow.checks"] == ("db", "cache")
    assert app.settings["dockerflow.version_file"] is None
    assert app.settings["dockerflow.silenced_checks"] == frozenset()
    assert app.settings["dockerflow.request_id_header_name"] == "X-Request-ID"
    assert app.settings["dockerflow.error_endpoint"] is False
    assert app.settings["dockerflow.request_id"] is True
    # The application's own settings stay as it gave them.
    for key, value in raw.items():
        assert config.registry.settings[key] == value


def test_the_version_source_is_the_file_or_the_callback(tmp_path):
    config = commit({"dockerflow.version_file": str(tmp_path / "v.json")})
    source = get_app_status(config.registry).version
    assert isinstance(source, VersionFile)
    assert source.path == str(tmp_path / "v.json")
    config = commit(
        {"dockerflow.version_callback": "tests.dockerflow.test_settings:version_callback"}
    )
    source = get_app_status(config.registry).version
    assert isinstance(source, VersionCallback)
    assert source.func is version_callback


def test_each_app_keeps_its_own_settings():
    first = commit({"dockerflow.heartbeat_failed_status": "503"})
    second = commit({})
    assert get_app_status(first.registry).settings[
        "dockerflow.heartbeat_failed_status"] == 503
    assert get_app_status(second.registry).settings[
        "dockerflow.heartbeat_failed_status"] == 500


def test_svcstatus_settings_are_checked_too():
    with pytest.raises(ConfigurationError) as info:
        commit({"svcstatus.timeuot": "1"})
    assert "svcstatus.timeuot" in str(info.value)


def test_the_docs_list_every_setting():
    text = DOCS.read_text(encoding="utf-8")
    for spec in DOCKERFLOW_SETTINGS:
        assert f"``{spec.key}``" in text, spec.key
