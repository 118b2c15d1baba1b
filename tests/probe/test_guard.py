"""Who may switch the probe: ``probestatus.permission`` under a real security
policy (and without one), ``probestatus.allow_from`` judged by
``REMOTE_ADDR``, cross-site requests from browsers inside the allowed
network, and an app whose default permission and CSRF checks must not get in
the way."""
from __future__ import annotations

import logging
import urllib.error
import urllib.request

import pytest
from pyramid import testing

try:
    from pyramid.authorization import ACLHelper, Allow, Authenticated, Everyone
except ImportError:  # Pyramid 1.10: the tests of security policies are skipped
    from pyramid.security import Allow, Authenticated, Everyone

    ACLHelper = None
from pyramid.config import Configurator
from pyramid.csrf import CookieCSRFStoragePolicy
from pyramid.exceptions import ConfigurationError
from pyramid.response import Response
from webtest import TestApp

from lovely.ws.status import probestatus
from lovely.ws.status.appstatus import get_app_status

from ..helpers import make_app as make_plain_app
from ..servers import needs_pyramid2, serve_wsgi

PROBE = "lovely.ws.status.probestatus"


class Root:
    __acl__ = [
        (Allow, "role:ops", "manage-probe"),
        (Allow, Authenticated, "view"),
    ]

    def __init__(self, request):
        self.request = request


class HeaderSecurityPolicy:
    """Identity from ``X-User``; ``ops`` has the role ``role:ops``."""

    def identity(self, request):
        return request.headers.get("X-User") or None

    def authenticated_userid(self, request):
        return self.identity(request)

    def effective_principals(self, request):
        user = self.identity(request)
        principals = [Everyone]
        if user:
            principals += [Authenticated, f"user:{user}"]
            if user == "ops":
                principals.append("role:ops")
        return principals

    def permits(self, request, context, permission):
        principals = self.effective_principals(request)
        return ACLHelper().permits(context, principals, permission)

    def remember(self, request, userid, **kw):
        return []

    def forget(self, request, **kw):
        return []


def forbidden_html(request):
    # The app's own forbidden view answers HTML; the probe must not use it.
    return Response("<html>go away</html>", status=403, content_type="text/html")


def make_app(settings, locked_down=False):
    config = Configurator(settings=settings, root_factory=Root)
    config.set_security_policy(HeaderSecurityPolicy())
    config.add_forbidden_view(forbidden_html)
    if locked_down:
        config.set_default_permission("view")
        config.set_csrf_storage_policy(CookieCSRFStoragePolicy())
        config.set_default_csrf_options(require_csrf=True)
        config.add_route("home", "/")
        config.add_view(lambda request: Response("home"), route_name="home")
    config.include(PROBE)
    return TestApp(config.make_wsgi_app())


def assert_refused(response, words):
    assert response.status_int == 403
    assert response.headers["Content-Type"] == "text/plain; charset=UTF-8"
    assert response.headers["Cache-Control"] == "no-store"
    assert "<html>" not in response.text
    assert words in response.text


@needs_pyramid2
class TestPermission:
    settings = {"probestatus.permission": "manage-probe"}

    def test_post_without_permission_is_403_and_changes_nothing(self):
        app = make_app(self.settings)
        probestatus.RESPONSE_BODY = "before"
        for headers in ({}, {"X-User": "mallory"}):
            response = app.post("/probe_status?body=OFF", headers=headers, status=403)
            assert_refused(response, "'manage-probe'")
            assert probestatus.RESPONSE_BODY == "before"
        response = app.post("/probe_status", headers={"X-User": "mallory"}, status=403)
        assert probestatus.RESPONSE_BODY == "before"

    def test_post_with_permission_is_200(self):
        app = make_app(self.settings)
        response = app.post("/probe_status?body=OFF", headers={"X-User": "ops"})
        assert (response.status_int, response.text) == (200, "OFF")
        assert app.get("/probe_status", status=503).text == "OFF"
        assert app.post("/probe_status", headers={"X-User": "ops"}).text == "OK"

    def test_get_and_head_stay_open(self):
        app = make_app(self.settings)
        assert app.get("/probe_status").text == "OK"
        assert app.head("/probe_status").status_int == 200

    def test_bad_body_from_a_stranger_is_403_not_400(self):
        # Strangers learn nothing about the input rules.
        app = make_app(self.settings)
        app.post("/probe_status?body=%0A", status=403)


@needs_pyramid2
class TestAllowFrom:
    settings = {"probestatus.allow_from": "127.0.0.0/8\n::1, 10.1.0.0/16"}

    @pytest.mark.parametrize("address", ["127.0.0.1", "127.9.9.9", "::1", "10.1.200.3",
                                         "::ffff:10.1.0.7"])
    def test_allowed_addresses(self, address):
        app = make_app(self.settings)
        response = app.post("/probe_status?body=OFF",
                            extra_environ={"REMOTE_ADDR": address})
        assert (response.status_int, response.text) == (200, "OFF")
        assert probestatus.RESPONSE_BODY == "OFF"

    @pytest.mark.parametrize("address", ["192.0.2.1", "10.2.0.1", "2001:db8::1",
                                         "not-an-ip", ""])
    def test_other_addresses_are_refused(self, address):
        app = make_app(self.settings)
        response = app.post("/probe_status?body=OFF",
                            extra_environ={"REMOTE_ADDR": address}, status=403)
        assert_refused(response, "may not change the probe")
        assert probestatus.RESPONSE_BODY == "OK"
        response = app.get("/probe_status", extra_environ={"REMOTE_ADDR": address})
        assert response.text == "OK"

    def test_allowed_networks_are_typed(self):
        config = Configurator(settings=dict(self.settings))
        config.include(PROBE)
        config.commit()
        networks = get_app_status(config.registry).settings["probestatus.allow_from"]
        assert [str(n) for n in networks] == ["127.0.0.0/8", "::1/128", "10.1.0.0/16"]


@needs_pyramid2
def test_both_checks_must_pass():
    app = make_app({"probestatus.permission": "manage-probe",
                    "probestatus.allow_from": "127.0.0.1"})
    inside = {"REMOTE_ADDR": "127.0.0.1"}
    outside = {"REMOTE_ADDR": "192.0.2.1"}
    app.post("/probe_status?body=A", headers={"X-User": "ops"}, extra_environ=outside,
             status=403)
    app.post("/probe_status?body=A", extra_environ=inside, status=403)
    assert probestatus.RESPONSE_BODY == "OK"
    response = app.post("/probe_status?body=A", headers={"X-User": "ops"},
                        extra_environ=inside)
    assert response.text == "A"


@needs_pyramid2
def test_locked_down_app_still_serves_the_probe():
    """Default permission and CSRF on by default: GET stays open, an allowed
    POST needs no CSRF token."""
    app = make_app({"probestatus.permission": "manage-probe",
                    "probestatus.allow_from": "127.0.0.1"}, locked_down=True)
    # the app itself is locked down
    assert app.get("/", status=403).text == "<html>go away</html>"
    assert app.get("/", headers={"X-User": "someone"}).text == "home"
    app.post("/", headers={"X-User": "someone"}, status=400)  # no CSRF token
    # the probe is not
    assert app.get("/probe_status").text == "OK"
    assert app.head("/probe_status").status_int == 200
    response = app.post("/probe_status?body=OFF", headers={"X-User": "ops"},
                        extra_environ={"REMOTE_ADDR": "127.0.0.1"})
    assert (response.status_int, response.text) == (200, "OFF")
    assert app.get("/probe_status", status=503).text == "OFF"
    response = app.post("/probe_status", extra_environ={"REMOTE_ADDR": "127.0.0.1"},
                        status=403)
    assert_refused(response, "'manage-probe'")
    assert probestatus.RESPONSE_BODY == "OFF"


@needs_pyramid2
def test_default_is_open_even_in_a_locked_down_app():
    # Documented: without settings anybody may POST (1.0 behaviour).
    app = make_app({}, locked_down=True)
    assert app.post("/probe_status?body=OFF",
                    extra_environ={"REMOTE_ADDR": "203.0.113.5"}).text == "OFF"


def test_empty_permission_means_none():
    config = Configurator(settings={"probestatus.permission": "  ",
                                    "probestatus.allow_from": ""})
    config.include(PROBE)
    config.commit()
    app = get_app_status(config.registry)
    assert app.settings["probestatus.permission"] is None
    assert (app.guard.permission, app.guard.networks) == (None, ())
    assert make_plain_app(PROBE, settings={"probestatus.permission": " "}).post(
        "/probe_status?body=OFF", extra_environ={"REMOTE_ADDR": "203.0.113.5"}
    ).text == "OFF"


def test_bad_network_names_the_key():
    config = Configurator(settings={"probestatus.allow_from": "10.0.0.0/33"})
    config.include(PROBE)
    with pytest.raises(ConfigurationError, match="probestatus.allow_from"):
        config.commit()


def test_permission_without_a_security_policy_refuses_every_post(caplog):
    # Pyramid grants every permission when an app has no security policy;
    # the operator set probestatus.permission to lock the probe, so it stays
    # locked instead of open to everybody.
    app = make_plain_app(PROBE, settings={"probestatus.permission": "manage-probe"})
    response = app.post("/probe_status?body=OFF", status=403)
    assert "security policy" in response.text
    assert probestatus.RESPONSE_BODY == "OK"
    assert app.get("/probe_status").text == "OK"
    assert any("security policy" in r.getMessage() for r in caplog.records)


def http_post(url, headers=None):
    """(status, text) of a ``POST`` to ``url`` over HTTP."""
    request = urllib.request.Request(url, data=b"", method="POST", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read().decode()


@pytest.mark.server
def test_allow_from_behind_a_trusted_proxy_with_waitress():
    """As the docs advise: waitress sets REMOTE_ADDR from X-Forwarded-For only
    when the peer is the trusted proxy, so allow_from judges the client."""
    config = Configurator(settings={"probestatus.allow_from": "10.0.0.0/8"})
    config.include(PROBE)
    app = config.make_wsgi_app()
    with serve_wsgi(app, threads=2, trusted_proxy="127.0.0.1",
                    trusted_proxy_headers="x-forwarded-for") as base:

        def post(body, forwarded=None):
            headers = {"X-Forwarded-For": forwarded} if forwarded else {}
            return http_post(f"{base}/probe_status?body={body}", headers)

        # the proxy itself (127.0.0.1) is not in allow_from
        assert post("A")[0] == 403
        assert post("A", "192.0.2.7")[0] == 403
        assert probestatus.RESPONSE_BODY == "OK"
        assert post("B", "10.3.2.1") == (200, "B")
        assert probestatus.RESPONSE_BODY == "B"
        # a client cannot smuggle an allowed address in front of its own
        assert post("C", "10.3.2.1, 192.0.2.7")[0] == 403
        assert probestatus.RESPONSE_BODY == "B"


# --- cross-site requests from browsers inside the allowed network -------------


@pytest.mark.server
@pytest.mark.parametrize(
    "headers",
    [
        # What a page on another site makes a browser send with
        # fetch(url, {method: "POST", mode: "no-cors"}) or a plain <form>:
        # a "simple" request, sent without a CORS preflight.
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "https://evil.example"},  # a browser without Sec-Fetch-*
        {"Origin": "null"},  # a sandboxed iframe, a data: URL
        {"Sec-Fetch-Site": "same-site", "Origin": "https://other.intranet.example"},
    ],
)
def test_locked_probe_refuses_cross_site_posts_from_browsers(headers):
    # allow_from trusts the address, and the browser of anybody inside the
    # allowed network has it: any web page they open could switch the probe
    # off, since the view is (rightly, for machines) exempt from CSRF checks.
    config = Configurator(settings={"probestatus.allow_from": "127.0.0.0/8 ::1"})
    config.include(PROBE)
    with serve_wsgi(config.make_wsgi_app()) as base:
        status, text = http_post(f"{base}/probe_status?body=pwned", headers)
        assert status == 403, text
        assert "cross-site" in text
        assert probestatus.RESPONSE_BODY == "OK"
        # Machines (curl, pprobe-like scripts, load balancer tooling) send no
        # Origin; a same-origin page may.
        assert http_post(f"{base}/probe_status?body=OFF") == (200, "OFF")
        same = {"Origin": base, "Sec-Fetch-Site": "same-origin"}
        assert http_post(f"{base}/probe_status", same) == (200, "OK")


@pytest.mark.server
@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
    ],
)
def test_unlocked_probe_refuses_cross_site_posts_from_browsers(headers):
    # Any web page opened inside the network could otherwise decommission
    # the instance with a form.
    config = Configurator()
    config.include(PROBE)
    with serve_wsgi(config.make_wsgi_app()) as base:
        status, text = http_post(f"{base}/probe_status?body=OFF", headers)
        assert status == 403, text
        assert "cross-site" in text
        assert probestatus.RESPONSE_BODY == "OK"
        assert http_post(f"{base}/probe_status?body=OFF") == (200, "OFF")


@pytest.mark.server
def test_refuse_cross_site_false_accepts_them_as_1_0_did():
    config = Configurator(settings={"probestatus.refuse_cross_site": "false"})
    config.include(PROBE)
    with serve_wsgi(config.make_wsgi_app()) as base:
        headers = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
        assert http_post(f"{base}/probe_status?body=OFF", headers) == (200, "OFF")


# --- DNS rebinding ---------------------------------------------------------------


def rebinding(port):
    """What a browser sends from a page of a name the attacker rebound to
    this server: for the browser it is all one origin."""
    host = f"rebind.attacker.example:{port}"
    return {"Host": host, "Origin": f"http://{host}", "Sec-Fetch-Site": "same-origin"}


@pytest.mark.server
@pytest.mark.parametrize("settings", [{}, {"probestatus.allow_from": "127.0.0.1"}],
                         ids=["unlocked", "allow_from"])
def test_a_rebound_name_may_not_change_the_probe(settings):
    config = Configurator(settings=settings)
    config.include(PROBE)
    with serve_wsgi(config.make_wsgi_app()) as base:
        port = base.rsplit(":", 1)[1]
        status, text = http_post(f"{base}/probe_status?body=pwned", rebinding(port))
        assert status == 403, text
        assert "'rebind.attacker.example'" in text
        assert "probestatus.allowed_hosts" in text
        assert probestatus.RESPONSE_BODY == "OK"
        # The same browser headers for the IP address the app is served on.
        same = {"Origin": base, "Sec-Fetch-Site": "same-origin"}
        assert http_post(f"{base}/probe_status?body=OFF", same) == (200, "OFF")


def browser_post(app, host):
    headers = {"Host": host, "Origin": f"http://{host}", "Sec-Fetch-Site": "same-origin"}
    return app.post("/probe_status?body=OFF", headers=headers, expect_errors=True)


@pytest.mark.parametrize(
    "allowed, host, status",
    [
        ("", "127.0.0.1:6543", 200),
        ("", "[::1]:6543", 200),
        ("", "10.1.2.3", 200),
        ("", "localhost:6543", 403),
        ("", "app.example.com", 403),
        ("app.example.com", "app.example.com", 200),
        ("app.example.com", "APP.Example.COM:8080", 200),
        ("app.example.com", "app.example.com.", 200),
        ("app.example.com", "x.app.example.com", 403),
        ("app.example.com", "app.example.com.evil.example", 403),
        (".example.com", "example.com", 200),
        (".example.com", "a.b.example.com", 200),
        (".example.com", "badexample.com", 403),
        ("ops.example.com, localhost", "localhost:6543", 200),
    ],
)
def test_allowed_hosts(allowed, host, status):
    app = make_plain_app(PROBE, settings={"probestatus.allowed_hosts": allowed})
    response = browser_post(app, host)
    assert response.status_int == status, response.text


def test_machine_clients_are_not_asked_for_their_host():
    # curl, load balancers: no Origin, no Sec-Fetch-Site, any Host.
    app = make_plain_app(PROBE)
    response = app.post("/probe_status?body=OFF", headers={"Host": "app.example.com"})
    assert response.text == "OFF"


def test_a_direct_call_with_a_browser_request_is_checked_too():
    # The defaults apply without the settings being read (a bare DummyRequest).
    request = testing.DummyRequest(headers=rebinding(6543))
    request.method = "POST"
    request.GET = {"body": "pwned"}
    assert probestatus.probe_status_view(request).status_int == 403
    assert probestatus.RESPONSE_BODY == "OK"


# --- log flooding ------------------------------------------------------------------


def test_the_missing_security_policy_is_logged_once_then_counted(caplog):
    app = make_plain_app(PROBE, settings={"probestatus.permission": "manage-probe"})
    for _ in range(50):
        app.post("/probe_status?body=OFF", status=403)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "no security policy" in errors[0]
    # At most once per interval, then with how many were left out.
    get_app_status(app.app.registry).guard.throttle.interval = 0.0
    app.post("/probe_status?body=OFF", status=403)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2
    assert errors[1].endswith("(49 more refused since the last error)")


def test_each_app_logs_its_own_error(caplog):
    apps = [make_plain_app(PROBE, settings={"probestatus.permission": "p"}) for _ in "ab"]
    for app in apps + apps:
        app.post("/probe_status", status=403)
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 2
