"""probe_status: the faithful contract of 1.0, input checks, settings, stores
through the view, and property tests for any ``body``."""
from __future__ import annotations

import os
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyramid import testing
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from webtest import TestApp

from lovely.ws.status import probestatus, stores
from lovely.ws.status.probestatus import probe_status_view

CONTENT_TYPE = "text/plain; charset=UTF-8"


@pytest.fixture(autouse=True)
def not_draining():
    stores.stop_draining()
    yield
    stores.stop_draining()


def make_app(settings=None, scan=False, route_prefix=None):
    config = Configurator(settings=settings or {})
    if route_prefix:
        with config.route_prefix_context(route_prefix):
            config.include("lovely.ws.status.probestatus")
    else:
        config.include("lovely.ws.status.probestatus")
    if scan:
        config.scan("lovely.ws.status.probestatus")
    return TestApp(config.make_wsgi_app())


def post(app, body=None, **kwargs):
    url = "/probe_status"
    if body is not None:
        url += "?body=" + quote(body, safe="")
    return app.post(url, **kwargs)


# --- the faithful contract --------------------------------------------------


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

    @pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE", "OPTIONS"])
    def test_other_methods_read(self, method):
        probe_status_view(self.request("POST", body="OFF"))
        response = probe_status_view(self.request(method, body="ignored"))
        assert response.status_int == 503
        assert response.text == "OFF"
        assert probestatus.RESPONSE_BODY == "OFF"

    def test_module_global_is_the_memory_store(self):
        probestatus.RESPONSE_BODY = "set by a test"
        response = probe_status_view(self.request())
        assert (response.status_int, response.text) == (503, "set by a test")
        assert probestatus.get_store(self.config.registry).get() == "set by a test"


@pytest.mark.parametrize("scan", [False, True], ids=["include", "include+scan"])
def test_include_and_scan(scan):
    app = make_app(scan=scan)
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
    config.include("lovely.ws.status.probestatus")
    config.scan("lovely.ws.status.probestatus")
    config.commit()
    views = [
        intr
        for intr in config.registry.introspector.get_category("views")
        if intr["introspectable"]["route_name"] == "probe_status"
    ]
    assert len(views) == 1


def test_memory_store_is_per_process_global():
    # Two apps in one process share the text, as in 1.0.
    first, second = make_app(), make_app()
    post(first, "OFF")
    assert second.get("/probe_status", status=503).text == "OFF"


# --- HTTP details -----------------------------------------------------------


def test_head_is_get_without_body():
    app = make_app()
    response = app.head("/probe_status")
    assert response.status_int == 200
    assert response.body == b""
    assert response.headers["Content-Length"] == "2"
    post(app, "OFF")
    response = app.head("/probe_status", status=503)
    assert response.body == b""
    assert response.headers["Content-Type"] == CONTENT_TYPE


def test_every_answer_is_no_store(tmp_path):
    app = make_app()
    answers = [
        app.get("/probe_status"),
        app.head("/probe_status"),
        post(app, "OFF"),
        app.get("/probe_status", status=503),
        post(app, "x" * 2000, status=400),
        app.post("/probe_status?body=%FF", status=400),
    ]
    for response in answers:
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Content-Type"] == CONTENT_TYPE


def test_body_in_form_is_ignored():
    # 1.0 reads the query string only; a form body does not count.
    app = make_app()
    response = app.post("/probe_status", {"body": "OFF"})
    assert response.text == "OK"
    assert app.get("/probe_status").status_int == 200


def test_empty_body_is_a_text():
    app = make_app()
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
    app = make_app()
    post(app, "before")
    response = post(app, body, status=400)
    assert "Bad Request" in response.text
    assert reason in response.text
    assert "unchanged" in response.text
    assert app.get("/probe_status", status=503).text == "before"


def test_longest_body_is_accepted():
    app = make_app()
    text = "é" * 1024
    assert post(app, text).text == text
    assert app.get("/probe_status", status=503).text == text


def test_query_that_is_not_utf8_is_400():
    app = make_app()
    response = app.post("/probe_status?body=%FF%FE", status=400)
    assert "UTF-8" in response.text
    assert app.get("/probe_status").text == "OK"


# --- settings ---------------------------------------------------------------


def test_settings_are_typed_and_written_back():
    config = Configurator(settings={"probestatus.drain_text": " BYE "})
    config.include("lovely.ws.status.probestatus")
    config.commit()
    settings = config.registry.settings
    assert settings["probestatus.store"] == "memory"
    assert settings["probestatus.permission"] is None
    assert settings["probestatus.allow_from"] == ()
    assert settings["probestatus.path"] == "/probe_status"
    assert settings["probestatus.drain_seconds"] == 0.0
    assert settings["probestatus.drain_text"] == "BYE"
    assert probestatus.get_store(config.registry) is probestatus.MEMORY_STORE


@pytest.mark.parametrize(
    "key, value, words",
    [
        ("probestatus.stor", "memory", "did you mean 'probestatus.store'"),
        ("probestatus.store", "ftp://example/x", "not a probe store"),
        ("probestatus.store", "/var/run/probe", "file:///var/run/probe"),
        ("probestatus.store", "file://relative/probe", "three slashes"),
        ("probestatus.store", "file:///no/such/directory/probe", "does not exist"),
        ("probestatus.store", "file:///tmp", "is a directory"),
        ("probestatus.store", "redis://127.0.0.1:notaport/0", "port"),
        ("probestatus.store", "redis://127.0.0.1:6379/zero", "database"),
        ("probestatus.store", "redis://127.0.0.1:6379/0?bogus=1", "unknown parameter"),
        ("probestatus.store", "redis://127.0.0.1:6379/0?timeout=-1", "timeout"),
        ("probestatus.allow_from", "10.0.0.0/8 not-a-network", "not-a-network"),
        ("probestatus.path", "health", "starting with '/'"),
        ("probestatus.path", "/he alth", "plain path"),
        ("probestatus.drain_seconds", "-1", "zero or a positive"),
        ("probestatus.drain_seconds", "soon", "number"),
        ("probestatus.drain_text", "OK", "not be empty or 'OK'"),
        ("probestatus.drain_text", "x" * 1025, "1025 characters"),
    ],
)
def test_bad_setting_is_a_configuration_error_naming_the_key(key, value, words):
    config = Configurator(settings={key: value})
    config.include("lovely.ws.status.probestatus")
    with pytest.raises(ConfigurationError) as info:
        config.commit()
    message = str(info.value)
    assert repr(key) in message
    assert words in message


def test_path_setting_moves_the_route():
    app = make_app({"probestatus.path": "/health"})
    assert app.get("/health").text == "OK"
    app.get("/probe_status", status=404)
    post_url = "/health?body=OFF"
    assert app.post(post_url).text == "OFF"
    assert app.get("/health", status=503).text == "OFF"


def test_route_prefix_applies():
    app = make_app(route_prefix="/ops")
    assert app.get("/ops/probe_status").text == "OK"
    app.get("/probe_status", status=404)


def test_file_store_through_the_view(tmp_path):
    path = tmp_path / "probe"
    app = make_app({"probestatus.store": f"file://{path}"})
    other = make_app({"probestatus.store": f"file://{path}"})
    assert app.get("/probe_status").text == "OK"
    assert not path.exists()
    post(app, "maintenance")
    assert path.read_text("utf-8") == "maintenance"
    assert other.get("/probe_status", status=503).text == "maintenance"
    # the memory store of this process is untouched
    assert probestatus.RESPONSE_BODY == "OK"
    post(other)
    assert app.get("/probe_status").text == "OK"


def test_file_store_unreadable_is_503_not_500(tmp_path, caplog):
    path = tmp_path / "probe"
    app = make_app({"probestatus.store": f"file://{path}"})
    path.mkdir()  # a directory where the file should be: reading fails
    response = app.get("/probe_status", status=503)
    assert response.text.startswith("probe store unavailable: cannot read the probe")
    assert any("cannot read the probe text" in r.getMessage() for r in caplog.records)
    os.rmdir(path)
    assert app.get("/probe_status").text == "OK"


# --- property tests ---------------------------------------------------------

BODIES = st.one_of(
    st.text(),
    st.text(min_size=1000, max_size=1100),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc"))),
)


def expected_outcome(body):
    ok = len(body) <= 1024 and not any(
        ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in body
    )
    return ok


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=BODIES)
def test_any_body_memory_store(body):
    probestatus.RESPONSE_BODY = "before"
    app = make_app()
    response = post(app, body, expect_errors=True)
    if expected_outcome(body):
        assert response.status_int == 200
        assert response.text == body
        expected = (200 if body == "OK" else 503, body)
    else:
        assert response.status_int == 400
        expected = (503, "before")
    after = app.get("/probe_status", expect_errors=True)
    assert (after.status_int, after.text) == expected
    assert after.headers["Cache-Control"] == "no-store"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])
@given(body=BODIES)
def test_any_body_file_store(tmp_path, body):
    path = tmp_path / "probe"
    app = make_app({"probestatus.store": f"file://{path}"})
    post(app, "before")
    response = post(app, body, expect_errors=True)
    if expected_outcome(body):
        assert response.status_int == 200
        expected = (200 if body == "OK" else 503, body)
    else:
        assert response.status_int == 400
        expected = (503, "before")
    # A second app reads the file fresh, the first one through its cache.
    for reader in (app, make_app({"probestatus.store": f"file://{path}"})):
        after = reader.get("/probe_status", expect_errors=True)
        assert (after.status_int, after.text) == expected


@given(text=st.text(max_size=1100))
def test_check_text_matches_the_rule(text):
    problem = stores.check_text(text)
    assert (problem is None) == expected_outcome(text)


def test_a_post_is_logged(caplog):
    import logging

    from pyramid.config import Configurator
    from webtest import TestApp

    config = Configurator()
    config.include("lovely.ws.status.probestatus")
    app = TestApp(config.make_wsgi_app())
    with caplog.at_level(logging.INFO, logger="lovely.ws.status"):
        app.post("/probe_status?body=OFF", extra_environ={"REMOTE_ADDR": "10.1.2.3"})
        app.get("/probe_status", status=503)
    assert [r.getMessage() for r in caplog.records] == [
        "probe_status set to 'OFF' by a POST from 10.1.2.3"
    ]
