"""``/svc_status.html`` through the view: the app's name, the host, the
version, the probe's banner, the reloads, each handler's history and the
origin of its result, and what a request that may not see details gets."""
from __future__ import annotations

import json
import re
import signal
import socket

import pytest
from pyramid.exceptions import ConfigurationError

from lovely.ws.status import OK, RED, YELLOW, probestatus
from lovely.ws.status.appstatus import get_app_status
from lovely.ws.status.probe.drain import Drainer

from ..helpers import Counting, UserPolicy, fixed, make_app
from ..servers import needs_pyramid2

SVC = "lovely.ws.status.svcstatus"
PROBE = "lovely.ws.status.probestatus"
DOCKERFLOW = "lovely.ws.status.dockerflow"
PAGE = "/svc_status.html"


def h1(page):
    return re.search(r"<h1>(.*?) <span", page).group(1)


def refresh(page):
    return re.findall(r'<meta http-equiv="refresh" content="([^"]*)">', page)


def test_the_app_and_the_host():
    app = make_app(settings={"svcstatus.name": "shop <eu>"})
    page = app.get(PAGE).text
    assert h1(page) == "shop &lt;eu&gt;"
    assert f"<dt>Host</dt><dd>{socket.gethostname()}</dd>" in page


def test_without_the_setting_the_registry_names_the_app():
    app = make_app()
    name = app.app.registry.__name__
    assert name  # the package that made the Configurator
    assert h1(app.get(PAGE).text) == name


def test_reloads_every_ten_seconds_by_default():
    assert refresh(make_app().get(PAGE).text) == ["10"]
    assert refresh(make_app(settings={"svcstatus.html_refresh": "2.5"}).get(PAGE).text) == [
        "3"]
    page = make_app(settings={"svcstatus.html_refresh": "0"}).get(PAGE).text
    assert refresh(page) == [] and "reloads" not in page


@pytest.mark.parametrize("value", ["-1", "soon", "inf"])
def test_a_bad_refresh_stops_the_app(value):
    with pytest.raises(ConfigurationError) as info:
        make_app(settings={"svcstatus.html_refresh": value})
    assert "bad value for setting 'svcstatus.html_refresh'" in str(info.value)


def test_the_dockerflow_version(tmp_path):
    path = tmp_path / "version.json"
    path.write_text(json.dumps({"version": "2.1.0", "commit": "0123abc", "source": "x",
                                "build": "y"}))
    app = make_app(SVC, DOCKERFLOW, settings={"dockerflow.version_file": str(path)})
    page = app.get(PAGE).text
    assert ('<div class="version"><dt>Version</dt><dd>2.1.0</dd></div>'
            '<div class="commit"><dt>Commit</dt><dd>0123abc</dd></div>') in page
    assert "Source" not in page
    path.write_text("{broken")
    page = app.get(PAGE).text
    assert "Version" not in page and "Commit" not in page
    path.unlink()
    assert "Version" not in app.get(PAGE).text


def test_no_version_without_dockerflow():
    assert "Version" not in make_app().get(PAGE).text


def test_no_banner_while_the_probe_answers_ok():
    assert 'class="banner"' not in make_app(SVC, PROBE).get(PAGE).text


def test_a_decommissioned_instance_says_so():
    app = make_app(SVC, PROBE)
    probestatus.RESPONSE_BODY = "maintenance"
    page = app.get(PAGE).text
    assert ('<p class="banner" id="banner" role="status" data-kind="out of service">'
            "<strong>Out of service</strong>: the probe answers <q>maintenance</q>") in page
    # without the probe's include, the page knows of no probe
    assert 'class="banner"' not in make_app().get(PAGE).text


def test_a_draining_process_says_so():
    app = make_app(SVC, PROBE)
    drainer = Drainer(30, "DRAINING", signal.SIGTERM, signal.SIG_DFL)  # never installed
    drainer.draining = True
    get_app_status(app.app.registry).drainer = drainer
    page = app.get(PAGE).text
    assert ('data-kind="draining"><strong>Draining</strong>: this process is stopping; '
            "the probe answers <q>DRAINING</q>") in page


def test_since_when_and_the_transitions_of_a_handler():
    status = {"state": OK}
    app = make_app(setup=lambda config: config.add_status_handler("db", lambda: status))
    first = app.get(PAGE).text
    assert '<td class="since">at least <time datetime="' in first
    status = {"state": RED, "detail": "refused"}
    page = app.get(PAGE).text
    since = re.search(r'<td class="since">(.*?)</td>', page).group(1)
    assert re.fullmatch(
        r'<time datetime="[^"]+" title="since [^"]+">\d+ s</time>'
        r'<ol class="strip" aria-label="recent states, oldest first">'
        r'<li class="OK" title="OK from [^"]+">OK</li><li class="RED" title="RED from [^"]+">'
        r"RED</li></ol>", since)


def test_labels_and_a_cached_result():
    handler = Counting(YELLOW)

    def setup(config):
        config.add_status_handler("cache", handler, ttl=3600)
        config.add_status_handler("db", fixed(state=OK, labels={"connections": 4}))

    app = make_app(setup=setup)
    app.get(PAGE)
    page = app.get(PAGE).text
    assert handler.calls == 1
    cache = re.search(r'<tr class="YELLOW".*?</tr>', page).group(0)
    assert '<td class="detail">call 1</td>' in cache
    assert re.search(r'<td class="notes"><span class="origin" data-origin="cached">'
                     r"cached, \d+ s old</span></td>", cache)
    assert '<td class="notes"><span class="label">connections <b>4</b></span></td>' in page


def app_with_secrets(settings):
    def setup(config):
        config.set_security_policy(UserPolicy())
        config.add_status_handler("cache", fixed(state=YELLOW, detail="secret detail"),
                                  ttl=3600)
        config.add_status_handler("db", fixed(state=RED, detail="refused",
                                              labels={"connections": 4}))

    app = make_app(SVC, PROBE, settings=settings, setup=setup)
    app.get(PAGE)  # the next result of cache comes from the cache
    return app


HIDDEN = ("secret detail", "refused", 'class="label"', 'class="origin"', 'class="since"',
          'class="notes"', "<data ")


@needs_pyramid2
def test_a_request_that_may_not_see_details_gets_states_only():
    app = app_with_secrets({"svcstatus.show_details": "when_authorized",
                            "svcstatus.details_permission": "status-details"})
    probestatus.RESPONSE_BODY = "OFF"
    page = app.get(PAGE).text
    for hidden in HIDDEN:
        assert hidden not in page, hidden
    assert ('<tr class="RED" data-state="RED"><td class="name">db</td>'
            '<td class="state">RED</td><td class="detail"></td><td class="seconds"></td>'
            "</tr>") in page
    # what the app's own public endpoints tell anyway
    assert "<q>OFF</q>" in page and "<dt>Host</dt>" in page
    shown = app.get(PAGE, headers={"X-User": "ops"}).text
    for hidden in HIDDEN:
        assert hidden in shown, hidden


def test_never_shows_states_only():
    page = app_with_secrets({"svcstatus.show_details": "never"}).get(PAGE).text
    for hidden in HIDDEN:
        assert hidden not in page, hidden


def test_the_policy_allows_the_page_s_style_and_nothing_else():
    response = make_app().get(PAGE)
    policy = response.headers["Content-Security-Policy"]
    assert policy.startswith("default-src 'none'; style-src 'sha256-")
    assert "script-src" not in policy and "<script" not in response.text
    assert not re.search(r"(src|href)=", response.text)
