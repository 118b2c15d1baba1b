"""What a real browser (Debian's chromium via Playwright) can do to the
probe from a web page: nothing, whether the page is another site's or a
DNS-rebinding one's, locked probe or not; a page of the app itself under an
IP address or a name of ``probestatus.allowed_hosts`` can."""
from __future__ import annotations

import pytest
from pyramid.config import Configurator
from pyramid.events import NewResponse
from pyramid.response import Response

from lovely.ws.status import probestatus

from ..helpers import wait_until
from ..servers import chromium, serve_wsgi

pytestmark = pytest.mark.server


PROBE = "lovely.ws.status.probestatus"
# Names the browser resolves to this machine, as an attacker's DNS server
# would answer for a rebinding name.
REBIND = "rebind.attacker.example"
EVIL = "evil.example"
OPS = "ops.example"


@pytest.fixture(scope="module")
def browser():
    # The browser resolves these names to this machine, as an attacker's
    # DNS server would for a rebinding name.
    with chromium(f"--host-resolver-rules=MAP {REBIND} 127.0.0.1, "
                  f"MAP {EVIL} 127.0.0.1, MAP {OPS} 127.0.0.1") as browser:
        yield browser


@pytest.fixture
def page(browser):
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()


class Served:
    """The app on a loopback port, and the probe POSTs it answered."""

    def __init__(self, base):
        self.base = base
        self.port = int(base.rsplit(":", 1)[1])
        self.posts = []

    def url(self, host, path="/page"):
        return f"http://{host}:{self.port}{path}"


def serve(settings):
    config = Configurator(settings=settings)
    config.include(PROBE)
    # Any page of the origin: what the attacker's server served before the
    # name was rebound, or a page of the app itself.
    config.add_route("page", "/page")
    config.add_view(lambda request: Response("<!doctype html><title>page</title>"),
                    route_name="page")
    served = []

    def record(event):
        request = event.request
        if request.method == "POST" and request.path == "/probe_status":
            served.append((event.response.status_int, dict(request.headers)))

    config.add_subscriber(record, NewResponse)
    return serve_wsgi(config.make_wsgi_app()), served


FETCH = """async ([url, mode]) => {
    const response = await fetch(url, {method: "POST", mode: mode});
    return response.type === "opaque" ? [0, ""] : [response.status, await response.text()];
}"""


def post_from(page, served, page_url, target):
    """POST ``target`` by fetch() from a page at ``page_url``; (status, text,
    request headers as the server got them)."""
    page.goto(page_url)
    cross = not target.startswith(page_url.rsplit("/", 1)[0])
    before = len(served)
    status, text = page.evaluate(FETCH, [target, "no-cors" if cross else "same-origin"])
    wait_until(lambda: len(served) > before, "the POST reached the app")
    got, headers = served[-1]
    if cross:  # the browser does not let the page read the answer
        status = got
    assert status == got
    return status, text, headers


@pytest.mark.parametrize("settings", [{}, {"probestatus.allow_from": "127.0.0.1"}],
                         ids=["unlocked", "allow_from"])
def test_a_dns_rebinding_page_cannot_change_the_probe(page, settings):
    server, served = serve(settings)
    with server as base:
        app = Served(base)
        status, text, headers = post_from(
            page, served, app.url(REBIND), app.url(REBIND, "/probe_status?body=pwned")
        )
        # One origin for the browser, as the attack intends: the Origin is
        # the Host (an http: page gets no Sec-Fetch-* headers).
        assert headers["Host"] == f"{REBIND}:{app.port}"
        assert headers["Origin"] == f"http://{REBIND}:{app.port}"
        assert status == 403, text
        assert REBIND in text and "allowed_hosts" in text
        assert probestatus.RESPONSE_BODY == "OK"


@pytest.mark.parametrize("settings", [{}, {"probestatus.allow_from": "127.0.0.1"}],
                         ids=["unlocked", "allow_from"])
def test_another_site_cannot_change_the_probe(page, settings):
    server, served = serve(settings)
    with server as base:
        app = Served(base)
        status, _, headers = post_from(
            page, served, app.url(EVIL), app.url("127.0.0.1", "/probe_status?body=pwned")
        )
        assert headers.get("Sec-Fetch-Site") == "cross-site"
        assert status == 403
        assert probestatus.RESPONSE_BODY == "OK"


def test_pages_of_the_app_itself_can(page):
    server, served = serve({"probestatus.allowed_hosts": OPS})
    with server as base:
        app = Served(base)
        status, text, _ = post_from(
            page, served, app.url("127.0.0.1"), app.url("127.0.0.1", "/probe_status?body=A")
        )
        assert (status, text) == (200, "A")
        status, text, _ = post_from(
            page, served, app.url(OPS), app.url(OPS, "/probe_status?body=B")
        )
        assert (status, text) == (200, "B")
        assert probestatus.RESPONSE_BODY == "B"


def test_refuse_cross_site_false_is_1_0(page):
    server, served = serve({"probestatus.refuse_cross_site": "false"})
    with server as base:
        app = Served(base)
        status, _, _ = post_from(
            page, served, app.url(EVIL), app.url("127.0.0.1", "/probe_status?body=X")
        )
        assert status == 200
        assert probestatus.RESPONSE_BODY == "X"
        status, text, _ = post_from(
            page, served, app.url(REBIND), app.url(REBIND, "/probe_status?body=Y")
        )
        assert (status, text) == (200, "Y")
