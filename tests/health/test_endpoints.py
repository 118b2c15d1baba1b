"""``/livez``, ``/readyz`` and ``/startupz``: every rule, byte for byte in
the Kubernetes API server's format."""
from __future__ import annotations

import signal

import pytest

from lovely.ws.status import OK, RED, YELLOW, addStatusHandler
from lovely.ws.status.appstatus import get_app_status
from lovely.ws.status.probe.drain import Drainer
from lovely.ws.status.probe.store import StoreUnavailable

from ..helpers import PATIENCE, UserPolicy, fixed, make_app
from ..servers import needs_pyramid2

HEALTH = "lovely.ws.status.health"
PROBE = "lovely.ws.status.probestatus"


def app_with(*handlers, includes=(HEALTH,), settings=None):
    """An app with ``handlers``: ``(name, status, options)`` triples."""

    def setup(config):
        for name, status, options in handlers:
            config.add_status_handler(name, fixed(**status), **options)

    return make_app(*includes, settings=settings, setup=setup)


def h(name, state=OK, detail=None, **options):
    status = {"state": state}
    if detail is not None:
        status["detail"] = detail
    return name, status, options


def check_headers(response):
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/livez", "/readyz", "/startupz"])
def test_all_members_pass_ok(path):
    app = app_with(h("db", groups=["liveness", "readiness", "startup"]))
    response = app.get(path, status=200)
    assert response.body == b"ok"
    check_headers(response)


def test_a_handler_without_groups_is_in_readiness_and_startup_not_liveness():
    app = app_with(h("db", RED, "down"))
    assert app.get("/livez", status=200).body == b"ok"
    assert app.get("/readyz", status=503).text == (
        "[-]db failed: reason withheld\nreadyz check failed\n")
    assert app.get("/startupz", status=503).text == (
        "[-]db failed: reason withheld\nstartupz check failed\n")


def test_a_failing_member_lists_every_member_in_registration_order():
    app = app_with(h("ping", groups=["liveness"]), h("etcd", RED, "refused", groups=["liveness"]),
                   h("log", groups=["liveness"]))
    response = app.get("/livez", status=503)
    assert response.text == (
        "[+]ping ok\n"
        "[-]etcd failed: reason withheld\n"
        "[+]log ok\n"
        "livez check failed\n"
    )
    check_headers(response)


def test_verbose_lists_the_members_on_success():
    app = app_with(h("ping"), h("db"))
    assert app.get("/readyz?verbose", status=200).text == (
        "[+]ping ok\n[+]db ok\nreadyz check passed\n")
    # Any value: Kubernetes looks only for the key.
    assert app.get("/readyz?verbose=0").text.endswith("readyz check passed\n")


def test_no_members():
    app = app_with()
    assert app.get("/livez").body == b"ok"
    assert app.get("/livez?verbose").text == "livez check passed\n"


def test_exclude_leaves_members_out_and_ignores_unknown_names():
    calls = []

    def db():
        calls.append("db")
        return {"state": RED}

    def setup(config):
        config.add_status_handler("db", db)
        config.add_status_handler("cache", fixed(state=RED))
        config.add_status_handler("queue", fixed(state=OK))

    app = make_app(HEALTH, setup=setup)
    assert app.get("/readyz?exclude=db&exclude=cache").body == b"ok"
    assert calls == []  # an excluded member is not run
    assert app.get("/readyz?exclude=db&exclude=cache&exclude=nope&verbose").text == (
        "[+]db excluded: ok\n"
        "[+]cache excluded: ok\n"
        "[+]queue ok\n"
        'warn: some health checks cannot be excluded: no matches for "nope"\n'
        "readyz check passed\n"
    )
    assert app.get("/readyz?exclude=db&exclude=zz", status=503).text == (
        "[+]db excluded: ok\n"
        "[-]cache failed: reason withheld\n"
        "[+]queue ok\n"
        'warn: some health checks cannot be excluded: no matches for "zz"\n'
        "readyz check failed\n"
    )


def test_one_member():
    app = app_with(h("db", RED, "down"), h("cache", YELLOW), h("ping", groups=["liveness"]))
    response = app.get("/readyz/cache", status=200)
    assert response.body == b"ok"
    check_headers(response)
    response = app.get("/readyz/db", status=503)
    assert response.text == "internal server error: reason withheld\n"
    check_headers(response)
    response = app.get("/readyz/ping", status=404)  # not a member of readiness
    assert response.text == "404 page not found\n"
    check_headers(response)
    assert app.get("/livez/ping").body == b"ok"
    assert app.get("/livez/nothing", status=404).text == "404 page not found\n"
    # Query parameters of the whole endpoint mean nothing here.
    assert app.get("/readyz/db?exclude=db&verbose", status=503).text == (
        "internal server error: reason withheld\n")


def test_one_member_runs_only_that_handler():
    calls = []

    def setup(config):
        config.add_status_handler("a", lambda: calls.append("a") or {"state": OK})
        config.add_status_handler("b", lambda: calls.append("b") or {"state": OK})

    app = make_app(HEALTH, setup=setup)
    app.get("/readyz/b")
    assert calls == ["b"]


def test_yellow_and_non_critical_red_pass_and_say_so_when_verbose():
    app = app_with(h("cache", YELLOW, "slow"), h("mail", RED, "refused", critical=False),
                   h("search", YELLOW, critical=False))
    assert app.get("/readyz").body == b"ok"
    assert app.get("/readyz?verbose").text == (
        "[+]cache ok (YELLOW)\n"
        "[+]mail ok (RED, non-critical)\n"
        "[+]search ok (YELLOW, non-critical)\n"
        "readyz check passed\n"
    )
    assert app.get("/readyz/mail").body == b"ok"


def test_non_critical_lines_next_to_a_failure():
    app = app_with(h("mail", RED, critical=False), h("db", RED))
    assert app.get("/readyz", status=503).text == (
        "[+]mail ok (RED, non-critical)\n"
        "[-]db failed: reason withheld\n"
        "readyz check failed\n"
    )


def test_handlers_of_the_process_and_of_the_app():
    addStatusHandler("global", fixed(state=RED), groups=["liveness"])
    app = app_with(h("own", groups=["liveness"]))
    assert app.get("/livez", status=503).text == (
        "[-]global failed: reason withheld\n[+]own ok\nlivez check failed\n")


def test_any_handler_failure_is_a_failed_line():
    def broken():
        raise RuntimeError("secret connection string")

    def setup(config):
        config.add_status_handler("broken", broken)
        config.add_status_handler("nonsense", lambda: "not a dict")

    app = make_app(HEALTH, setup=setup)
    assert app.get("/readyz", status=503).text == (
        "[-]broken failed: reason withheld\n"
        "[-]nonsense failed: reason withheld\n"
        "readyz check failed\n"
    )


def test_a_query_string_that_is_not_utf8_counts_as_none():
    app = app_with(h("db", RED))
    assert app.get("/readyz?exclude=db%ff&verbose", status=503).text == (
        "[-]db failed: reason withheld\nreadyz check failed\n")


def test_names_cannot_break_the_lines():
    app = app_with(h("a\nb", RED))
    assert app.get("/readyz", status=503).text == (
        "[-]a\\nb failed: reason withheld\nreadyz check failed\n")


# --- the probe ----------------------------------------------------------------


def test_decommissioned_probe_fails_readyz_and_startupz_not_livez():
    app = app_with(h("db", groups=["liveness", "readiness", "startup"]),
                   includes=(HEALTH, PROBE))
    assert app.get("/readyz?verbose").text == (
        "[+]db ok\n[+]probe_status ok\nreadyz check passed\n")
    app.post("/probe_status?body=deploying v42")
    assert app.get("/readyz", status=503).text == (
        "[+]db ok\n[-]probe_status failed: reason withheld\nreadyz check failed\n")
    assert app.get("/startupz", status=503).text == (
        "[+]db ok\n[-]probe_status failed: reason withheld\nstartupz check failed\n")
    assert app.get("/readyz/probe_status", status=503).text == (
        "internal server error: reason withheld\n")
    assert app.get("/readyz/db").body == b"ok"
    assert app.get("/livez").body == b"ok"
    assert app.get("/livez?verbose").text == "[+]db ok\nlivez check passed\n"
    assert app.get("/livez/probe_status", status=404).text == "404 page not found\n"
    app.post("/probe_status")
    assert app.get("/readyz").body == b"ok"


def test_the_probe_can_be_excluded_as_any_check():
    app = app_with(includes=(HEALTH, PROBE))
    app.post("/probe_status?body=OFF")
    assert app.get("/readyz?exclude=probe_status&verbose").text == (
        "[+]probe_status excluded: ok\nreadyz check passed\n")


def test_without_probestatus_there_is_no_probe_check():
    app = app_with()
    assert app.get("/readyz?verbose").text == "readyz check passed\n"
    assert app.get("/readyz/probe_status", status=404).text == "404 page not found\n"


def test_draining_fails_readyz_not_livez():
    app = app_with(h("db", groups=["liveness", "readiness"]), includes=(HEALTH, PROBE),
                   settings={"health.show_details": "always"})
    # What SIGTERM does to the drainer of probestatus.drain_seconds.
    drainer = Drainer(PATIENCE, "draining", signal.SIGTERM, None)
    drainer.draining = True
    state = get_app_status(app.app.registry)
    state.drainer = drainer
    try:
        assert app.get("/readyz", status=503).text == (
            "[+]db ok\n[-]probe_status failed: draining\nreadyz check failed\n")
        assert app.get("/livez").body == b"ok"
    finally:
        # gunicorn's hook looks for drainers in every app still in memory.
        state.drainer = None


class DownStore:
    """A probe store that cannot be reached."""

    url = "down://"

    def get(self):
        raise StoreUnavailable("connection refused")

    def set(self, text):
        raise StoreUnavailable("connection refused")


def test_an_unreachable_probe_store_fails_readyz():
    app = app_with(includes=(HEALTH, PROBE), settings={"health.show_details": "always"})
    get_app_status(app.app.registry).store = DownStore()
    assert app.get("/readyz", status=503).text == (
        "[-]probe_status failed: probe store unavailable: connection refused\n"
        "readyz check failed\n"
    )
    assert app.get("/livez").body == b"ok"


# --- details --------------------------------------------------------------------


def test_details_when_allowed():
    app = app_with(h("db", RED, "connection refused"), h("queue", RED),
                   h("disk", RED, ""), settings={"health.show_details": "always"})
    assert app.get("/readyz", status=503).text == (
        "[-]db failed: connection refused\n"
        "[-]queue failed: RED\n"
        "[-]disk failed: RED\n"
        "readyz check failed\n"
    )
    assert app.get("/readyz/db", status=503).text == (
        "internal server error: connection refused\n")


# --- HTTP -------------------------------------------------------------------------


def test_head_and_any_method_answer_without_csrf():
    app = app_with(h("db", RED))
    assert app.head("/readyz", status=503).body == b""
    assert app.post("/readyz", status=503).text.endswith("readyz check failed\n")


@needs_pyramid2
def test_no_permission_needed_under_a_default_permission():
    def setup(config):
        config.set_security_policy(UserPolicy())
        config.set_default_permission("admin")
        config.add_status_handler("db", fixed(state=OK))
        config.add_route("secret", "/secret")
        config.add_view(lambda request: "secret", route_name="secret", renderer="string")

    app = make_app(HEALTH, setup=setup)
    app.get("/secret", status=403)  # the default permission is in force
    assert app.get("/readyz").body == b"ok"
    assert app.get("/livez/db", status=404).body == b"404 page not found\n"


def worker():
    return {"state": RED, "detail": "thread died"}


def mail():
    return {"state": RED, "detail": "refused"}


def test_groups_and_criticality_from_the_ini_file():
    here = "tests.health.test_endpoints"
    app = make_app(HEALTH, settings={
        "svcstatus.handlers": f"worker = {here}:worker\nmail = {here}:mail",
        "svcstatus.handler.worker.groups": "liveness, readiness",
        "svcstatus.handler.mail.critical": "false",
    })
    assert app.get("/livez", status=503).text == (
        "[-]worker failed: reason withheld\nlivez check failed\n")
    assert app.get("/startupz?verbose").text == (
        "[+]mail ok (RED, non-critical)\nstartupz check passed\n")
