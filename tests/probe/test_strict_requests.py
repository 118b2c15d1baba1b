"""What a request to ``/probe_status`` may carry: a ``POST`` with a request
body or a query parameter other than ``body`` is refused with 400 (1.0 put
the instance back in service), other methods than ``GET``, ``HEAD`` and
``POST`` get 405; ``probestatus.strict_requests = false`` is 1.0's
leniency."""
from __future__ import annotations

import io

import pytest
from pyramid import testing
from webob import Request

from lovely.ws.status import probestatus
from lovely.ws.status.probestatus import probe_status_view

from ..helpers import make_app

PROBE = "lovely.ws.status.probestatus"
LENIENT = {"probestatus.strict_requests": "false"}


def decommissioned(settings=None):
    app = make_app(PROBE, settings=settings)
    assert app.post("/probe_status?body=DECOMM").text == "DECOMM"
    return app


def assert_still_decommissioned(app):
    assert app.get("/probe_status", status=503).text == "DECOMM"
    assert probestatus.RESPONSE_BODY == "DECOMM"


@pytest.mark.parametrize(
    "url, words",
    [
        ("/probe_status?Body=DECOMM", "unknown query parameter 'Body'"),
        ("/probe_status?body=OFF&force=1", "unknown query parameter 'force'"),
        ("/probe_status?bdy=OFF", "unknown query parameter 'bdy'"),
        ("/probe_status?body=A&body=B", "given more than once"),
    ],
)
def test_unknown_query_parameters_are_400(url, words):
    app = decommissioned()
    response = app.post(url, status=400)
    assert words in response.text
    assert "the probe is unchanged" in response.text
    assert_still_decommissioned(app)


def test_a_form_body_is_400():
    app = decommissioned()
    response = app.post("/probe_status", {"body": "OFF"}, status=400)
    assert "the probe takes no request body" in response.text
    assert_still_decommissioned(app)


def test_a_multipart_body_is_400():
    app = decommissioned()
    app.post("/probe_status", upload_files=[("body", "body.txt", b"OFF")], status=400)
    assert_still_decommissioned(app)


@pytest.mark.parametrize(
    "body, content_type",
    [(b"OFF", "text/plain"), (b'{"body": "OFF"}', "application/json"), (b"x", "")],
)
def test_any_other_body_is_400(body, content_type):
    app = decommissioned()
    app.post("/probe_status?body=OFF", body, content_type=content_type or None, status=400)
    assert_still_decommissioned(app)


def test_a_chunked_body_is_400_and_an_empty_one_is_not():
    # As gunicorn passes a chunked request on: no Content-Length.
    app = decommissioned()

    def chunked(data):
        request = Request.blank("/probe_status?body=NEW", method="POST")
        request.environ.pop("CONTENT_LENGTH", None)
        request.environ["HTTP_TRANSFER_ENCODING"] = "chunked"
        request.environ["wsgi.input"] = io.BytesIO(data)
        return request.get_response(app.app)

    assert chunked(b"x").status_int == 400
    assert_still_decommissioned(app)
    assert chunked(b"").text == "NEW"


def test_bare_post_and_post_with_body_are_as_in_1_0():
    app = decommissioned()
    # No Content-Length at all (curl -X POST), and Content-Length: 0.
    response = app.post("/probe_status", extra_environ={"CONTENT_LENGTH": ""})
    assert (response.status_int, response.text) == (200, "OK")
    assert app.post("/probe_status?body=again").text == "again"
    assert app.post("/probe_status?body=").text == ""
    assert app.post("/probe_status", "", content_type="application/x-www-form-urlencoded",
                    ).text == "OK"


@pytest.mark.parametrize("method", ["put", "delete", "options", "patch"])
def test_other_methods_are_405_with_allow(method):
    app = decommissioned()
    response = getattr(app, method)("/probe_status?body=OK", status=405)
    assert response.headers["Allow"] == "GET, HEAD, POST"
    assert response.headers["Content-Type"] == "text/plain; charset=UTF-8"
    assert method.upper() in response.text
    assert_still_decommissioned(app)


def test_a_method_of_its_own_is_405():
    app = decommissioned()
    response = Request.blank("/probe_status", method="PROPFIND").get_response(app.app)
    assert response.status_int == 405
    assert response.headers["Allow"] == "GET, HEAD, POST"
    assert_still_decommissioned(app)


def test_lenient_setting_is_1_0():
    app = decommissioned(LENIENT)
    # 1.0: a form body and unknown parameters are ignored, the text is OK.
    assert app.post("/probe_status?Body=DECOMM").text == "OK"
    app.post("/probe_status?body=DECOMM")
    assert app.post("/probe_status", {"body": "OFF"}).text == "OK"
    app.post("/probe_status?body=DECOMM")
    # 1.0: every method but POST reads.
    assert app.put("/probe_status?body=OK", status=503).text == "DECOMM"
    assert app.delete("/probe_status", status=503).text == "DECOMM"
    app.post("/probe_status")
    assert app.options("/probe_status").text == "OK"


class TestDummyRequest:
    """1.0's own tests call the view with a DummyRequest, method and GET set."""

    def setup_method(self):
        self.config = testing.setUp()

    def teardown_method(self):
        testing.tearDown()

    def request(self, method, **query):
        request = testing.DummyRequest()
        request.method = method
        request.GET = dict(query)
        return request

    def test_post_with_and_without_body(self):
        assert probe_status_view(self.request("POST", body="OFF")).text == "OFF"
        assert probe_status_view(self.request("GET")).status_int == 503
        assert probe_status_view(self.request("POST")).text == "OK"

    def test_an_unknown_parameter_is_400(self):
        response = probe_status_view(self.request("POST", Body="OFF"))
        assert response.status_int == 400
        assert probestatus.RESPONSE_BODY == "OK"

    def test_a_body_in_the_environ_is_400(self):
        request = self.request("POST", body="OFF")
        request.environ["CONTENT_LENGTH"] = "8"
        assert probe_status_view(request).status_int == 400
        assert probestatus.RESPONSE_BODY == "OK"

    def test_lenient_when_the_app_says_so(self):
        testing.tearDown()
        self.config = testing.setUp(settings=LENIENT)
        self.config.include(PROBE)
        self.config.commit()
        assert probe_status_view(self.request("POST", Body="OFF")).text == "OK"
        probe_status_view(self.request("POST", body="OFF"))
        response = probe_status_view(self.request("PUT"))
        assert (response.status_int, response.text) == (503, "OFF")
