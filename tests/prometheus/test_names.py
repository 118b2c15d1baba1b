"""Handler names are text, so the exposition never has a series twice."""
from __future__ import annotations

import subprocess

import pytest
from pyramid.exceptions import ConfigurationError

from lovely.ws.status import OK, RED, STATUS_HANDLERS, addStatusHandler

from ..helpers import fixed, make_app, make_config
from ..servers import need_binary

parser = pytest.importorskip("prometheus_client.parser")


@pytest.mark.parametrize("name", [1, 1.5, None, b"db", ("a",)])
def test_add_status_handler_refuses_a_name_that_is_not_text(name):
    with pytest.raises(TypeError, match="must be a str"):
        addStatusHandler(name, fixed(state=OK))
    assert name not in STATUS_HANDLERS


def test_a_str_subclass_is_text():
    class Name(str):
        pass

    addStatusHandler(Name("db"), fixed(state=OK))
    assert list(STATUS_HANDLERS) == ["db"]


@pytest.mark.parametrize("name", [1, None, b"db"])
def test_the_directive_refuses_a_name_that_is_not_text(name):
    config = make_config()
    with pytest.raises(ConfigurationError, match="non-empty string"):
        config.add_status_handler(name, fixed(state=OK))


def test_names_put_into_status_handlers_directly_give_one_series():
    # 1.0's dict takes any key; the worse of 1 and "1" is the one shown
    STATUS_HANDLERS[1] = fixed(state=RED)
    STATUS_HANDLERS["1"] = fixed(state=OK)
    app = make_app()
    for accept in (None, "application/openmetrics-text"):
        text = app.get("/svc_status.prometheus",
                       headers={"Accept": accept} if accept else {}).text
        assert text.count('svc_status{name="1"}') == 1
        assert 'svc_status{name="1"} 2\n' in text
        assert text.count('svc_status_duration_seconds{name="1"}') == 1
        assert text.count('svc_status_checks_total{name="1",state=') == 2  # OK and RED
    text = app.get("/svc_status.prometheus").text
    list(parser.text_string_to_metric_families(text))
    result = subprocess.run([need_binary("promtool"), "check", "metrics"],
                            input=text.encode(), capture_output=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
