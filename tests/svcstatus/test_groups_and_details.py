"""``/svc_status``: ``?group=NAME`` in every format, non-critical handlers,
``svcstatus.show_details``, and ``application/health+json``. Without them
every 1.0 format is as it was (tests/compat)."""
from __future__ import annotations

import json
import re

import pytest
from pyramid import testing

from lovely.ws.status import OK, RED, YELLOW, addStatusHandler
from lovely.ws.status.svcstatus import svc_status_view

from ..helpers import UserPolicy, fixed, make_app
from ..servers import needs_pyramid2

SVC = "lovely.ws.status.svcstatus"
ASK = {"Accept": "application/health+json"}
PROMETHEUS_SAMPLE = re.compile(r'^svc_status\{name="([^"]+)"\} ', re.M)
TIME = re.compile(rb',"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"')


def untimed(body):
    """``body`` without the checks' times, once each check has one."""
    assert body.count(b'"time":') == body.count(b'[{"status":') == len(TIME.findall(body))
    return TIME.sub(b"", body)


def app_with(settings=None, policy=False, includes=(SVC,)):
    def setup(config):
        if policy:
            config.set_security_policy(UserPolicy())
        config.add_status_handler("db", fixed(state=RED, detail="refused"))
        config.add_status_handler("ping", fixed(state=OK, detail="pong"),
                                  groups=["liveness", "readiness"])
        config.add_status_handler("mail", fixed(state=RED, detail="smtp down"),
                                  critical=False, groups=["readiness", "mailing"])

    return make_app(*includes, settings=settings, setup=setup)


# --- ?group= ------------------------------------------------------------------


def test_group_in_csv_and_json():
    app = app_with()
    assert app.get("/svc_status?group=liveness").text == "ping\tOK\tpong"
    assert app.get("/svc_status.json?group=liveness").json == {
        "ping": {"state": OK, "detail": "pong"}}
    assert app.get("/svc_status?group=startup").text == "db\tRED\trefused"
    assert app.get("/svc_status.json?group=mailing").body == (
        b'{"mail":{"state":"RED","detail":"smtp down","critical":false}}')


def test_group_in_html_and_prometheus():
    app = app_with()
    page = app.get("/svc_status.html?group=liveness").text
    assert 'data-state="OK"' in page and ">ping<" in page and ">db<" not in page
    text = app.get("/svc_status.prometheus?group=readiness").text
    assert PROMETHEUS_SAMPLE.findall(text) == ["db", "mail", "ping"]


def test_a_standard_group_without_members_is_empty():
    app = make_app(SVC)
    response = app.get("/svc_status?group=liveness")
    assert (response.status_int, response.body) == (200, b"")


@pytest.mark.parametrize("path", ["/svc_status", "/svc_status.json", "/svc_status.prometheus",
                                  "/svc_status.html"])
def test_a_group_that_does_not_exist_is_404(path):
    response = app_with().get(f"{path}?group=nothing", status=404)
    assert response.headers["Content-Type"] == "text/plain; charset=UTF-8"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.text == "no status handler group 'nothing'"


def test_a_group_of_process_wide_handlers():
    addStatusHandler("queue", fixed(state=YELLOW), groups=["workers"])
    app = make_app(SVC)
    assert app.get("/svc_status?group=workers").text == "queue\tYELLOW\t"


def test_group_only_runs_its_members():
    calls = []

    def setup(config):
        config.add_status_handler("a", lambda: calls.append("a") or {"state": OK},
                                  groups=["liveness"])
        config.add_status_handler("b", lambda: calls.append("b") or {"state": OK})

    make_app(SVC, setup=setup).get("/svc_status?group=liveness")
    assert calls == ["a"]


def test_group_on_a_dummy_request():
    addStatusHandler("a", fixed(state=OK), groups=["liveness"])
    addStatusHandler("b", fixed(state=OK))
    request = testing.DummyRequest(params={"group": "liveness"})
    request.matchdict = {"type": ".json"}
    assert json.loads(svc_status_view(request).body) == {"a": {"state": OK}}


def test_a_query_string_that_is_not_utf8_is_ignored_as_in_1_0():
    addStatusHandler("a", fixed(state=OK))
    app = make_app(SVC)
    assert app.get("/svc_status?group=%ff").text == "a\tOK\t"


# --- non-critical handlers ------------------------------------------------------


def test_non_critical_rows_say_so():
    app = app_with()
    assert app.get("/svc_status").text == (
        "db\tRED\trefused\n"
        "mail\tRED\t(non-critical) smtp down\n"
        "ping\tOK\tpong"
    )
    assert app.get("/svc_status.json").json["mail"] == {
        "state": RED, "detail": "smtp down", "critical": False}
    page = app.get("/svc_status.html").text
    assert ('<tr class="RED" data-state="RED" data-critical="false"><td class="name">mail</td>'
            '<td class="state">RED <span class="non-critical">non-critical</span></td>'
            '<td class="detail">smtp down</td>') in page


def test_a_non_critical_red_alone_makes_the_page_yellow():
    def setup(config):
        config.add_status_handler("mail", fixed(state=RED), critical=False)
        config.add_status_handler("ok", fixed(state=OK))

    page = make_app(SVC, setup=setup).get("/svc_status.html").text
    assert 'id="overall" data-state="YELLOW"' in page


def test_prometheus_rows_keep_their_state():
    text = app_with().get("/svc_status.prometheus").text
    assert 'svc_status{name="mail"} 2' in text


# --- show_details ----------------------------------------------------------------


def test_always_is_the_default():
    assert "refused" in app_with().get("/svc_status").text


def test_never_shows_name_and_state_only():
    app = app_with({"svcstatus.show_details": "never"})
    assert app.get("/svc_status").text == (
        "db\tRED\t\n"
        "mail\tRED\t(non-critical)\n"
        "ping\tOK\t"
    )
    assert app.get("/svc_status.json").body == (
        b'{"db":{"state":"RED"},"ping":{"state":"OK"},'
        b'"mail":{"state":"RED","critical":false}}')
    page = app.get("/svc_status.html").text
    assert "refused" not in page and "pong" not in page
    assert '<td class="detail"></td><td class="seconds"></td>' in page
    assert app.get("/svc_status", headers=ASK, status=503).body == (
        b'{"status":"fail","checks":{"db":[{"status":"fail"}],"ping":[{"status":"pass"}],'
        b'"mail":[{"status":"fail","critical":false}]}}')


def test_never_hides_any_key_of_a_handler():
    def setup(config):
        config.add_status_handler("db", fixed(state=OK, detail="x", password="secret",
                                              labels={"connections": 3}))

    app = make_app(SVC, settings={"svcstatus.show_details": "never"}, setup=setup)
    assert app.get("/svc_status.json").json == {"db": {"state": OK}}
    # Prometheus carries numbers, not details: as always.
    assert 'name="db",label="connections"' in app.get("/svc_status.prometheus").text


@needs_pyramid2
@pytest.mark.parametrize("user, shown", [(None, False), ("guest", False), ("ops", True)])
def test_when_authorized_with_a_permission(user, shown):
    app = app_with({"svcstatus.show_details": "when_authorized",
                    "svcstatus.details_permission": "status-details"}, policy=True)
    headers = {"X-User": user} if user else {}
    assert ("refused" in app.get("/svc_status", headers=headers).text) is shown
    assert ("refused" in app.get("/svc_status", headers={**headers, **ASK},
                                 status=503).text) is shown


@needs_pyramid2
def test_when_authorized_without_a_permission_means_authenticated():
    app = app_with({"svcstatus.show_details": "when_authorized"}, policy=True)
    assert "refused" not in app.get("/svc_status").text
    assert "refused" in app.get("/svc_status", headers={"X-User": "guest"}).text


def test_when_authorized_without_a_security_policy_shows_nothing():
    app = app_with({"svcstatus.show_details": "when_authorized"})
    assert "refused" not in app.get("/svc_status").text


def test_bad_show_details_stops_the_app():
    from pyramid.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError) as info:
        app_with({"svcstatus.show_details": "yes"})
    assert "bad value for setting 'svcstatus.show_details'" in str(info.value)


# --- application/health+json ------------------------------------------------------


def test_health_json_fail_is_503():
    response = app_with().get("/svc_status", headers=ASK, status=503)
    assert response.headers["Content-Type"] == "application/health+json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Vary"] == "Accept"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert untimed(response.body) == (
        b'{"status":"fail","checks":{"db":[{"status":"fail","output":"refused"}],'
        b'"ping":[{"status":"pass"}],'
        b'"mail":[{"status":"fail","critical":false,"output":"smtp down"}]}}')


def test_health_json_warn_and_pass_are_200():
    app = app_with()
    assert untimed(app.get("/svc_status?group=mailing", headers=ASK).body) == (
        b'{"status":"warn","checks":{"mail":[{"status":"fail","critical":false,'
        b'"output":"smtp down"}]}}')
    assert untimed(app.get("/svc_status?group=liveness", headers=ASK).body) == (
        b'{"status":"pass","checks":{"ping":[{"status":"pass"}]}}')


@pytest.mark.parametrize("path", ["/svc_status", "/svc_status.json", "/svc_status.csv"])
def test_health_json_on_the_urls_accept_decides(path):
    app_with().get(path, headers=ASK, status=503)


@pytest.mark.parametrize("path, content_type", [
    ("/svc_status.html", "text/html; charset=UTF-8"),
    ("/svc_status.prometheus", "text/plain; version=0.0.4; charset=UTF-8"),
])
def test_the_extensions_that_always_win(path, content_type):
    response = app_with().get(path, headers=ASK)
    assert response.headers["Content-Type"] == content_type


@pytest.mark.parametrize("accept, content_type", [
    ("application/json, application/health+json;q=0.5", "application/json"),
    ("application/health+json, application/json", "application/health+json"),
    ("text/csv;q=0.9, application/health+json", "application/health+json"),
    ("application/health+json;q=0", "text/csv; charset=UTF-8"),
])
def test_health_json_by_q_value(accept, content_type):
    response = app_with().get("/svc_status", headers={"Accept": accept}, status="*")
    assert response.headers["Content-Type"] == content_type


def test_health_json_has_the_dockerflow_version(tmp_path):
    version = tmp_path / "version.json"
    version.write_text('{"source": "s", "version": "1.2.3", "commit": "c", "build": "b"}')
    app = app_with({"dockerflow.version_file": str(version)},
                   includes=(SVC, "lovely.ws.status.dockerflow"))
    assert untimed(app.get("/svc_status?group=liveness", headers=ASK).body) == (
        b'{"status":"pass","version":"1.2.3","checks":{"ping":[{"status":"pass"}]}}')


def test_health_json_time_is_when_the_state_changed():
    import datetime
    import time

    started = int(time.time())
    state = {"state": OK}

    def setup(config):
        config.add_status_handler("flip", lambda: state)

    app = make_app(SVC, setup=setup)

    def changed():
        [check] = app.get("/svc_status", headers=ASK, status="*").json["checks"]["flip"]
        stamp = datetime.datetime.strptime(check["time"], "%Y-%m-%dT%H:%M:%SZ")
        return stamp.replace(tzinfo=datetime.timezone.utc).timestamp()

    first = changed()
    assert first >= started
    assert changed() == first  # the same state: the same time
    time.sleep(1.01)  # the times are to the second
    state = {"state": RED}
    assert changed() > first
