"""``Accept: application/health+json`` on ``/livez``, ``/readyz`` and
``/startupz``: the IETF draft's format, byte for byte; 200 for pass and
warn, 503 for fail."""
from __future__ import annotations

import json
import re

import pytest

from lovely.ws.status import OK, RED, YELLOW

from ..helpers import fixed, make_app

HEALTH = "lovely.ws.status.health"
PROBE = "lovely.ws.status.probestatus"
DOCKERFLOW = "lovely.ws.status.dockerflow"
ASK = {"Accept": "application/health+json"}


def app_with(*handlers, includes=(HEALTH,), settings=None):
    def setup(config):
        for name, status, options in handlers:
            config.add_status_handler(name, fixed(**status), **options)

    return make_app(*includes, settings=settings, setup=setup)


def check_headers(response):
    assert response.headers["Content-Type"] == "application/health+json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Vary"] == "Accept"


def test_pass():
    app = app_with(("db", {"state": OK, "detail": "3 ms"}, {}))
    response = app.get("/readyz", headers=ASK, status=200)
    check_headers(response)
    assert response.body == b'{"status":"pass","checks":{"db":[{"status":"pass"}]}}'


def test_warn_is_200():
    app = app_with(("db", {"state": YELLOW, "detail": "slow"}, {}),
                   ("mail", {"state": RED, "detail": "refused"}, {"critical": False}))
    response = app.get("/readyz", headers=ASK, status=200)
    assert response.body == (
        b'{"status":"warn","checks":{"db":[{"status":"warn"}],'
        b'"mail":[{"status":"fail","critical":false}]}}')


def test_fail_is_503_and_output_only_with_details():
    handlers = [("db", {"state": RED, "detail": "refused"}, {})]
    response = app_with(*handlers).get("/readyz", headers=ASK, status=503)
    check_headers(response)
    assert response.body == b'{"status":"fail","checks":{"db":[{"status":"fail"}]}}'
    app = app_with(*handlers, settings={"health.show_details": "always"})
    body = app.get("/readyz", headers=ASK, status=503).body
    assert re.fullmatch(
        rb'\{"status":"fail","checks":\{"db":\[\{"status":"fail",'
        rb'"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ","output":"refused"\}\]\}\}', body)


def test_excluded_members_are_left_out():
    app = app_with(("db", {"state": RED}, {}), ("cache", {"state": OK}, {}))
    assert app.get("/readyz?exclude=db&exclude=nope", headers=ASK).body == (
        b'{"status":"pass","checks":{"cache":[{"status":"pass"}]}}')


def test_the_probe_is_a_check_of_readyz_not_of_livez():
    app = app_with(("ping", {"state": OK}, {"groups": ["liveness", "readiness"]}),
                   includes=(HEALTH, PROBE))
    app.post("/probe_status?body=deploying")
    assert app.get("/readyz", headers=ASK, status=503).body == (
        b'{"status":"fail","checks":{"ping":[{"status":"pass"}],'
        b'"probe_status":[{"status":"fail"}]}}')
    assert app.get("/livez", headers=ASK).body == (
        b'{"status":"pass","checks":{"ping":[{"status":"pass"}]}}')


def test_one_member():
    app = app_with(("db", {"state": RED}, {}), ("cache", {"state": OK}, {}))
    assert app.get("/readyz/cache", headers=ASK).body == (
        b'{"status":"pass","checks":{"cache":[{"status":"pass"}]}}')
    assert app.get("/readyz/db", headers=ASK, status=503).body == (
        b'{"status":"fail","checks":{"db":[{"status":"fail"}]}}')
    # Not a member: the Kubernetes 404, whatever was asked for.
    assert app.get("/livez/db", headers=ASK, status=404).body == b"404 page not found\n"


def test_the_version_from_dockerflow(tmp_path):
    version = tmp_path / "version.json"
    version.write_text(json.dumps({"source": "s", "version": "2.4.0", "commit": "c",
                                   "build": "b"}))
    app = app_with(includes=(HEALTH, DOCKERFLOW),
                   settings={"dockerflow.version_file": str(version)})
    assert app.get("/livez", headers=ASK).body == (
        b'{"status":"pass","version":"2.4.0","checks":{}}')
    version.unlink()  # /__version__ answers 404: no version here either
    assert app.get("/livez", headers=ASK).body == b'{"status":"pass","checks":{}}'


@pytest.mark.parametrize("accept", [None, "*/*", "text/plain", "application/json",
                                    "application/health+json;q=0.5, text/plain"])
def test_other_accept_headers_get_the_kubernetes_text(accept):
    app = app_with(("db", {"state": OK}, {}))
    headers = {} if accept is None else {"Accept": accept}
    response = app.get("/readyz", headers=headers)
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.body == b"ok"
