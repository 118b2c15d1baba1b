"""A state in any case, or ``GREEN``, is the state it names: every format
shows the canonical spelling."""
from __future__ import annotations

import enum
import re

import pytest

from lovely.ws.status import OK, RED, YELLOW
from lovely.ws.status.states import checked

from ..helpers import fixed, make_app

SPELLINGS = {
    "a-green": ("GREEN", OK),
    "b-green-lower": ("green", OK),
    "c-ok-lower": ("ok", OK),
    "d-ok-title": ("Ok", OK),
    "e-yellow-lower": ("yellow", YELLOW),
    "f-red-title": ("Red", RED),
    "g-red-mixed": ("rEd", RED),
}


class Colour(str, enum.Enum):
    GREEN = "green"


@pytest.mark.parametrize("given, canonical", list(SPELLINGS.values()))
def test_checked_gives_a_copy_with_the_canonical_state(given, canonical):
    result = {"state": given, "detail": "d", "labels": {"n": 1}}
    status = checked(result)
    assert status == {"state": canonical, "detail": "d", "labels": {"n": 1}}
    assert type(status["state"]) is str
    assert result["state"] == given  # the handler's own dict is left alone


def test_a_canonical_state_is_passed_through_as_is():
    result = {"state": OK}
    assert checked(result) is result


def test_a_str_subclass_alias_becomes_plain_text():
    assert checked({"state": Colour.GREEN}) == {"state": OK}
    assert type(checked({"state": Colour.GREEN})["state"]) is str


@pytest.mark.parametrize("state", [
    "GREENISH", "o k", " OK", "OK\n", "ОК",  # the last in Cyrillic letters
    "BLUE", "", "green\x00",
])
def test_near_misses_stay_invalid(state):
    assert checked({"state": state}) == {
        "state": RED,
        "detail": f"invalid status: state {state!r} is not one of OK, YELLOW, RED",
    }


@pytest.fixture(params=["true", "false"], ids=["concurrent", "serial"])
def app(request):
    def setup(config):
        for name, (given, _) in SPELLINGS.items():
            config.add_status_handler(name, fixed(state=given, detail=given))

    return make_app("lovely.ws.status.svcstatus", "lovely.ws.status.dockerflow",
                    settings={"svcstatus.concurrent": request.param}, setup=setup)


def test_csv_shows_the_canonical_state(app):
    assert app.get("/svc_status").text == "\n".join(
        f"{name}\t{canonical}\t{given}" for name, (given, canonical) in SPELLINGS.items()
    )


def test_json_shows_the_canonical_state(app):
    assert app.get("/svc_status.json").json == {
        name: {"state": canonical, "detail": given}
        for name, (given, canonical) in SPELLINGS.items()
    }


def test_prometheus_shows_the_value_of_the_canonical_state(app):
    lines = app.get("/svc_status.prometheus").text.splitlines()
    values = {OK: 0, YELLOW: 1, RED: 2}
    samples = [line for line in lines if line.startswith("svc_status{")]
    assert samples == [
        f'svc_status{{name="{name}"}} {values[canonical]}'
        for name, (_, canonical) in SPELLINGS.items()
    ]


def test_html_shows_the_canonical_state(app):
    rows = re.findall(
        r'<tr class="(\w+)" data-state="(\w+)"><td class="name">([^<]*)</td>'
        r'<td class="state">(\w+)</td><td class="detail">([^<]*)</td>',
        app.get("/svc_status.html").text,
    )
    assert rows == [
        (canonical, canonical, name, canonical, given)
        for name, (given, canonical) in SPELLINGS.items()
    ]


def test_heartbeat_counts_the_canonical_state(app):
    body = app.get("/__heartbeat__", status=500).json
    expected = {OK: "ok", YELLOW: "warning", RED: "error"}
    assert body["checks"] == {
        name: expected[canonical] for name, (_, canonical) in SPELLINGS.items()
    }
