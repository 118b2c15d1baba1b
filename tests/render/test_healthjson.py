"""health+json: byte-for-byte tests of :mod:`.render.healthjson`."""
from __future__ import annotations

import json

import pytest

from lovely.ws.status import OK, RED, YELLOW
from lovely.ws.status.render.healthjson import (
    HEALTH_JSON_CONTENT_TYPE,
    render_health_json,
    service_version,
    version_text,
    wants_health_json,
)


def test_content_type():
    assert HEALTH_JSON_CONTENT_TYPE == "application/health+json"


def test_statuses_by_state():
    checks = [("db", {"state": OK, "detail": "3 ms"}, True),
              ("cache", {"state": YELLOW, "detail": "slow"}, True),
              ("mail", {"state": RED, "detail": "refused"}, True)]
    assert render_health_json(checks, RED) == (
        '{"status":"fail","checks":{'
        '"db":[{"status":"pass"}],'
        '"cache":[{"status":"warn","output":"slow"}],'
        '"mail":[{"status":"fail","output":"refused"}]}}'
    )


def test_no_checks():
    assert render_health_json([], OK) == '{"status":"pass","checks":{}}'


def test_without_details_no_output():
    checks = [("mail", {"state": RED, "detail": "refused"}, True)]
    assert render_health_json(checks, RED, details=False) == (
        '{"status":"fail","checks":{"mail":[{"status":"fail"}]}}'
    )


def test_empty_or_missing_detail_gives_no_output():
    checks = [("a", {"state": RED, "detail": ""}, True), ("b", {"state": RED}, True),
              ("c", {"state": RED, "detail": None}, True)]
    assert render_health_json(checks, RED) == (
        '{"status":"fail","checks":{"a":[{"status":"fail"}],"b":[{"status":"fail"}],'
        '"c":[{"status":"fail"}]}}'
    )


def test_non_critical_version_and_time():
    checks = [("mail", {"state": RED, "detail": 42}, False)]
    body = render_health_json(checks, YELLOW, version="2.4.0",
                              times={"mail": 1767323045.75, "other": 0.0})
    assert body == (
        '{"status":"warn","version":"2.4.0","checks":{"mail":[{"status":"fail",'
        '"time":"2026-01-02T03:04:05Z","critical":false,"output":"42"}]}}'
    )


def test_text_is_escaped_as_json():
    checks = [('say "hi"\n', {"state": RED, "detail": "a\u2028b</script>"}, True)]
    body = render_health_json(checks, RED)
    assert json.loads(body)["checks"] == {
        'say "hi"\n': [{"status": "fail", "output": "a\u2028b</script>"}]}


@pytest.mark.parametrize("accept, others, expected", [
    (None, (), False),
    ("", (), False),
    ("*/*", (), False),
    ("application/*", (), False),
    ("application/json", (), False),
    ("application/health+json", (), True),
    ("Application/Health+JSON", (), True),
    ("application/health+json;q=0", (), False),
    ("application/json, application/health+json", ("application/json",), True),
    ("application/json, application/health+json;q=0.5", ("application/json",), False),
    ("application/health+json;q=0.5, text/plain;q=0.4", ("text/plain",), True),
    ("application/health+json;q=0.5, text/plain", ("text/plain",), False),
    ("text/csv, application/health+json", ("application/json", "text/csv"), True),
    ("application/health+json;;;q=x", (), True),  # not a valid header: by its words
])
def test_wants_health_json(accept, others, expected):
    assert wants_health_json(accept, *others) is expected


@pytest.mark.parametrize("body, expected", [
    (b'{"version": "2.4.0", "commit": "abc"}', "2.4.0"),
    (b'{"version": 3}', "3"),
    (b'{"version": true}', None),
    (b'{"version": null}', None),
    (b'{"commit": "abc"}', None),
    (b'["2.4.0"]', None),
    (b"not json", None),
])
def test_version_text(body, expected):
    assert version_text(body) == expected


def test_service_version():
    assert service_version(None, object()) is None
    assert service_version(lambda request: b'{"version": "1"}', object()) == "1"

    def broken(request):
        raise OSError("gone")

    assert service_version(broken, object()) is None
