"""``/probe_status``: 1.0's contract (direct calls with a ``DummyRequest``,
include and scan, ``GET``/``POST``/503), HTTP details, the checks of a
``body`` and property tests for any ``body``."""
from __future__ import annotations

import logging
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyramid import testing
from pyramid.config import Configurator

from lovely.ws.status import probestatus
from lovely.ws.status.probe.store import MAX_TEXT_LENGTH, check_text
from lovely.ws.status.probestatus import probe_status_view

from ..helpers import make_app

PROBE = "lovely.ws.status.probestatus"
CONTENT_TYPE = "text/plain; charset=UTF-8"


def probe_app(settings=None, scan=False):
    return make_app(PROBE, settings=settings, scan=[PROBE] if scan else ())


def post(app, body=None, **kwargs):
    url = "/probe_status"
    if body is not None:
        url += "?body=" + quote(body, safe="")
    return app.post(url, **kwargs)


# --- 1.0's contract -----------------------------------------------------------


class TestDirectCall:
    """probe_status_view called with a DummyRequest, as 1.0's tests do."""

    def setup_method(self):
        self.config = testing.setUp()

    def teardown_method(self):
        testing.tearDown()

    def request(self, method="GET", **query):
        request = testing.DummyRequest()
        request.method = method
        request.GET = dict(query)
        return request

    def test_ok_at_start(self):
        response = probe_status_view(self.request())
        assert response.status_int == 200
        assert response.text == "OK"
        assert response.headers["Content-Type"] == CONTENT_TYPE

    def test_post_sets_the_text_and_answers_200(self):
        response = probe_status_view(self.request("POST", body="going away"))
        assert response.status_int == 200
        assert response.text == "going away"
        assert probestatus.RESPONSE_BODY == "going away"
        response = probe_status_view(self.request())
        assert response.status_int == 503
        assert response.text == "going away"

    def test_post_without_body_is_ok_again(self):
        probe_status_view(self.request("POST", body="OFF"))
        response = probe_status_view(self.request("POST"))
        assert response.status_int == 200
        assert response.text == "OK"
        assert probe_status_view(self.request()).status_int == 200

    @pytest.mark.parametrize("method", ["GET", "HEAD"])
    def test_reads_ignore_the_query(self, method):
        probe_status_view(self.request("POST", body="OFF"))
        response = probe_status_view(self.request(method, body="ignored"))
        assert response.status_int == 503
        assert response.text == "OFF"
        assert probestatus.RESPONSE_BODY == "OFF"

    @pytest.mark.parametrize("method", ["PUT", "DELETE", "OPTIONS", "PATCH"])
    def test_other_methods_are_not_allowed(self, method):
        # 1.0 answered them as reads; 2.0 changes this on purpose.
        probe_status_view(self.request("POST", body="OFF"))
        response = probe_status_view(self.request(method, body="ignored"))
        assert response.status_int == 405
        assert response.headers["Allow"] == "GET, HEAD, POST"
        assert probestatus.RESPONSE_BODY == "OFF"

    def test_module_global_is_the_memory_store(self):
        probestatus.RESPONSE_BODY = "set by a test"
        response = probe_status_view(self.request())
        assert (response.status_int, response.text) == (503, "set by a test")
        assert probestatus.get_store(self.config.registry).get() == "set by a test"


@pytest.mark.parametrize("scan", [False, True], ids=["include", "include+scan"])
def test_include_and_scan(scan):
    app = probe_app(scan=scan)
    response = app.get("/probe_status")
    assert (response.status_int, response.text) == (200, "OK")
    assert response.headers["Content-Type"] == CONTENT_TYPE
    response = post(app, "OFF")
    assert (response.status_int, response.text) == (200, "OFF")
    response = app.get("/probe_status", status=503)
    assert response.text == "OFF"
    assert post(app).text == "OK"
    assert app.get("/probe_status").text == "OK"


def test_scan_registers_no_second_view():
    config = Configurator()
    config.include(PROBE)
    config.scan(PROBE)
    config.commit()
    views = [
        intr
        for intr in config.registry.introspector.get_category("views")
        if intr["introspectable"]["route_name"] == "probe_status"
    ]
    assert len(views) == 1


def test_memory_store_is_per_process_global():
    # Two apps in one process share the text, as in 1.0.
    first, second = probe_app(), probe_app()
    post(first, "OFF")
    assert second.get("/probe_status", status=503).text == "OFF"


def test_default_store_is_the_memory_store():
    config = Configurator()
    config.include(PROBE)
    config.commit()
    store = probestatus.get_store(config.registry)
    assert isinstance(store, probestatus.MemoryStore)
    store.set("from the store")
    assert probestatus.RESPONSE_BODY == "from the store"


def test_memory_store_refuses_bad_text():
    store = probestatus.store_from_url("memory")
    with pytest.raises(ValueError, match="control character"):
        store.set("a\nb")
    assert probestatus.RESPONSE_BODY == "OK"


# --- HTTP details -------------------------------------------------------------


def test_head_is_get_without_body():
    app = probe_app()
    response = app.head("/probe_status")
    assert response.status_int == 200
    assert response.body == b""
    assert response.headers["Content-Length"] == "2"
    post(app, "OFF")
    response = app.head("/probe_status", status=503)
    assert response.body == b""
    assert response.headers["Content-Type"] == CONTENT_TYPE


def test_every_answer_is_no_store_and_nosniff():
    app = probe_app()
    answers = [
        app.get("/probe_status"),
        app.head("/probe_status"),
        post(app, "OFF"),
        app.get("/probe_status", status=503),
        post(app, "x" * 2000, status=400),
        app.post("/probe_status?body=%FF", status=400),
        app.post("/probe_status?Body=OFF", status=400),
        app.put("/probe_status", status=405),
        app.post("/probe_status", headers={"Origin": "https://evil.example"}, status=403),
    ]
    for response in answers:
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Type"] == CONTENT_TYPE


def test_headers_set_by_the_app_on_request_response_survive():
    # The other way to answer: the app has been at request.response.
    def stamp(event):
        event.request.response.headers["X-Instance"] = "web-1"

    from pyramid.events import NewRequest

    app = make_app(PROBE, setup=lambda config: config.add_subscriber(stamp, NewRequest))
    for response in (app.get("/probe_status"), app.put("/probe_status", status=405)):
        assert response.headers["X-Instance"] == "web-1"
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_empty_body_is_a_text():
    app = probe_app()
    assert app.post("/probe_status?body=").text == ""
    response = app.get("/probe_status", status=503)
    assert response.body == b""


@pytest.mark.parametrize(
    "body, reason",
    [
        ("x" * 1025, "1025 characters"),
        ("OFF\n", "U+000A"),
        ("a\tb", "U+0009"),
        ("\x00", "U+0000"),
        ("del\x7f", "U+007F"),
        ("c1\x85", "U+0085"),
    ],
)
def test_bad_body_is_400_and_changes_nothing(body, reason):
    app = probe_app()
    post(app, "before")
    response = post(app, body, status=400)
    assert "Bad Request" in response.text
    assert reason in response.text
    assert "unchanged" in response.text
    assert app.get("/probe_status", status=503).text == "before"


def test_longest_body_is_accepted():
    app = probe_app()
    text = "é" * MAX_TEXT_LENGTH
    assert post(app, text).text == text
    assert app.get("/probe_status", status=503).text == text


def test_query_that_is_not_utf8_is_400():
    app = probe_app()
    response = app.post("/probe_status?body=%FF%FE", status=400)
    assert "UTF-8" in response.text
    assert app.get("/probe_status").text == "OK"


def test_a_post_is_logged(caplog):
    app = probe_app()
    with caplog.at_level(logging.INFO, logger="lovely.ws.status"):
        app.post("/probe_status?body=OFF", extra_environ={"REMOTE_ADDR": "10.1.2.3"})
        app.get("/probe_status", status=503)
    assert [r.getMessage() for r in caplog.records] == [
        "probe_status set to 'OFF' by a POST from 10.1.2.3"
    ]


# --- property tests -----------------------------------------------------------

BODIES = st.one_of(
    st.text(),
    st.text(min_size=1000, max_size=1100),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc"))),
)


def acceptable(body):
    """The rule of a probe text, written out independently of the package."""
    return len(body) <= 1024 and not any(
        ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in body
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=BODIES)
def test_any_body_memory_store(body):
    probestatus.RESPONSE_BODY = "before"
    app = probe_app()
    response = post(app, body, expect_errors=True)
    if acceptable(body):
        assert response.status_int == 200
        assert response.text == body
        expected = (200 if body == "OK" else 503, body)
    else:
        assert response.status_int == 400
        expected = (503, "before")
    after = app.get("/probe_status", expect_errors=True)
    assert (after.status_int, after.text) == expected
    assert after.headers["Cache-Control"] == "no-store"


@given(text=st.text(max_size=1100))
def test_check_text_matches_the_rule(text):
    assert (check_text(text) is None) == acceptable(text)
