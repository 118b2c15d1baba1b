"""``promtool check metrics`` (Debian's prometheus package) on /svc_status.prometheus."""
from __future__ import annotations

import subprocess

import pytest
from pyramid.config import Configurator
from webtest import TestApp

from lovely.ws.status import OK, RED, YELLOW, addStatusHandler

from ..servers import need_binary

HOSTILE = [
    'quote"d',
    "back\\slash",
    "new\nline",
    "\u00e9t\u00e9 \u2603 \U0001f600",
    "",
    "tab\tand\rcarriage",
    '\\"\n',
    "{curly}=,#",
    "nul\x00",
]


def promtool_check(text: str) -> subprocess.CompletedProcess:
    promtool = need_binary("promtool")
    return subprocess.run(
        [promtool, "check", "metrics"],
        input=text.encode("utf-8"),
        capture_output=True,
        timeout=60,
    )


def assert_accepted(text):
    result = promtool_check(text)
    output = (result.stdout + result.stderr).decode(errors="replace")
    assert result.returncode == 0, output
    # promtool prints lint problems (and exits non-zero for them)
    assert "error" not in output.lower(), output


@pytest.fixture
def app():
    config = Configurator()
    config.include("lovely.ws.status.svcstatus")
    return TestApp(config.make_wsgi_app())


def test_promtool_really_checks():
    # a duplicate HELP line, as 1.0 wrote for two handlers, is rejected
    bad = (
        "# HELP svc_status Status\n# TYPE svc_status untyped\n"
        'svc_status{name="a"} 0\n'
        "# HELP svc_status Status\n# TYPE svc_status untyped\n"
        'svc_status{name="b"} 0\n'
    )
    assert promtool_check(bad).returncode != 0
    assert promtool_check('svc_status{name="a"b"} 0\n').returncode != 0


def test_no_handlers(app):
    assert_accepted(app.get("/svc_status.prometheus").text)


@pytest.mark.parametrize("name", HOSTILE)
def test_one_hostile_name(app, name):
    addStatusHandler(name, lambda: {"state": YELLOW, "labels": {name: 1}})
    assert_accepted(app.get("/svc_status.prometheus").text)


def test_all_hostile_names_together(app):
    for i, name in enumerate(HOSTILE):
        state = (OK, YELLOW, RED)[i % 3]
        addStatusHandler(name, lambda state=state, name=name, i=i: {
            "state": state, "detail": name, "labels": {name: i, "x": 1.5, "nan": "x"},
        })
    addStatusHandler("raises", lambda: 1 / 0)
    addStatusHandler("invalid", lambda: {"state": "GREEN"})
    text = app.get("/svc_status.prometheus").text
    assert text.count("# HELP svc_status ") == 1
    assert_accepted(text)


def test_with_the_default_registry_appended(app):
    prometheus_client = pytest.importorskip("prometheus_client")
    counter = prometheus_client.Counter("lws_promtool_test", "A test counter",
                                        ["kind"], registry=None)
    prometheus_client.REGISTRY.register(counter)
    try:
        counter.labels('we"ird\n').inc()
        addStatusHandler('we"ird\n', lambda: {"state": OK})
        text = app.get("/svc_status.prometheus").text
    finally:
        prometheus_client.REGISTRY.unregister(counter)
    assert "lws_promtool_test_total" in text
    assert_accepted(text)
